"""Extract final answers from completions and compare them with math-verify."""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from typing import Any

from math_verify import parse, verify

_FINAL_ANSWER = re.compile(
    r"final answer\s*(?:is|:)?\s*:?\s*(?P<ans>.+?)\s*(?:\.\s|\.$|$|\n|I hope)",
    re.IGNORECASE,
)
# A signed integer, decimal or simple fraction; thousands separators allowed.
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
# Digits, operators, brackets and commas only: "10 + 10", "(1, 2)", "-3/4".
_EXPRESSION = re.compile(r"[-+*/×÷^().,\d\s]+")
# A number that opens a phrase and is followed by words: "10 balloons", "9, which is ...".
_LEADING_NUMBER = re.compile(rf"\$?({_NUMBER.pattern})(?![\d/.])")


def find_boxed(text: str) -> str | None:
    r"""Return the content of the last ``\boxed{...}`` (or ``\fbox{...}``), braces balanced.

    Nested braces such as ``\boxed{\frac{1}{2}}`` are handled by counting depth,
    which a regular expression cannot do.
    """
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    open_at = text.find("{", start)
    if open_at < 0:
        # "\boxed 5" is valid LaTeX for a single token.
        rest = text[start:].split(maxsplit=1)
        return rest[1].split()[0].rstrip("$.") if len(rest) == 2 and rest[1] else None
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i].strip()
    return None  # unbalanced: the completion was cut off inside the box


def _strip_math(ans: str) -> str:
    ans = ans.strip().strip("$").strip()
    ans = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", ans).strip()
    return ans.rstrip(".").strip()


def extract_answer(text: str) -> str | None:
    r"""Extract the final answer of a completion, or ``None`` when it has none.

    Looks, in order, for the last ``\boxed{...}``, a "final answer is ..." phrase,
    a GSM8K-style ``#### N`` line, then falls back to the last number in the text.
    What a phrase or ``####`` line states is read by :func:`_stated`, so that "the
    final answer is 12 - 2 = 10 balloons" gives ``10``.

    Example:
        >>> extract_answer("12 - 2 = 10. The final answer is 12 - 2 = 10 balloons.")
        '10'
        >>> extract_answer(r"So $x = \frac{1}{2}$, i.e. \boxed{\frac{1}{2}}")
        '\\frac{1}{2}'
    """
    if not text or not text.strip():
        return None
    boxed = find_boxed(text)
    if boxed is not None and boxed != "":
        return boxed
    # The latest phrase that states something; "to find the final answer, we ..." does not.
    for match in reversed(list(_FINAL_ANSWER.finditer(text))):
        ans = _strip_math(match.group("ans"))
        inner = find_boxed(ans)
        if inner:
            return inner
        stated = _stated(ans)
        if stated:
            return stated
    for line in reversed(re.findall(r"####\s*(.+)", text)):
        stated = _stated(line.strip())
        if stated:
            return stated
    numbers = _NUMBER.findall(text)
    return _plain(numbers[-1]) if numbers else None


def _stated(ans: str) -> str | None:
    """The answer an answer phrase states: LaTeX or a bare expression as written; after
    the last ``=`` of an equation; a number followed by words (units, "which is ...")
    is that number; words before numbers give the last number; a clause that
    starts with a comma or semicolon states nothing."""
    if not ans or ans[0] in ",;" or ans.lower() == "is":  # "... The final answer is" cut off
        return None
    if "=" in ans:
        ans = ans.rsplit("=", 1)[1].strip() or ans
    if "\\" in ans or _EXPRESSION.fullmatch(ans):
        return ans
    lead = _LEADING_NUMBER.match(ans)
    if lead:
        return _plain(lead.group(1))
    numbers = _NUMBER.findall(ans)
    return _plain(numbers[-1]) if numbers else ans


def _plain(number: str) -> str:
    """A number as written, without thousands separators or a sentence's full stop."""
    return number.replace(",", "").rstrip(".")


class _DropTimeoutNotice(logging.Filter):
    """Hide math-verify's one-time notice that its timeout is off (we turn it off on purpose)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropTimeoutNotice())


def _timeout() -> int | None:
    # math-verify enforces its timeout with SIGALRM, which only works in the main
    # thread; LangGraph runs nodes in worker threads, where we must disable it. 20 s,
    # not 5: the first parse loads math-verify's grammar, and on a busy machine that
    # alone took over 5 s, turning "90^\circ" == "90" into a silent mismatch.
    return 20 if threading.current_thread() is threading.main_thread() else None


@lru_cache(maxsize=4096)
def _parse_cached(answer: str) -> tuple[Any, ...]:
    wrapped = answer if "\\boxed" in answer or answer.startswith("$") else f"${answer}$"
    try:
        return tuple(parse(wrapped, parsing_timeout=_timeout()))
    except Exception:  # math-verify raises on pathological LaTeX; treat as unparsable
        return ()


def answers_equal(a: str | None, b: str | None) -> bool:
    r"""Whether two extracted answers are mathematically equivalent.

    Uses math-verify, so ``\frac{1}{2}`` equals ``0.5`` and ``90^\circ`` equals
    ``90``. Falls back to a normalised string comparison where math-verify cannot
    parse either side, so unparsable answers still group with identical ones.
    """
    if a is None or b is None:
        return False
    if _normalise(a) == _normalise(b):
        return True
    pa, pb = _parse_cached(a), _parse_cached(b)
    if not pa or not pb:
        return False
    try:
        return bool(verify(list(pa), list(pb), timeout_seconds=_timeout()))
    except Exception:
        return False


def _normalise(ans: str) -> str:
    compact = re.sub(r"\s+", "", _strip_math(ans)).replace("\\!", "")
    # Thousands separators only ("1,000"), not the commas of a tuple "(1,2)".
    return re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", compact).lower()
