"""Evaluation problems from JSONL files, the Hugging Face hub, or the arithmetic generator.

Rows may be in MATH-500 form (``problem``, ``answer``, optional ``level``,
``subject``, ``unique_id``) or GSM8K form (``question``, ``answer`` ending in
``#### N``). Every problem is checked when it is read, so a bad row is reported
(with its line) before any model is loaded.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttc_graph.errors import InputError
from ttc_graph.evaluation.arithmetic import check_difficulty, generate_problems
from ttc_graph.limits import MAX_ARITHMETIC_PROBLEMS

ARITHMETIC = "arithmetic"
DEFAULT_ARITHMETIC_COUNT = 50
"""Problems generated for ``arithmetic`` when no limit is given."""

_GSM8K_ANSWER = re.compile(r"####\s*(?P<ans>.+?)\s*$", re.DOTALL)
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+(?::[\w.-]+)?$")


@dataclass(frozen=True)
class Problem:
    """One problem to solve, with its reference answer."""

    id: str
    question: str
    answer: str
    level: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class ProblemSet:
    """The problems of one run plus what identifies the data (part of the config hash)."""

    name: str
    problems: tuple[Problem, ...]
    fingerprint: str
    """Changes whenever the data changes: file content hash, generator settings, hub id."""

    @property
    def has_levels(self) -> bool:
        """Whether any problem carries a difficulty level."""
        return any(p.level is not None for p in self.problems)


def reference_answer(answer: Any) -> str:
    """The comparable reference: the part after ``####`` for GSM8K, else the text itself."""
    text = str(answer).strip()
    match = _GSM8K_ANSWER.search(text)
    if match:
        return match.group("ans").replace(",", "").strip()
    return text


def problem_from_row(row: Mapping[str, Any], *, default_id: str, where: str) -> Problem:
    """Build a :class:`Problem` from a MATH-500 or GSM8K style record.

    ``where`` names the row in error messages (e.g. ``"data.jsonl line 7"``).
    """
    question = row.get("problem", row.get("question"))
    if not isinstance(question, str) or not question.strip():
        raise InputError(
            f"{where}: no problem text; each row needs a non-empty 'problem' (MATH-500 form) "
            f"or 'question' (GSM8K form) field. Fields found: {sorted(row)}."
        )
    answer = row.get("answer")
    if answer is None or isinstance(answer, (dict, list)) or not str(answer).strip():
        raise InputError(
            f"{where}: no reference answer; each row needs a non-empty 'answer' field "
            "(e.g. \"42\", or GSM8K's solution ending in '#### 42')."
        )
    level = row.get("level")
    subject = row.get("subject")
    pid = row.get("unique_id", row.get("id"))
    return Problem(
        id=str(pid) if pid is not None and str(pid).strip() else default_id,
        question=question.strip(),
        answer=reference_answer(answer),
        level=str(level) if level is not None and str(level).strip() else None,
        subject=str(subject) if subject is not None and str(subject).strip() else None,
    )


def _check_unique(problems: Sequence[Problem], source: str) -> None:
    seen: dict[str, int] = {}
    for i, p in enumerate(problems):
        if p.id in seen:
            raise InputError(
                f"{source}: problem id {p.id!r} appears twice (rows {seen[p.id] + 1} and {i + 1}); "
                "ids must be unique so results can be stored per problem."
            )
        seen[p.id] = i


def read_jsonl(path: Path) -> list[Problem]:
    """Read every problem of a JSONL file, naming the line of the first bad row."""
    problems: list[Problem] = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path} line {lineno}"
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]  # a byte-order mark, as some editors write
            try:
                # Decoded line by line, so a bad byte is reported with its line.
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                    f"{exc.start + 1}). Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)."
                ) from exc
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: not valid JSON ({exc.msg}).") from exc
            if not isinstance(row, dict):
                raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}.")
            problems.append(problem_from_row(row, default_id=f"line-{lineno}", where=where))
    if not problems:
        raise InputError(f"{path} holds no problems; it needs one JSON object per line.")
    _check_unique(problems, str(path))
    return problems


def _load_hub(spec: str, split: str) -> list[Problem]:
    try:
        import datasets
    except ImportError as exc:
        raise InputError(
            f"Loading {spec!r} from the Hugging Face hub needs the 'datasets' package: "
            "pip install 'ttc-graph[hub]' (or pass a local .jsonl file)."
        ) from exc
    name, _, config = spec.partition(":")
    try:
        data = datasets.load_dataset(name, config or None, split=split)
    except Exception as exc:  # datasets raises many types for network / missing data
        raise InputError(
            f"Could not load hub dataset {spec!r} (split {split!r}): "
            f"{exc.__class__.__name__}: {str(exc)[:300]}\n"
            "This needs network access to huggingface.co (or a local datasets cache). Offline, "
            "export the data to JSONL (problem/answer or question/answer per line) and pass "
            "its path, or use --dataset arithmetic."
        ) from exc
    problems = [
        problem_from_row(dict(row), default_id=f"{split}-{i}", where=f"{spec} row {i}")
        for i, row in enumerate(data)
    ]
    if not problems:
        raise InputError(f"Hub dataset {spec!r} split {split!r} is empty.")
    _check_unique(problems, spec)
    return problems


def load_problems(
    source: str | Path,
    *,
    limit: int | None = None,
    difficulty: int | Sequence[int] = 1,
    seed: int = 0,
    split: str = "test",
) -> ProblemSet:
    """Load evaluation problems.

    Args:
        source: A ``.jsonl`` path (MATH-500 or GSM8K form), ``"arithmetic"`` for the
            built-in generator, or a hub id ``"org/name"`` / ``"org/name:config"``
            (needs the ``datasets`` package and network).
        limit: Keep the first ``limit`` problems (default: all; 50 for arithmetic).
        difficulty: Operations per arithmetic problem (1-5), or a list to cycle.
        seed: Seed of the arithmetic generator (not of the model's sampling).
        split: Hub dataset split.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"limit must be an integer >= 1 (number of problems), got {limit!r}.")
    text = str(source).strip()
    if not text:
        raise InputError("dataset is empty; pass a .jsonl path, 'arithmetic' or a hub id.")
    if text == ARITHMETIC:
        if limit is not None and limit > MAX_ARITHMETIC_PROBLEMS:
            raise InputError(
                f"limit is {limit:,}, above the limit of {MAX_ARITHMETIC_PROBLEMS:,} problems "
                "the arithmetic generator makes for one run (all are generated in memory first)."
            )
        levels = check_difficulty(difficulty)
        count = limit or DEFAULT_ARITHMETIC_COUNT
        generated = generate_problems(count, difficulty=levels, seed=seed)
        level_tag = "-".join(map(str, levels))
        problems = [
            Problem(
                id=f"arith-d{p.difficulty}-s{seed}-{i}",
                question=p.question,
                answer=str(p.answer),
                level=str(p.difficulty),
            )
            for i, p in enumerate(generated)
        ]
        return ProblemSet(
            name=f"arithmetic (difficulty {level_tag})",
            problems=tuple(problems),
            fingerprint=f"arithmetic:v1:difficulty={level_tag}:seed={seed}",
        )
    path = Path(text).expanduser()
    if path.is_file():
        problems = read_jsonl(path)
        digest = _file_digest(path)[:16]
        return ProblemSet(path.name, tuple(problems[:limit]), f"jsonl:{digest}")
    if path.is_dir():
        raise InputError(f"{path} is a directory; pass a .jsonl file inside it.")
    if text.endswith((".jsonl", ".json")) or (path.parent != Path(".") and not _HUB_ID.match(text)):
        raise InputError(f"Dataset file {path} does not exist; check the path.")
    if not _HUB_ID.match(text):
        raise InputError(
            f"Unknown dataset {text!r}: pass a .jsonl file, 'arithmetic', or a hub id "
            "such as 'HuggingFaceH4/MATH-500'."
        )
    problems = _load_hub(text, split)
    return ProblemSet(text, tuple(problems[:limit]), f"hub:{text}:{split}")


def _file_digest(path: Path) -> str:
    """SHA-256 of a file, read in blocks (a large dataset is never held twice in memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(2**20):
            digest.update(block)
    return digest.hexdigest()


def levels_of(problems: Iterable[Problem]) -> list[str]:
    """Distinct levels in natural order (numeric levels sort as numbers)."""
    found = {p.level for p in problems if p.level is not None}
    return sorted(found, key=lambda v: (0, int(v), v) if v.isdigit() else (1, 0, v))
