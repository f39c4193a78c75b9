"""The generated blocks of README.md and docs/ agree with their sources (`make figures`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "figures.py"


def load() -> object:
    spec = importlib.util.spec_from_file_location("figures", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["figures"] = module
    spec.loader.exec_module(module)
    return module


def test_every_generated_block_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    figures = load()
    assert figures.main(["--check"]) == 0, capsys.readouterr().err  # type: ignore[attr-defined]


def test_a_stale_block_is_named(tmp_path: Path) -> None:
    figures = load()
    text = "x\n<!-- figures: strategies -->\nold table\n<!-- /figures -->\n"
    new = figures.render(text, where="doc.md")  # type: ignore[attr-defined]
    assert "old table" not in new
    assert "| `weighted` |" in new
    with pytest.raises(SystemExit, match="unknown figures block 'nope'"):
        figures.render("<!-- figures: nope -->\n<!-- /figures -->", where="doc.md")  # type: ignore[attr-defined]
