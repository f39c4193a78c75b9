"""Shared fixtures: one embedded policy per test session, offline hub."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# No model hub here: fail fast instead of retrying for half a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def policy():  # type: ignore[no-untyped-def]
    """The embedded SmolLM2-135M-Instruct policy, loaded once for the whole session."""
    from ttc_graph import load_policy

    return load_policy(device="cpu")


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
