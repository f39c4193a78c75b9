"""Calculations written in words: "the sum of 23 and 38 is 61", "half of 40 is 20".

Small models state much of their arithmetic in prose, which the symbolic reader
in :mod:`ttc_graph.verifiers.claims` cannot see. Each pattern here names one
operation and its operands explicitly, so a match is unambiguous; anything
looser ("she has 5 more, so 12") is left unread rather than guessed.

:func:`relations_as_equals` turns "57 - 18 equals 39" into "57 - 18 = 39" for
the symbolic reader; :func:`find_word_claims` reads the phrasal forms.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

# A number as a model writes it: "1,200", "3.5", "$12"; an optional unit word after it.
_NUM = r"\$?(\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?|\d+(?:\.\d+)?)"
_UNIT = r"(?:\s+(?!and\b|to\b|from\b|by\b|is\b|equals\b|gives\b|makes\b)[a-z]+)?"
_OPERAND = _NUM + _UNIT
_RELATION = (
    r"\s*,?\s*(?:which\s+)?(?:is|are|equals|is\s+equal\s+to|=|gives(?:\s+us)?|makes"
    r"|results\s+in|yields|we\s+get|you\s+get|will\s+be|would\s+be|comes\s+to)\s+"
)
_RESULT = _NUM + r"(?![\d])"

# A relation word between a one-operator calculation and a number.
_EXPR_RELATION = re.compile(
    r"(\$?\d[\d,.]*%?(?:\s+[A-Za-z]+)?\s*(?:[+\-*/×÷]|\bx\b|\bplus\b|\bminus\b|\btimes\b"
    r"|\bdivided\s+by\b|\bmultiplied\s+by\b)\s*\$?\d[\d,.]*%?(?:\s+[A-Za-z]+)?)"
    r"\s+(?:equals|is\s+equal\s+to|is|are|gives(?:\s+us)?|makes|results\s+in|yields"
    r"|will\s+be|would\s+be|comes\s+to)\s+(?=\$?\d)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class WordClaim:
    """One phrasal calculation: ``operands`` combined by ``op`` are said to give ``right``."""

    text: str
    left: Fraction
    right: Fraction
    operands: tuple[Fraction, ...]
    op: str


def relations_as_equals(text: str) -> str:
    """Rewrite "57 - 18 equals 39" and "4 * 2 coins gives 8" with ``=``.

    Only after a complete one-operator calculation, so that "the answer is 5" or
    "36 books is 36" are never read as claims.
    """
    return _EXPR_RELATION.sub(r"\1 = ", text)


def _num(text: str) -> Fraction:
    return Fraction(text.replace(",", "").lstrip("$"))


Rule = tuple[re.Pattern[str], str, Callable[[Fraction, Fraction], Fraction | None]]


def _div(a: Fraction, b: Fraction) -> Fraction | None:
    return a / b if b else None


def _two(verb: str) -> str:
    return verb + _OPERAND + r"\s+(?:and|to|plus|with|by|from|times)\s+" + _OPERAND


_RULES: tuple[Rule, ...] = (
    (re.compile(r"\bsum\s+of\s+" + _OPERAND + r"\s+and\s+" + _OPERAND + _RELATION + _RESULT,
                re.I), "+", lambda a, b: a + b),
    (re.compile(r"\b(?:difference|gap)\s+between\s+" + _OPERAND + r"\s+and\s+" + _OPERAND
                + _RELATION + _RESULT, re.I), "-", lambda a, b: abs(a - b)),
    (re.compile(r"\bproduct\s+of\s+" + _OPERAND + r"\s+and\s+" + _OPERAND + _RELATION
                + _RESULT, re.I), "×", lambda a, b: a * b),
    (re.compile(r"\badd(?:ing|ed)?\s+" + _OPERAND + r"\s+(?:and|to|plus)\s+" + _OPERAND
                + _RELATION + _RESULT, re.I), "+", lambda a, b: a + b),
    (re.compile(r"\bsubtract(?:ing|ed)?\s+" + _OPERAND + r"\s+from\s+" + _OPERAND
                + _RELATION + _RESULT, re.I), "-", lambda a, b: b - a),
    (re.compile(r"\bmultipl(?:y|ying|ied)\s+" + _OPERAND + r"\s+(?:by|and|with|times)\s+"
                + _OPERAND + _RELATION + _RESULT, re.I), "×", lambda a, b: a * b),
    (re.compile(r"\bdivid(?:e|ing|ed)\s+" + _OPERAND + r"\s+by\s+" + _OPERAND + _RELATION
                + _RESULT, re.I), "/", _div),
)  # fmt: skip

# One operand scaled by a word: "half of 40 is 20", "twice as many as 9 is 18".
_SCALES: tuple[tuple[str, Fraction, str], ...] = (
    (r"half\s+(?:of\s+)?", Fraction(1, 2), "/"),
    (r"(?:a\s+)?third\s+of\s+", Fraction(1, 3), "/"),
    (r"(?:a\s+)?quarter\s+of\s+", Fraction(1, 4), "/"),
    (r"(?:twice|double)\s+(?:as\s+many\s+as\s+|of\s+)?", Fraction(2), "×"),
    (r"(?:three\s+times|triple)\s+(?:as\s+many\s+as\s+|of\s+)?", Fraction(3), "×"),
)
_SCALE_RULES = tuple(
    (re.compile(r"\b" + words + _OPERAND + _RELATION + _RESULT, re.I), factor, op)
    for words, factor, op in _SCALES
)


def find_word_claims(text: str) -> list[WordClaim]:
    """Every phrasal calculation in ``text``, with the value its operands give."""
    found: list[WordClaim] = []
    for pattern, op, combine in _RULES:
        for m in pattern.finditer(text):
            a, b, claimed = _num(m.group(1)), _num(m.group(2)), _num(m.group(3))
            value = combine(a, b)
            if value is not None:
                found.append(WordClaim(m.group(0), value, claimed, (a, b), op))
    for pattern, factor, op in _SCALE_RULES:
        for m in pattern.finditer(text):
            a, claimed = _num(m.group(1)), _num(m.group(2))
            scale = factor if op == "×" else 1 / factor
            found.append(WordClaim(m.group(0), a * factor, claimed, (a, scale), op))
    return found
