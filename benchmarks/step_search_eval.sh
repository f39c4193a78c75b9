#!/usr/bin/env bash
# Issue 27's measurements, one stage per call; every stage stores what it makes as it
# goes, so running a stage again resumes it. The sets are named in docs/evaluation.md
# ("Evaluation sets of issue 27") and the settings are the defaults or were chosen on
# training data (the prompt study, benchmarks/prompt_study.py), never on these sets.
#
#   bash benchmarks/step_search_eval.sh train          # the rollout-labelled step verifier
#   bash benchmarks/step_search_eval.sh arith-samples  # best-of-N family, seed 31708
#   bash benchmarks/step_search_eval.sh arith-search grounded
#   bash benchmarks/step_search_eval.sh arith-search step-verifier
#   bash benchmarks/step_search_eval.sh gsm8k-samples
#   bash benchmarks/step_search_eval.sh gsm8k-search grounded
set -euo pipefail
cd "$(dirname "$0")/.."
TTC=${TTC:-.venv/bin/ttc-graph}
OUT=${OUT:-runs/i27}
T=256            # tokens per whole solution (most samples of the training seed finish)
STEP=64          # step search: at most 64 tokens a step ...
STEPS=4          # ... and 4 steps: the same 256 tokens per solution
# bfloat16: 1.5x faster on this AMX CPU; its samples depend on which rows share a batch
# (docs/reliability.md), so a rerun from scratch may differ in a few tokens.
RUN=(--dtype bfloat16 --concurrency 4)
ARITH=(--dataset arithmetic --difficulty 2,3 --data-seed 31708 --limit "${ARITH_LIMIT:-40}")
GSM_LINES=$(python3 -c "import json; print(*json.load(open('benchmarks/splits.json'))['gsm8k_train_500.jsonl']['evaluation_lines'])")
GSM="$OUT/gsm8k-eval.jsonl"
verifier() {
    case "$1" in
        grounded) echo grounded ;;
        step-verifier) echo "$OUT/step-verifier" ;;
        *) echo "unknown verifier $1 (grounded | step-verifier)" >&2; exit 2 ;;
    esac
}
gsm_file() {
    # Every evaluation line, always: the file's hash is part of the configuration, so
    # a larger GSM_LIMIT (--limit) resumes the same run instead of starting a new one.
    # (The first, 20-line run of 2026-12-05 wrote only its lines: its own config.)
    mkdir -p "$OUT"
    read -r first last <<<"$GSM_LINES"
    sed -n "${first},${last}p" ../shared/data/gsm8k_train_500.jsonl >"$GSM"
}
GSM_RUN=(--dataset "$GSM" --limit "${GSM_LIMIT:-100}")
case "${1:-}" in
    train)
        # Training seed 100 only; rollouts from every step prefix of 8 samples each.
        $TTC train-verifier --dataset arithmetic --difficulty 2,3 --data-seed 100 --limit 32 \
            --n 8 --max-new-tokens $T --labels rollouts --rollouts 4 --rollout-tokens 160 \
            "${RUN[@]}" --out "$OUT/step-verifier" ;;
    arith-samples)
        $TTC eval "${ARITH[@]}" --strategies majority,weighted,coverage --n 4,8,16 \
            --max-new-tokens $T --verifier grounded "${RUN[@]}" --out "$OUT/arith-samples" ;;
    arith-search)
        $TTC eval "${ARITH[@]}" --strategies beam_search,particle_filter --n 4,8,16 \
            --max-new-tokens $STEP --max-steps $STEPS --verifier "$(verifier "$2")" \
            "${RUN[@]}" --out "$OUT/arith-search-$2" ;;
    gsm8k-samples)
        gsm_file
        $TTC eval "${GSM_RUN[@]}" --strategies majority,weighted,coverage --n 4,16 \
            --max-new-tokens $T --verifier grounded "${RUN[@]}" --out "$OUT/gsm8k-samples" ;;
    gsm8k-search)
        gsm_file
        $TTC eval "${GSM_RUN[@]}" --strategies particle_filter,beam_search --n 16 \
            --max-new-tokens $STEP --max-steps $STEPS --verifier "$(verifier "$2")" \
            "${RUN[@]}" --out "$OUT/gsm8k-search-$2" ;;
    *)
        sed -n '2,12p' "$0"; exit 2 ;;
esac
