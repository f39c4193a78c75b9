"""The benchmark script refuses missing data before loading a model: one error line naming
the path, no silent fallback. (The script run end to end: tests/integration/test_benchmarks.py.)
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_missing_benchmark_data_is_a_one_line_error_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No silent fallback to other questions: the figures would not be the documented ones.
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    run = importlib.import_module("run")
    monkeypatch.setattr(run, "DATA", tmp_path / "shared" / "data")
    for read in (lambda: run.load_questions(16), run.math_question):
        with pytest.raises(SystemExit) as failed:
            read()
        message = str(failed.value.code)
        assert message.startswith("error: benchmark data not found")
        assert str(tmp_path / "shared" / "data") in message
        assert "\n" not in message
    with pytest.raises(SystemExit, match="not found"):
        run.main(["--sections=bon"])  # before any model is loaded
