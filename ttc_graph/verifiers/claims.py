"""Find the calculations a piece of text claims and check them with exact arithmetic.

``find_claims("12 + 30 = 42 apples, then 42 × 2 = 86")`` returns two claims, the
second of which does not hold. Numbers are :class:`fractions.Fraction`, the
expression parser is a small recursive-descent one (never ``eval``), and every
rule errs on the side of *not* reading a claim: algebra (``2x + 3 = 7``), function
values (``f(3) = 9``), ratios (``3:4``), factorials and unit conversions are
skipped rather than judged, because a false "wrong" hurts search more than a
missed check.

Recognised: ``+ - * / × x ÷ · ^``, ``times``/``plus``/``minus``/``divided by``/
``multiplied by`` between numbers, parentheses and implicit ``2(3 + 4)``,
decimals, thousands separators, ``$``/``€``/``£``, percentages (``20% of 50``),
LaTeX ``\\frac``, ``\\times``, ``\\cdot``, ``\\div``, ``\\boxed``, GSM8K
calculator annotations ``<<16-3-4=9>>``, chains ``2 + 3 = 5 + 1 = 6`` (read as a
running total when the next side starts with the previous result), ``≈``, and a
unit word after a number when every such word in the chain is the same
(``12 apples + 30 apples = 42 apples``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ttc_graph.verifiers.tokens import (
    MATH,
    VALUE_END,
    Tok,
    evaluate,
    normalize,
    number,
    starts_value,
    tokenize,
)
from ttc_graph.verifiers.word_claims import find_word_claims, relations_as_equals

# Words that, right before a number, make the left side of "=" incomplete or not
# arithmetic at all ("half of 10 = 5", "4 squared = 16", "log 100 = 2").
_CONNECTORS = {
    "of", "times", "by", "per", "over", "into", "than", "half", "twice", "double",
    "triple", "quarter", "third", "squared", "cubed", "root", "sqrt", "choose", "mod",
    "modulo", "log", "ln", "sin", "cos", "tan", "exp", "factorial", "power", "pi", "x",
}  # fmt: skip
# Nouns that name the calculation after their "of" rather than scale it.
_RESULT_NOUNS = {"total", "sum", "result", "difference", "product", "value"}
# LaTeX commands that separate statements; any other command next to a number
# ("5 \star 1", "4 \pi", "\sqrt{16}") makes that side something we cannot evaluate.
_SAFE_COMMANDS = {
    "\\rightarrow", "\\Rightarrow", "\\implies", "\\Longrightarrow", "\\to", "\\quad",
    "\\qquad", "\\therefore", "\\because", "\\iff", "\\text", "\\hline", "\\end", "\\begin",
}  # fmt: skip
# Words that scale a number, so they are never a droppable unit ("3 dozen + 2").
_NOT_UNITS = _CONNECTORS | {
    "dozen", "hundred", "hundreds", "thousand", "thousands", "million", "millions",
    "billion", "billions", "trillion", "percent", "and", "or", "plus", "minus", "is",
    "are", "was", "equals", "equal", "gives", "makes", "then", "so", "the", "a", "an",
}  # fmt: skip
_SAFE_GLUE = set("\"'“”‘’*[]#")
_ANNOTATION = re.compile(r"<<([^<>]*)>>")


@dataclass(frozen=True)
class Claim:
    """One checked calculation: ``text`` claims that ``left`` equals ``right``."""

    text: str
    left: Fraction
    right: Fraction
    holds: bool
    operands: tuple[Fraction, ...] = ()
    """The numbers the left side is computed from, in order (for grounding)."""
    ops: tuple[str, ...] = ()
    """Its operators: ``+ - × /`` (``^`` and ``%`` as written)."""


@dataclass
class _Side:
    """One side of an equation: its tokens and what they evaluate to."""

    toks: list[Tok]
    exact: Fraction | None  # % as /100
    plain: Fraction | None  # % ignored
    has_pct: bool
    pct_of: bool
    has_cur: bool
    has_op: bool
    literal_decimals: int | None  # decimals of a side that is one written number
    leading: Fraction | None  # the first number, when more follows it


def find_claims(text: str) -> list[Claim]:
    """Every arithmetic claim in ``text`` that can be read unambiguously, checked."""
    found: list[Claim] = []
    for inner in _ANNOTATION.findall(text):
        found.extend(_claims_in(normalize(inner)))
    prose = relations_as_equals(_ANNOTATION.sub("", text))
    found.extend(_claims_in(normalize(prose)))
    symbolic = {(c.left, c.right) for c in found}
    for w in find_word_claims(prose):
        if (w.left, w.right) not in symbolic:  # "the sum of 2 and 3 is 2 + 3 = 5"
            found.append(Claim(w.text, w.left, w.right, w.left == w.right, w.operands, (w.op,)))
    # "16-3-4=<<16-3-4=9>>9" states one calculation twice; count it once.
    unique: dict[tuple[str, Fraction, Fraction], Claim] = {}
    for claim in found:
        unique.setdefault(("".join(claim.text.split()), claim.left, claim.right), claim)
    return list(unique.values())


# -- spans, sides and claims ---------------------------------------------------


def _claims_in(text: str) -> list[Claim]:
    toks = tokenize(text)
    claims: list[Claim] = []
    i = 0
    while i < len(toks):
        if toks[i].kind not in MATH:
            i += 1
            continue
        j = i
        while j < len(toks) and toks[j].kind in MATH:
            j += 1
        if any(t.kind in ("eq", "approx") for t in toks[i:j]):
            found, j = _check_span(text, toks, i, j)
            claims.extend(found)
        i = j
    return claims


def _check_span(text: str, toks: list[Tok], i: int, j: int) -> tuple[list[Claim], int]:
    """Claims of the span ``toks[i:j]`` (widened over unit words), and where it ends."""
    i, j, units = _widen_over_units(toks, i, j)
    if units is None:
        return [], j  # mixed units ("2 hours + 30 minutes"): not arithmetic we can judge
    span = [t for t in toks[i:j] if t.kind != "word"]
    relations: list[str] = []
    groups: list[list[Tok]] = [[]]
    for tok in span:
        if tok.kind in ("eq", "approx"):
            relations.append(tok.kind)
            groups.append([])
        else:
            groups[-1].append(tok)
    sides: list[_Side | None] = [_side(g) for g in groups]
    if not _left_is_complete(toks, i, span):
        sides[0] = None
    if not _right_is_complete(toks, j, span):
        sides[-1] = None
    claims = []
    for k, relation in enumerate(relations):
        left, right = sides[k], sides[k + 1]
        if left is None or right is None or not (left.has_op or right.has_op):
            continue  # labels like "Step 1 = 5" or "x = 5" are not calculations
        claim = _compare(text, left, right, approx=relation == "approx")
        if claim is not None:
            claims.append(claim)
    return claims, j


def _widen_over_units(toks: list[Tok], i: int, j: int) -> tuple[int, int, str | None]:
    """Widen a span over unit words; ``None`` units when they differ.

    Spans break at words, so "12 apples + 30 apples = 42" arrives as three spans;
    a word between a number and an operator is a unit, and joining across it
    recovers the calculation.
    """
    # Extend the span leftwards and rightwards over "number unit operator" patterns.
    units: set[str] = set()
    start, end = i, j
    while start >= 2 and _is_unit(toks, start - 1) and toks[start - 2].kind in MATH:
        first = start - 2
        while first > 0 and toks[first - 1].kind in MATH:
            first -= 1
        units.add(_unit_key(toks[start - 1]))
        start = first
    while end + 1 < len(toks) and _is_unit(toks, end) and toks[end + 1].kind in MATH:
        last = end + 1
        while last < len(toks) and toks[last].kind in MATH:
            last += 1
        units.add(_unit_key(toks[end]))
        end = last
    if len(units) > 1:
        return start, end, None
    if units and end < len(toks) and toks[end].kind == "word" and not _is_glued(toks, end):
        # A trailing unit must match the others ("... = 150 minutes" after hours).
        trailing = _unit_key(toks[end])
        if trailing not in units and toks[end].text.lower() not in _NOT_UNITS:
            return start, end, None
    return start, end, next(iter(units), "")


def _is_unit(toks: list[Tok], k: int) -> bool:
    """A word between a number and an operator or "=" that can be dropped."""
    tok = toks[k]
    if tok.kind != "word" or len(tok.text) < 2 or tok.text.lower() in _NOT_UNITS:
        return False
    prev_ok = k > 0 and toks[k - 1].kind in ("num", "pct") and not _is_glued(toks, k)
    next_ok = k + 1 < len(toks) and toks[k + 1].kind in ("op", "eq", "approx")
    # "a 3 year-old" is a compound word, not "3 years minus old".
    return prev_ok and next_ok and not (toks[k + 1].text == "-" and _is_glued(toks, k + 1))


def _unit_key(tok: Tok) -> str:
    word = tok.text.lower()
    return word[:-1] if word.endswith("s") and len(word) > 2 else word


def _is_glued(toks: list[Tok], k: int) -> bool:
    """True when token ``k`` touches the token before it (no space between)."""
    return k > 0 and toks[k - 1].end == toks[k].start


def _left_is_complete(toks: list[Tok], i: int, span: list[Tok]) -> bool:
    first = span[0]
    prev = toks[i - 1] if i > 0 else None
    if first.kind == "op":
        # Only a sign written against its number ("-3", "<<+30+46=76>>") opens an
        # expression; after a word it is a subtraction from a variable ("x - 3 = 5").
        unary = first.text in "+-" and len(span) > 1 and span[1].start == first.end
        if not unary or (prev is not None and prev.kind in ("word", "cmd")):
            return False
    if prev is None:
        return True
    glued = prev.end == first.start
    if prev.kind == "cmd" and prev.text not in _SAFE_COMMANDS:
        return False
    named = not glued and _names_a_result(toks, i - 1)  # "a total of 2 x 2 = 4"
    if prev.kind == "word" and (glued or prev.text.lower() in _CONNECTORS) and not named:
        return False
    if prev.kind == "other" and glued and prev.text not in _SAFE_GLUE:
        return False
    # "3:30" or "C(5,2)": a separator glued to numbers on both sides. With a space
    # after it ("add 41 and 25, 25 + 41 = 66") it only ends a clause.
    return not (
        prev.kind == "other" and prev.text in ":,.;" and i >= 2 and toks[i - 2].end == prev.start
        and toks[i - 2].kind in VALUE_END and glued
    )  # fmt: skip


def _names_a_result(toks: list[Tok], k: int) -> bool:
    """Token ``k`` is the "of" of "a total of", "the result of": a name for what follows,
    not a scaling ("half of 10 = 5", "3/4 of 12 = 9"), so "a total of 2 x 2 = 4" is read."""
    return (
        toks[k].text.lower() == "of"
        and k >= 1
        and toks[k - 1].kind == "word"
        and toks[k - 1].text.lower() in _RESULT_NOUNS
    )


def _right_is_complete(toks: list[Tok], j: int, span: list[Tok]) -> bool:
    if span[-1].kind in ("op", "eq", "approx", "lp"):
        return False
    nxt = toks[j] if j < len(toks) else None
    if nxt is None:
        return True
    glued = nxt.start == span[-1].end
    if nxt.kind == "cmd" and nxt.text not in _SAFE_COMMANDS:
        return False
    if nxt.kind == "word" and (glued or nxt.text.lower() in _CONNECTORS):
        # "= 3/4 of the pizza" is complete; "= 3/4 of 12" is not.
        return nxt.text.lower() == "of" and not starts_value(toks, j + 1)
    if nxt.kind == "other" and glued:
        if nxt.text in "!^_'":
            return False
        # "3:45", "3,45", "0.\overline{3}": the number goes on past the separator.
        after = toks[j + 1] if j + 1 < len(toks) else None
        if nxt.text in ":,;." and after is not None and after.start == nxt.end:
            return after.kind not in ("num", "word", "cmd")
    return True


def _side(group: list[Tok]) -> _Side | None:
    toks = _balance(group)
    core = [t for t in toks if t.kind != "cur"]
    if not core:
        return None
    exact = evaluate(core, percent=True)
    plain = evaluate(core, percent=False)
    if exact is None and plain is None:
        return None
    # A leading sign ("-12") is part of a number, not a calculation.
    has_op = any(t.kind == "pct" or (t.kind == "op" and k > 0) for k, t in enumerate(core))
    nums = [t for t in core if t.kind == "num"]
    decimals = None
    if len(core) == 1 and core[0].kind == "num":
        decimals = len(core[0].text.partition(".")[2])
    leading = None
    if len(core) >= 3 and core[0].kind == "num" and core[1].kind == "op":
        leading = number(core[0].text)
    return _Side(
        toks=toks,
        exact=exact,
        plain=plain,
        has_pct=any(t.kind == "pct" for t in core),
        pct_of=any(t.percent_of for t in core),
        has_cur=any(t.kind == "cur" for t in toks),
        has_op=has_op and bool(nums),
        literal_decimals=decimals,
        leading=leading,
    )


def _balance(group: list[Tok]) -> list[Tok]:
    """Drop an unmatched "(" at the start or ")" at the end: "(2 + 3 = 5)"."""
    toks = list(group)
    while toks and toks[0].kind == "lp" and _depth(toks) > 0:
        toks = toks[1:]
    while toks and toks[-1].kind == "rp" and _depth(toks) < 0:
        toks = toks[:-1]
    return toks


def _depth(toks: list[Tok]) -> int:
    return sum(1 for t in toks if t.kind == "lp") - sum(1 for t in toks if t.kind == "rp")


def _compare(text: str, left: _Side, right: _Side, *, approx: bool) -> Claim | None:
    snippet = text[left.toks[0].start : right.toks[-1].end] if left.toks and right.toks else ""
    modes: list[tuple[Fraction | None, Fraction | None]]
    if left.has_pct != right.has_pct and not (left.pct_of or right.pct_of):
        if left.has_cur or right.has_cur:
            return None  # "20% = $10": a share and an amount, not one number
        # "100% - 20% = 80": percentage points or a fraction; either reading may hold.
        modes = [(left.exact, right.exact), (left.plain, right.plain)]
        lenient = True
    else:
        modes = [(left.exact, right.exact)]
        lenient = False
    operands, ops = _parts(left if left.has_op else right)
    for lv, rv in modes:
        if lv is not None and rv is not None and _holds(lv, rv, right, approx=approx):
            return Claim(snippet, lv, rv, True, operands, ops)
    lv, rv = modes[0]
    if lv is None or rv is None:
        return None
    if right.leading is not None and right.leading == lv:
        # Running total: "2 + 3 = 5 + 1 = 6" claims 2 + 3 = 5, then 5 + 1 = 6.
        snippet = text[left.toks[0].start : right.toks[0].end]
        return Claim(snippet, lv, right.leading, True, operands, ops)
    if lenient:
        return None
    return Claim(snippet, lv, rv, False, operands, ops)


def _parts(side: _Side) -> tuple[tuple[Fraction, ...], tuple[str, ...]]:
    """The numbers and operators a side is computed from."""
    operands = tuple(number(t.text) for t in side.toks if t.kind == "num")
    ops = tuple(t.text for t in side.toks if t.kind in ("op", "pct"))
    return operands, ops


def _holds(value: Fraction, claimed: Fraction, right: _Side, *, approx: bool) -> bool:
    if value == claimed:
        return True
    decimals = right.literal_decimals
    error = abs(value - claimed)
    if approx:
        unit = Fraction(1, 10**decimals) if decimals is not None else Fraction(0)
        return error <= max(unit, abs(value) / 100)
    # A written decimal may round the exact value: 10 / 3 = 3.33.
    return decimals is not None and decimals > 0 and error * 2 <= Fraction(1, 10**decimals)
