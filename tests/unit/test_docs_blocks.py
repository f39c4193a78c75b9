"""The generated blocks of README.md and docs/ agree with their sources (`make figures`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

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


def test_check_names_each_stale_block_and_plot_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    figures: Any = load()
    doc = tmp_path / "doc.md"
    stale = (
        "<!-- figures: eval-arith-seed0 -->\n| 200 problems | 99 % |\n<!-- /figures -->\n"
        "<!-- figures: strategies -->\nold\n<!-- /figures -->\n"
    )
    doc.write_text(stale)
    plot = tmp_path / "plot.png"
    plot.write_bytes(b"not the plot")
    monkeypatch.setattr(figures, "REPO", tmp_path)
    monkeypatch.setattr(figures, "DOCS", (doc,))
    monkeypatch.setattr(figures, "IMAGES", {"plot.png": lambda: b"the plot"})
    # Every other block is in no document here; only the two above are checked.
    monkeypatch.setattr(
        figures, "BLOCKS", {k: figures.BLOCKS[k] for k in ("eval-arith-seed0", "strategies")}
    )
    assert figures.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "doc.md: eval-arith-seed0" in err
    assert "doc.md: strategies" in err
    assert "plot.png (plot)" in err
    assert doc.read_text() == stale, "check mode changes nothing"
    assert plot.read_bytes() == b"not the plot"
    # Without --check the same call writes both, and a second check passes.
    assert figures.main([]) == 0
    assert "99 %" not in doc.read_text()
    assert plot.read_bytes() == b"the plot"
    assert figures.main(["--check"]) == 0


def test_a_block_no_document_shows_fails_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    figures: Any = load()
    doc = tmp_path / "doc.md"
    doc.write_text("no blocks\n")
    monkeypatch.setattr(figures, "REPO", tmp_path)
    monkeypatch.setattr(figures, "DOCS", (doc,))
    monkeypatch.setattr(figures, "IMAGES", {})
    monkeypatch.setattr(figures, "BLOCKS", {"strategies": figures.BLOCKS["strategies"]})
    assert figures.main(["--check"]) == 1
    assert "Blocks no document uses: strategies" in capsys.readouterr().err
