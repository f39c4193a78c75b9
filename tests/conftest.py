"""Shared fixtures: one embedded policy per test session, offline hub; the test tiers.

The suite has two tiers, by directory (README, "Development"):

- ``tests/unit/``: pure logic, and every strategy's real graph driven by the scripted
  policy and verifier of ``tests/scripted.py``: no model weights, no Python process.
  ``make test-fast`` runs it. A unit test that loads model weights or starts a Python
  process fails at once, saying to move it to ``tests/integration/``; so does one
  that uses a model fixture (``policy``) or carries the ``model`` / ``subprocess``
  marker. Every test outside ``tests/integration/`` is held to these rules.
- ``tests/integration/``: the embedded model, Python processes, servers, the browser.
  ``tests/integration/vllm/`` holds the real-vLLM tests (marker ``vllm``, set here
  for every test there): ``make test`` leaves them out, ``make test-vllm`` runs them.

The helper modules beside this file (``scripted``, ``policy_contract``, ...) are
importable from both tiers (``pythonpath`` in pyproject.toml).
"""

from __future__ import annotations

import os
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


TESTS = Path(__file__).resolve().parent
INTEGRATION = TESTS / "integration"
VLLM_TESTS = INTEGRATION / "vllm"

MODEL_FIXTURES = frozenset({"policy", "policy_fp32"})
"""Fixtures that load a real model: a test using one is in the ``model`` tier."""

OUTSIDE_UNIT = ("model", "subprocess", "vllm")
"""Markers of tests that belong in ``tests/integration/``."""


def _under(item: pytest.Item, folder: Path) -> bool:
    return Path(str(item.path)).resolve().is_relative_to(folder)


def in_unit_tier(item: pytest.Item) -> bool:
    """Whether ``item`` is held to the unit tier's rules: every test outside
    ``tests/integration/`` (the tests of ``tests/unit/``)."""
    return not _under(item, INTEGRATION)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a model-loading fixture as ``model``, and every test
    under ``tests/integration/vllm/`` as ``vllm``."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)
        if _under(item, VLLM_TESTS):
            item.add_marker(pytest.mark.vllm)


def _move_it(nodeid: str, what: str) -> str:
    return (
        f"{nodeid} {what}, but it is a unit test: the unit tier (tests/unit, make test-fast) "
        "loads no model and starts no Python process. Move it to tests/integration/ "
        "(or drive the graph with tests/scripted.py's ScriptedPolicy instead)."
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A unit test that asks for a model or a process fails before any fixture runs."""
    if not in_unit_tier(item):
        return
    models = sorted(MODEL_FIXTURES & set(getattr(item, "fixturenames", ())))
    if models:
        pytest.fail(_move_it(item.nodeid, f"uses the model fixture {models[0]!r}"), pytrace=False)
    marked = [name for name in OUTSIDE_UNIT if item.get_closest_marker(name)]
    if marked:
        pytest.fail(_move_it(item.nodeid, f"is marked {marked[0]!r}"), pytrace=False)


@pytest.fixture(autouse=True)
def _unit_tier_guard(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """In the unit tier, loading model weights or spawning Python fails at once; torch
    runs on one thread (its small tensors gain nothing from more, and on a busy machine
    spinning threads made a 0.6 s fit take 27 s)."""
    node = request.node
    if not in_unit_tier(node):
        yield
        return
    import torch
    from transformers import PreTrainedModel

    def refuse_load(cls: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(_move_it(node.nodeid, "loads model weights"))

    monkeypatch.setattr(PreTrainedModel, "from_pretrained", classmethod(refuse_load))
    real_init = subprocess.Popen.__init__

    def guarded_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
        program = os.fspath(argv[0]) if argv else ""
        if program == sys.executable or Path(program).name.startswith(("python", "ttc-graph")):
            raise RuntimeError(_move_it(node.nodeid, "starts a Python process"))
        real_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_init)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
