"""The measured blocks of the docs come from their raw files (scripts/figures_*.py)."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import figures_eval  # noqa: E402
import figures_plots  # noqa: E402
import figures_raw  # noqa: E402

SUMMARY = "docs/data/eval-arith-seed0-summary.json"


@pytest.fixture
def altered(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A private copy of the seed-0 summary that the blocks read instead of the file."""
    data = copy.deepcopy(figures_raw.load(SUMMARY))
    real = figures_raw.load

    def load(path: str) -> Any:
        return data if path == SUMMARY else real(path)

    for module in (figures_raw, figures_eval, figures_plots):
        monkeypatch.setattr(module, "load", load)
    return data


def test_a_table_shows_what_its_raw_file_holds(altered: dict[str, Any]) -> None:
    before = figures_eval.eval_seed0()
    assert "| **weighted, grounded checker** (`auto`: scores + votes from the work) |" in before
    altered["levels"]["all"]["weighted[grounded]@16"] = 0.315
    after = figures_eval.eval_seed0()
    assert "**31.5 %**" in after
    assert before != after


def test_a_sentence_the_data_contradicts_is_refused(altered: dict[str, Any]) -> None:
    figures_eval.eval_seed0_findings()  # the committed data supports every sentence
    altered["levels"]["all"]["majority@16"] = 0.5  # the vote would now rise with N
    with pytest.raises(SystemExit, match="the vote and arithmetic checker fall"):
        figures_eval.eval_seed0_findings()


def test_provenance_is_shown_as_recorded_and_never_invented() -> None:
    full = {
        "provenance": {
            "command": "python benchmarks/run.py",
            "commit": "0123456789abcdef",
            "dirty": True,
            "machine": {"cpu": "AMD EPYC", "cores": 2},
            "load_before": [0.52, 1.0, 1.0],
            "load_after": [1.4, 1.0, 1.0],
            "started": "2026-12-05T10:00:00+00:00",
        }
    }
    assert figures_raw.describe(full) == (
        "commit `0123456` (with uncommitted changes), 2026-12-05, AMD EPYC, 2 cores, "
        "load 0.52 → 1.4"
    )
    # A resumed evaluation names every call that stored units, and those it cannot.
    call = {**full["provenance"], "dirty": False, "started": "2026-12-06T09:00:00+00:00"}
    resumed = {**full, "runs": [{"units": 160, "provenance": call}], "unlogged_units": 40}
    assert figures_raw.describe(resumed) == (
        "reported by commit `0123456` (with uncommitted changes), 2026-12-05, AMD EPYC, "
        "2 cores, load 0.52 → 1.4 (units stored: 160 units by commit `0123456` (clean), "
        "2026-12-06, AMD EPYC, 2 cores, load 0.52 → 1.4 / 40 units by calls not logged)"
    )
    one_call = {**full, "runs": [{"units": 200, "provenance": call}], "unlogged_units": 0}
    assert figures_raw.describe(one_call) == (
        "commit `0123456` (clean), 2026-12-06, AMD EPYC, 2 cores, load 0.52 → 1.4"
    )
    assert figures_raw.describe({"verifiers": {}}) == figures_raw.NOT_RECORDED
    legacy = {"date": "2026-11-24T23:37:29+00:00", "machine": {"commit": "5df5a84"}}
    assert figures_raw.describe(legacy) == (
        "partly recorded (before issue 26): commit `5df5a84` (dirty state not recorded), 2026-11-24"
    )


def test_every_committed_raw_file_named_under_a_block_exists() -> None:
    import figures

    text = "".join(path.read_text() for path in figures.DOCS)
    lines = re.findall(r"^\*Raw data: (.*?)\.\*$", text, re.MULTILINE | re.DOTALL)
    named = {path for line in lines for path in re.findall(r"`([^`]+)`:", line)}
    assert named, "the blocks name their raw files"
    for path in named:
        assert (figures_raw.REPO / path).is_file(), path


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.8, "80 %"), (0.1, "10 %"), (0.055, "5.5 %"), (0.4275, "42.75 %"), (0.0, "0 %")],
)
def test_percentages_keep_their_integer_zeros(value: float, shown: str) -> None:
    assert figures_raw.pct(value) == shown


def test_numbers_as_the_docs_write_them() -> None:
    assert figures_raw.plain(10.0, 0) == "10"
    assert figures_raw.plain(1.0) == "1"
    assert figures_raw.plain(-12.2, 0) == "−12"
    assert figures_raw.fixed(0.8) == "0.80"
    assert figures_raw.ratio(0.97188) == "0.97×"
    assert figures_raw.num(2770.82) == "2,771"
    assert figures_raw.count(1, "problem") == "1 problem"


def test_wrapped_prose_never_starts_a_line_like_markdown_structure() -> None:
    prose = "greedy is right on 28 % - or so; item 1. follows " * 8
    lines = figures_raw.wrapped(prose, width=20).split("\n")
    assert len(lines) > 1
    for line in lines[1:]:
        assert not figures_raw._BLOCK_START.match(line), line
    assert not any(line.startswith("%") for line in lines), "a number keeps its % sign"
    table = "| a | b |\n|---|---|\n| " + "x " * 60 + "|"
    assert figures_raw.wrapped(table, width=20) == table


def _chunks(png: bytes) -> list[bytes]:
    kinds, at = [], 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        kinds.append(png[at + 4 : at + 8])
        at += 12 + length
    return kinds


@pytest.mark.parametrize("path", sorted(figures_plots.IMAGES))
def test_plots_are_the_same_bytes_every_time_and_carry_no_metadata(path: str) -> None:
    draw = figures_plots.IMAGES[path]
    first, second = draw(), draw()
    assert first == second
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    kinds = _chunks(first)
    assert not {b"tEXt", b"iTXt", b"zTXt", b"tIME"} & set(kinds), kinds


def test_a_plot_follows_its_data(altered: dict[str, Any]) -> None:
    before = figures_plots.eval_seed0()
    altered["levels"]["all"]["coverage@16"] = 0.9
    assert figures_plots.eval_seed0() != before
