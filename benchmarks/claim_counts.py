"""How the arithmetic checker reads human-written reference solutions.

Reads the reference solutions of the two shared data files (``../shared/data/``:
the GSM8K training solutions except the evaluation lines named in ``splits.json``,
and the 500 MATH-500 solutions) and counts the
claims the checker reads and the ones it flags as wrong, with the flagged text.
Then, for each GSM8K solution with a real calculator annotation, changes its
first result by one and counts how often the checker scores the original above
the corrupted twin. Pure Python, a few seconds:

    python benchmarks/claim_counts.py --json docs/data/claim-counts.json

These are development data: ``tests/unit/test_verifiers_arithmetic.py`` reads the
same solutions.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from ttc_graph.evaluation import provenance
from ttc_graph.verifiers import ArithmeticVerifier
from ttc_graph.verifiers.claims import find_claims

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = {"gsm8k_train_500.jsonl": "answer", "math500.jsonl": "solution"}
# A calculator annotation: <<expression=result>>result.
ANNOTATION = re.compile(r"<<([^<>=]+)=(\d+)>>(\d+)")
# An expression with an operator between two numbers ("<<15=15>>" only restates one).
OPERATION = re.compile(r"\d\)?\s*[-+*/]\s*\(?\d")


SPLITS = json.loads((Path(__file__).with_name("splits.json")).read_text())


def rows(name: str) -> list[dict[str, Any]]:
    """The JSON lines of one shared data file, without its evaluation lines (splits.json)."""
    path = DATA / name
    if not path.is_file():
        raise SystemExit(f"missing {path} (see the README, 'Test and benchmark data')")
    first, last = SPLITS.get(name, {}).get("evaluation_lines", [0, -1])
    return [
        json.loads(line)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.strip() and not first <= number <= last
    ]


def flags(name: str, field: str) -> dict[str, Any]:
    """Claims read and flagged in every reference solution of one file."""
    solutions = [row[field] for row in rows(name)]
    claims = [c for text in solutions for c in find_claims(text)]
    wrong = [c.text for c in claims if not c.holds]
    return {
        "skipped_lines": SPLITS.get(name, {}).get("evaluation_lines"),
        "solutions": len(solutions),
        "claims": len(claims),
        "flagged": len(wrong),
        "flagged_text": wrong,
    }


def corrupted_twins() -> dict[str, int]:
    """GSM8K solutions whose first real calculator result, plus one, scores lower."""
    verifier = ArithmeticVerifier()
    wins = total = 0
    for row in rows("gsm8k_train_500.jsonl"):
        match = ANNOTATION.search(row["answer"])
        if match is None or match[2] != match[3] or not OPERATION.search(match[1]):
            continue
        wrong = str(int(match[2]) + 1)
        corrupted = (
            row["answer"][: match.start()]
            + f"<<{match[1]}={wrong}>>{wrong}"
            + row["answer"][match.end() :]
        )
        right, bad = verifier.score(
            row["question"], [row["answer"].split("\n"), corrupted.split("\n")]
        )
        total += 1
        wins += right > bad
    return {"solutions": total, "original_scored_higher": wins}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the counts here")
    args = parser.parse_args(argv)
    record = provenance.begin()
    report: dict[str, Any] = {name: flags(name, field) for name, field in SOURCES.items()}
    report["gsm8k_corrupted_twins"] = corrupted_twins()
    report["provenance"] = provenance.finish(record)
    print(json.dumps({k: v for k, v in report.items() if k != "provenance"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
