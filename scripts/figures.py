"""Generated blocks of README.md and docs/: written from their source, checked for drift.

    python scripts/figures.py           # rewrite every block (what `make figures` runs)
    python scripts/figures.py --check   # exit 1 naming each block that differs

A block sits between ``<!-- figures: NAME -->`` and ``<!-- /figures -->``; NAME is a
function of :data:`BLOCKS`, which returns the block's Markdown from the strategy specs
and option table (the only place those facts live) or from committed raw results.
Writing the same sources twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))
_BLOCK = re.compile(
    r"(?P<open><!-- figures: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(?P<close><!-- /figures -->)",
    re.DOTALL,
)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        shown = value if len(value) <= 24 else value[:21] + "…"
        return "`" + shown.replace("\n", "\\n").replace("\t", "\\t") + "`"
    return f"`{value}`"


def strategies() -> str:
    """The strategy table: one row per spec."""
    from ttc_graph.strategies import SPECS

    rows = [
        "| strategy | what it does | N | verifier | factory |",
        "|---|---|---|---|---|",
    ]
    for name, spec in SPECS.items():
        factory = spec.factory.partition(":")[2]
        args = ", ".join(f"{k}={v!r}" for k, v in spec.factory_args.items())
        n = f"default {spec.default('n')}" if spec.takes_n else "—"
        verifier = "needed" if spec.needs_verifier else "optional"
        rows.append(
            f"| `{name}` | {_cell(spec.summary)} | {n} | {verifier} | `{factory}({args})` |"
        )
    return "\n".join(rows) + "\n"


def run_options() -> str:
    """The run option table: each option, its default per strategy and who takes it."""
    from ttc_graph.strategies import OPTIONS, SPECS

    rows = ["| option | meaning | default | taken by |", "|---|---|---|---|"]
    for name, option in OPTIONS.items():
        takers = [s for s in SPECS.values() if name in s.options.names]
        defaults: dict[str, list[str]] = {}
        for spec in takers:
            defaults.setdefault(_value(spec.default(name)), []).append(spec.name)
        common = max(defaults, key=lambda v: len(defaults[v]))
        shown = [common] + [f"{v} ({', '.join(n)})" for v, n in defaults.items() if v != common]
        everyone = len(takers) == len(SPECS)
        who = "all" if everyone else ", ".join(s.name for s in takers)
        rows.append(f"| `{name}` | {_cell(option.help)} | {'; '.join(shown)} | {who} |")
    return "\n".join(rows) + "\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "strategies": strategies,
    "run-options": run_options,
}


def blocks(text: str) -> Iterator[re.Match[str]]:
    """Every generated block of a document."""
    return _BLOCK.finditer(text)


def render(text: str, *, where: str) -> str:
    """``text`` with every block written anew."""

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise SystemExit(f"{where}: unknown figures block {name!r}; known: {', '.join(BLOCKS)}")
        return match["open"] + BLOCKS[name]() + match["close"]

    return _BLOCK.sub(fill, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; fail on drift")
    args = parser.parse_args(argv)
    stale: list[str] = []
    for path in DOCS:
        text = path.read_text()
        new = render(text, where=str(path.relative_to(REPO)))
        if new == text:
            continue
        names = [m["name"] for m, n in zip(blocks(text), blocks(new), strict=True) if m[0] != n[0]]
        stale += [f"{path.relative_to(REPO)}: {name}" for name in names]
        if not args.check:
            path.write_text(new)
    if stale and args.check:
        print("Generated blocks differ from their sources (run `make figures`):", file=sys.stderr)
        print("\n".join(f"  {s}" for s in stale), file=sys.stderr)
        return 1
    for s in stale:
        print(f"rewrote {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
