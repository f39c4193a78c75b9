"""Shared fixtures: one embedded policy per test session, offline hub; the test tiers.

Tests that load a real model (every test using the ``policy`` fixture, and those
marked ``model``) or start a Python process (marked ``subprocess``) are left out
of ``make test-fast``. A test outside those tiers that tries either fails at once
with a message saying which marker it needs, so the fast tier stays fast.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# No model hub here: fail fast instead of retrying for half a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Under pytest-xdist (``make test`` runs ``-n auto``) every worker is a process on
# the same cores: each gets its share of torch threads, and the processes the tests
# start inherit it. All workers on all cores thrash and run slower than one.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def policy():  # type: ignore[no-untyped-def]
    """The embedded SmolLM2-135M-Instruct policy, loaded once for the whole session."""
    from ttc_graph import load_policy

    return load_policy(device="cpu")


@pytest.fixture(scope="session")
def policy_fp32():  # type: ignore[no-untyped-def]
    """The embedded policy in float32, for tests of numerical equivalence (batched against
    alone): ``policy`` runs in bfloat16 on CPUs with native bf16, where batching and
    padding change the last digits of a forward pass."""
    from ttc_graph import load_policy

    return load_policy(device="cpu", dtype="float32")


SHARED_FILES = ("math500.jsonl", "gsm8k_train_500.jsonl")
"""What the tests read from ``../shared/data`` (where it comes from: README, "Test and
benchmark data")."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repo (MATH-500, GSM8K).

    When a file is missing the test is skipped with a reason naming the path;
    ``-ra`` (in the pytest options) lists every such reason at the end of the run.
    """
    missing = [name for name in SHARED_FILES if not (SHARED_DATA / name).is_file()]
    if missing:
        pytest.skip(
            f"shared data missing: {', '.join(str(SHARED_DATA / n) for n in missing)} "
            "(MATH-500 and GSM8K beside the repository; see the README, "
            "'Test and benchmark data')"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def artifacts_dir() -> Iterator[Path]:
    """Where tests leave files worth looking at (screenshots, plots)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


VLLM_PYTHON = Path(
    os.environ.get("TTC_GRAPH_VLLM_PYTHON") or REPO_ROOT / ".venv-vllm" / "bin" / "python"
)
"""The interpreter of the vLLM environment that ``scripts/setup-vllm.sh`` makes."""


def vllm_python() -> Path:
    """:data:`VLLM_PYTHON`, for the real-vLLM tests; they never pass without vLLM.

    They are skipped, with the reason in the ``-ra`` summary, only when the vLLM
    set-up was turned off on purpose (``make test VLLM=0`` sets
    ``TTC_GRAPH_SKIP_VLLM=1``). Without that, a missing environment fails the test
    and says how to make it.
    """
    if os.environ.get("TTC_GRAPH_SKIP_VLLM") == "1":
        pytest.skip("real-vLLM tests turned off: TTC_GRAPH_SKIP_VLLM=1 (make test VLLM=0)")
    if not VLLM_PYTHON.is_file():
        pytest.fail(
            f"No vLLM environment at {VLLM_PYTHON}: run scripts/setup-vllm.sh (make test does), "
            "or set TTC_GRAPH_SKIP_VLLM=1 to skip the real-vLLM tests."
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


MODEL_FIXTURES = frozenset({"policy", "policy_fp32"})
"""Fixtures that load a real model: a test using one is in the ``model`` tier."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a model-loading fixture as ``model``."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture(autouse=True)
def _fast_tier_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the ``model``/``subprocess`` tiers, loading weights or spawning Python fails."""
    node = request.node
    if node.get_closest_marker("model") or node.get_closest_marker("subprocess"):
        return
    from transformers import PreTrainedModel

    def refuse_load(cls: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"{node.nodeid} loads model weights; mark it @pytest.mark.model "
            "(it is then left out of make test-fast)."
        )

    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(refuse_load))
    real_init = subprocess.Popen.__init__

    def guarded_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
        program = os.fspath(argv[0]) if argv else ""
        if program == sys.executable or Path(program).name.startswith(("python", "ttc-graph")):
            raise RuntimeError(
                f"{node.nodeid} starts a Python process; mark it @pytest.mark.subprocess "
                "(it is then left out of make test-fast)."
            )
        real_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_init)
