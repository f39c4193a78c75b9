"""Arithmetic text to tokens and exact values: the reader under every claim check.

Normalises LaTeX and unicode operators, tokenises (numbers with thousands separators
and decimals, words, operators, parentheses, ``%``, currency), turns ``times`` /
``divided by`` / ``% of`` between numbers into operators, and evaluates a token run
with a small recursive-descent parser over :class:`fractions.Fraction` (never
``eval``). Used by :mod:`ttc_graph.verifiers.claims` and to read short answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

Kind = Literal["num", "op", "lp", "rp", "eq", "approx", "pct", "cur", "word", "cmd", "other"]

MATH = {"num", "op", "lp", "rp", "eq", "approx", "pct", "cur"}
VALUE_END = {"num", "rp", "pct"}
_WORD_OPS = {"times": "×", "plus": "+", "minus": "-"}
_TWO_WORD_OPS = {("divided", "by"): "/", ("multiplied", "by"): "×"}
_MAX_EXPONENT = 64

_TOKEN = re.compile(
    r"(?P<num>\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<cmd>\\[A-Za-z]+)"
    r"|(?P<pow>\*\*)"
    r"|(?P<op>[+\-*/×÷^·])"
    r"|(?P<eq>=)"
    r"|(?P<approx>≈)"
    r"|(?P<lp>\()"
    r"|(?P<rp>\))"
    r"|(?P<pct>%)"
    r"|(?P<cur>[$€£])"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.DOTALL,
)
_MIXED = re.compile(r"(\d+)\s*\\[dt]?frac\s*\{(\d+)\}\s*\{(\d+)\}")
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_BOXED = re.compile(r"\\(?:boxed|fbox|text|mathrm|textbf|mbox)\s*\{([^{}]*)\}")
_LIST_MARKER = re.compile(r"(?m)^(\s*)\d+[.)](?=\s)")
_REPLACEMENTS = (
    ("\\times", "×"), ("\\cdot", "×"), ("\\div", "÷"), ("\\approx", "≈"), ("\\$", "$"),
    ("\\%", "%"), ("{,}", ","), ("\\left", ""), ("\\right", ""), ("\\,", ""), ("\\!", ""),
    ("\\;", " "), ("\\ ", " "), ("\\(", " "), ("\\)", " "), ("\\[", " "), ("\\]", " "),
    ("−", "-"), ("∙", "×"), ("⋅", "×"), ("\\neq", "≠"), ("\\leq", "≤"), ("\\geq", "≥"),
    ("\\le", "≤"), ("\\ge", "≥"), ("\\lt", "<"), ("\\gt", ">"),
)  # fmt: skip


@dataclass
class Tok:
    kind: Kind
    text: str
    start: int
    end: int
    percent_of: bool = False  # an "of" after "%", read as ×


def parse_number(text: str) -> Fraction | None:
    """Value of a short answer such as ``"42"``, ``"$1,200"``, ``"\\frac{3}{4}"``, ``"12.5%"``.

    Trailing words (units) are ignored; anything else that is not plain arithmetic
    gives ``None``.
    """
    toks = [t for t in tokenize(normalize(text)) if t.kind != "cur"]
    while toks and toks[-1].kind in ("word", "other"):
        toks.pop()
    if not toks or any(t.kind not in MATH for t in toks):
        return None
    return evaluate(toks, percent=True)


# -- text to tokens ------------------------------------------------------------


def normalize(text: str) -> str:
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = _MIXED.sub(r"((\1)+(\2)/(\3))", text)  # 1\frac{1}{4} is one and a quarter
    previous = None
    while previous != text:  # innermost first, so nested fractions unfold
        previous = text
        text = _FRAC.sub(r"((\1)/(\2))", text)
        text = _BOXED.sub(r" \1 ", text)
    text = text.replace("{", "(").replace("}", ")")
    return _LIST_MARKER.sub(r"\1", text)


def tokenize(text: str) -> list[Tok]:
    toks: list[Tok] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "space" or kind is None:
            continue
        value = m.group()
        if kind == "pow":
            # "**" is markdown bold unless it sits between two numbers ("2**3").
            glued = bool(toks) and toks[-1].kind == "num" and toks[-1].end == m.start()
            nxt = text[m.end() : m.end() + 1]
            kind, value = ("op", "^") if glued and nxt.isdigit() else ("other", "**")
        elif kind == "op" and value in "*·":
            value = "×"
        toks.append(Tok(kind, value, m.start(), m.end()))  # type: ignore[arg-type]
    return word_operators(toks)


def word_operators(toks: list[Tok]) -> list[Tok]:
    """Turn "x", "times", "divided by", "% of" between numbers into operators."""
    out: list[Tok] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        # "60 students x 2/3": an operator may follow a number's unit word too.
        after_value = bool(out) and (
            out[-1].kind in VALUE_END
            or (
                out[-1].kind == "word" and len(out) > 1 and out[-2].kind in VALUE_END
                and out[-2].end < out[-1].start and tok.text.lower() in ("x", "times")
            )
        )  # fmt: skip
        if tok.kind == "word" and after_value:
            word = tok.text.lower()
            pair = (word, toks[i + 1].text.lower()) if i + 1 < len(toks) else None
            if pair in _TWO_WORD_OPS and starts_value(toks, i + 2):
                out.append(Tok("op", _TWO_WORD_OPS[pair], tok.start, toks[i + 1].end))
                i += 2
                continue
            percent_of = word == "of" and out[-1].kind == "pct"
            symbol = "×" if word == "x" or percent_of else _WORD_OPS.get(word)
            if symbol is not None and starts_value(toks, i + 1):
                out.append(Tok("op", symbol, tok.start, tok.end, percent_of))
                i += 1
                continue
        out.append(tok)
        i += 1
    return out


def starts_value(toks: list[Tok], i: int) -> bool:
    while i < len(toks) and toks[i].kind == "cur":
        i += 1
    return i < len(toks) and toks[i].kind in ("num", "lp")


# -- expressions ---------------------------------------------------------------


def number(text: str) -> Fraction:
    return Fraction(text.replace(",", ""))


def evaluate(toks: list[Tok], *, percent: bool) -> Fraction | None:
    parser = Parser([t for t in toks if t.kind != "cur"], percent=percent)
    try:
        value = parser.expression()
    except (ParseError, ZeroDivisionError, OverflowError):
        return None
    return value if parser.done() else None


class ParseError(Exception):
    pass


class Parser:
    """expr := term (+|- term)*; term := unary ((×|/|÷|implicit) unary)*;
    unary := (-|+) unary | power; power := postfix (^ unary)?; postfix := atom %*."""

    def __init__(self, toks: list[Tok], *, percent: bool) -> None:
        self.toks = toks
        self.pos = 0
        self.percent = percent

    def done(self) -> bool:
        return self.pos == len(self.toks)

    def _peek(self) -> Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def _take(self) -> Tok:
        tok = self._peek()
        if tok is None:
            raise ParseError("unexpected end")
        self.pos += 1
        return tok

    def expression(self) -> Fraction:
        value = self.term()
        while (tok := self._peek()) is not None and tok.kind == "op" and tok.text in "+-":
            self.pos += 1
            rhs = self.term()
            value = value + rhs if tok.text == "+" else value - rhs
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while (tok := self._peek()) is not None:
            if tok.kind == "op" and tok.text in "×/÷":
                self.pos += 1
                rhs = self.unary()
                value = value * rhs if tok.text == "×" else value / rhs
            elif tok.kind == "lp":
                value = value * self.unary()  # implicit: 2(3 + 4)
            else:
                break
        return value

    def unary(self) -> Fraction:
        tok = self._peek()
        if tok is not None and tok.kind == "op" and tok.text in "+-":
            self.pos += 1
            value = self.unary()
            return -value if tok.text == "-" else value
        return self.power()

    def power(self) -> Fraction:
        base = self.postfix()
        tok = self._peek()
        if tok is None or tok.kind != "op" or tok.text != "^":
            return base
        self.pos += 1
        exponent = self.unary()
        if exponent.denominator != 1 or abs(exponent) > _MAX_EXPONENT:
            raise ParseError("exponent out of range")
        if base == 0 and exponent < 0:
            raise ZeroDivisionError
        return base ** int(exponent)

    def postfix(self) -> Fraction:
        value = self.atom()
        while (tok := self._peek()) is not None and tok.kind == "pct":
            self.pos += 1
            if self.percent:
                value /= 100
        return value

    def atom(self) -> Fraction:
        tok = self._take()
        if tok.kind == "num":
            return number(tok.text)
        if tok.kind == "lp":
            value = self.expression()
            if self._take().kind != "rp":
                raise ParseError("unbalanced parenthesis")
            return value
        raise ParseError(f"unexpected {tok.text!r}")
