"""The vLLM environment of the real-vLLM tests (``make test-vllm``; ``scripts/setup-vllm.sh``
makes ``.venv-vllm``): its interpreter, and running a test file inside it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]

VLLM_PYTHON = Path(
    os.environ.get("TTC_GRAPH_VLLM_PYTHON") or REPO_ROOT / ".venv-vllm" / "bin" / "python"
)
"""The interpreter of the vLLM environment that ``scripts/setup-vllm.sh`` makes."""


def vllm_python() -> Path:
    """:data:`VLLM_PYTHON`, for the real-vLLM tests; they never pass without vLLM.

    They are skipped, with the reason in the ``-ra`` summary, only when the vLLM
    set-up was turned off on purpose (``TTC_GRAPH_SKIP_VLLM=1``). Without that, a
    missing environment fails the test and says how to make it.
    """
    if os.environ.get("TTC_GRAPH_SKIP_VLLM") == "1":
        pytest.skip("real-vLLM tests turned off: TTC_GRAPH_SKIP_VLLM=1")
    if not VLLM_PYTHON.is_file():
        pytest.fail(
            f"No vLLM environment at {VLLM_PYTHON}: run scripts/setup-vllm.sh (make test-vllm "
            "does), or set TTC_GRAPH_SKIP_VLLM=1 to skip the real-vLLM tests."
        )
    return VLLM_PYTHON


def run_in_vllm_env(test_file: str, *, at_least: int, timeout_s: int) -> None:
    """Run ``test_file`` with the vLLM environment's pytest, importing this checkout
    (``PYTHONPATH``), and check it passed at least ``at_least`` tests: the tests that
    need vLLM in process are skipped here and run there."""
    here = Path(test_file)
    proc = subprocess.run(
        [str(vllm_python()), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(here)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    tail = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    passed = re.search(r"(\d+) passed", proc.stdout)
    assert passed, tail
    assert int(passed.group(1)) >= at_least, tail
