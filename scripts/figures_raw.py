"""Reading committed raw results for the docs' generated blocks, and saying where they came from.

Every measured block of README.md and docs/ is built from files committed under
``docs/data/`` and ``benchmarks/results/`` (never from a live run), so the same
files always give the same Markdown. :func:`source_line` writes the line shown
under each table: the file, and the commit, date and machine that made it as far
as the file records them. Files written before issue 26 carry no ``provenance``
entry; for those the line says so instead of guessing (some recorded a commit or
a date in their own fields, which is shown as recorded).
"""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap
from collections.abc import Iterator
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NOT_RECORDED = "provenance not recorded (before issue 26)"


@cache
def load(path: str) -> Any:
    """The JSON file at ``path`` (relative to the repository), read once per process."""
    return json.loads((REPO / path).read_text(encoding="utf-8"))


def text(path: str) -> str:
    """A committed text file (a log) relative to the repository."""
    return (REPO / path).read_text(encoding="utf-8")


def records(path: str, where: str = "", params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Rows ``(strategy, n, problem_id, record)`` of an eval results database, read-only."""
    uri = f"file:{REPO / path}?mode=ro"
    query = "SELECT strategy, n, problem_id, record FROM results " + where
    with closing(sqlite3.connect(uri, uri=True)) as db:
        for strategy, n, pid, record in db.execute(query, params):
            yield strategy, n, pid, json.loads(record)


# --- numbers as the docs write them -------------------------------------------------


def pct(share: float, digits: int = 2) -> str:
    """A share as a percentage with at most ``digits`` decimals: 0.055 -> ``5.5 %``."""
    return f"{_trim(f'{100 * share:.{digits}f}')} %"


def pct1(share: float) -> str:
    """A share with exactly one decimal, for tables that compare close values: ``14.7 %``."""
    return f"{100 * share:.1f} %"


def num(value: float, digits: int = 0) -> str:
    """A number with thousands separators: 2770.82 -> ``2,771``."""
    return f"{value:,.{digits}f}"


def ratio(value: float, digits: int = 2) -> str:
    """A ratio as the docs write it: ``0.97×``, ``0.80×``."""
    return f"{fixed(value, digits)}×"


def count(n: int, noun: str) -> str:
    """``1 problem``, ``2 problems``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def plain(value: float, digits: int = 2) -> str:
    """A decimal without trailing zeros: 1.0 -> ``1``, 0.870 -> ``0.87``, 10 -> ``10``."""
    return _trim(f"{value:.{digits}f}")


def fixed(value: float, digits: int = 2) -> str:
    """A decimal with exactly ``digits`` decimals, for columns of comparable values."""
    return f"{value:.{digits}f}".replace("-", "−")


def _trim(shown: str) -> str:
    """Trailing zeros after a decimal point removed (never those of an integer)."""
    if "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    return shown.replace("-", "−")


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def wrapped(markdown: str, width: int = 88) -> str:
    """Prose lines of a block wrapped at ``width`` (tables untouched, list items hanging),
    so that the documents stay readable and their diffs small."""
    out = []
    for line in markdown.split("\n"):
        if not line or line.startswith("|"):
            out.append(line)
            continue
        indent = "  " if line.startswith("- ") else ""
        lines = textwrap.wrap(
            line.replace(" %", _GLUED),  # "28 %" stays on one line
            width=width,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        # A continuation line must not start like a list item, heading, quote or table
        # row, or Markdown would read it as one: its first word goes up a line.
        for i in range(len(lines) - 1, 0, -1):
            if _BLOCK_START.match(lines[i]):
                head, _, rest = lines[i].strip().partition(" ")
                lines[i - 1] += " " + head
                lines[i] = indent + rest if rest else ""
        out.extend(x.replace(_GLUED, " %") for x in lines if x)
    return "\n".join(out)


_GLUED = "\x00%"
_BLOCK_START = re.compile(r"^\s*(?:[-+*>#|]|\d+[.)])(?:\s|$)")


# --- where a figure came from ----------------------------------------------------------


def describe(raw: dict[str, Any]) -> str:
    """What a raw file records about how it was made, as one clause."""
    record = raw.get("provenance")
    if not isinstance(record, dict):
        return _legacy(raw)
    runs = raw.get("runs") or []
    if not runs:
        return _recorded(record)
    if len(runs) == 1 and not raw.get("unlogged_units"):
        # One call made every unit: what made the figures is that call.
        return _recorded(runs[0]["provenance"])
    # A resumed evaluation: the report's call, then every call that stored units.
    made = [f"{count(r['units'], 'unit')} by {_recorded(r['provenance'])}" for r in runs]
    if raw.get("unlogged_units"):
        made.append(f"{count(raw['unlogged_units'], 'unit')} by calls not logged")
    return f"reported by {_recorded(record)} (units stored: {' / '.join(made)})"


def source_line(*paths: str) -> str:
    """The italic line under a generated table: each raw file and what made it."""
    parts = []
    for path in paths:
        raw = load(path) if path.endswith(".json") else {}
        parts.append(f"`{path}`: {describe(raw)}")
    return "*Raw data: " + "; ".join(parts) + ".*\n"


def _recorded(p: dict[str, Any]) -> str:
    commit = p.get("commit")
    if commit is None:
        code = "commit unknown (not a git checkout)"
    else:
        state = {True: "with uncommitted changes", False: "clean", None: "state unknown"}
        code = f"commit `{commit[:7]}` ({state[p.get('dirty')]})"
    machine = p.get("machine") or {}
    cpu = machine.get("cpu") or "CPU unknown"
    where = f"{cpu}, {machine.get('cores')} cores"
    before, after = p.get("load_before"), p.get("load_after")
    load = ""
    if before and after:
        load = f", load {plain(before[0])} → {plain(after[0])}"
    date = str(p.get("started", ""))[:10] or "date unknown"
    return f"{code}, {date}, {where}{load}"


def _legacy(raw: dict[str, Any]) -> str:
    """Fields some scripts recorded before the provenance entry existed, shown as recorded."""
    if "feature_names" in raw and "created" in raw:
        # A trained verifier's card written before cards carried a provenance entry.
        return (
            f"a verifier card of {str(raw['created'])[:10]} (its command and versions are in "
            "the card; commit, machine and load were not recorded)"
        )
    found = raw.get("machine")
    machine: dict[str, Any] = found if isinstance(found, dict) else {}
    commit = machine.get("commit") or raw.get("commit")
    date = raw.get("date") or raw.get("created")
    known = []
    if commit:
        known.append(f"commit `{commit}` (dirty state not recorded)")
    if date:
        known.append(str(date)[:10])
    cpu = machine.get("cpu")
    cores = machine.get("cpu_cores") or raw.get("cpu_cores")
    if cpu or cores:
        known.append(", ".join(x for x in (cpu, f"{cores} cores" if cores else "") if x))
    start, end = machine.get("load_average_start"), machine.get("load_average_end")
    if start and end:
        known.append(f"load {start[0]:.1f} → {end[0]:.1f}")
    if not known:
        return NOT_RECORDED
    return "partly recorded (before issue 26): " + ", ".join(known)
