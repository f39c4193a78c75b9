"""What a question gives to work with: its quantities and the operation each one cues.

``question_facts("Lily has 9 coins. She buys 3 more coins. How many ...?")``
gives the quantities 9 and 3, with 3 cued as an addition ("more"). The grounded
verifier (:mod:`ttc_graph.verifiers.grounded`) checks a solution's calculations
against these: operands should come from the question or from earlier results,
and a quantity cued as "more" should not be subtracted or multiplied.

The cue words are the ordinary vocabulary of word problems (GSM8K style), not
any one data set's phrasing; a sentence with no cue, or with cues for two
operations, cues nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

Cue = Literal["+", "-", "×", "/"]

_NUMBER = re.compile(r"(?<![\w.])\$?(\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?|\d+(?:\.\d+)?)")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]?")
_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "dozen": 12, "twice": 2,
    "double": 2, "doubles": 2, "triple": 3, "triples": 3, "half": 2, "halves": 2,
    "third": 3, "quarter": 4, "percent": 100,
}  # fmt: skip
_WORD_NUMBER = re.compile(r"\b(" + "|".join(_WORD_NUMBERS) + r")\b", re.IGNORECASE)

# Operation cues, most specific first: a multiplicative phrase wins over the
# additive words that often sit beside it ("three times as many more").
_CUES: tuple[tuple[Cue, re.Pattern[str]], ...] = (
    ("×", re.compile(r"\b(?:twice|double[sd]?|triple[sd]?|times\s+as\s+(?:many|much)"
                     r"|\d+\s+times\b|each\s+costs?|per\b|every\b)", re.I)),
    ("/", re.compile(r"\b(?:half|halves|halved|split|shared?\s+equally|divided|"
                     r"equally\s+among|a\s+third|a\s+quarter)\b", re.I)),
    ("-", re.compile(r"\b(?:loses|lost|sells|sold|gives\s+(?:away\s+)?\S+(?:\s+\S+)?\s+to\b"
                     r"|gave\s+\S+(?:\s+\S+)?\s+to\b|gives\s+away|spends?|spent|eats|ate|uses"
                     r"|used|breaks|broke|drops|donates|removes|fewer|less|left|minus"
                     r"|takes\s+away|pays|paid)", re.I)),
    ("+", re.compile(r"\b(?:more|buys|bought|finds|found|gets|got|receives|received|gains"
                     r"|earns|earned|collects|adds|picks|plus|another|extra|in\s+total"
                     r"|altogether|combined)\b", re.I)),
)  # fmt: skip


@dataclass(frozen=True)
class QuestionFacts:
    """The quantities of a question, the implicit ones, and the operation each is cued with."""

    quantities: tuple[Fraction, ...]
    """Numbers written with digits, in order of appearance."""
    implicit: frozenset[Fraction] = field(default_factory=frozenset)
    """Numbers written as words ("twice" → 2, "half" → 2, "dozen") anywhere in it."""
    cues: dict[Fraction, frozenset[Cue]] = field(default_factory=dict)
    """The operations the sentences of a quantity ask for (one per cued sentence)."""
    cued_words: tuple[Fraction, ...] = ()
    """Word quantities that carry an operation ("three times as many"): a full
    solution uses each of them as well as the digit quantities."""

    @property
    def needed(self) -> Counter[Fraction]:
        """What a full solution should use, with multiplicity."""
        return Counter(self.quantities) + Counter(self.cued_words)

    @property
    def known(self) -> frozenset[Fraction]:
        """Every number a solution may use without computing it first."""
        return frozenset(self.quantities) | self.implicit


def _value(text: str) -> Fraction:
    return Fraction(text.replace(",", "").lstrip("$"))


def sentence_cue(sentence: str) -> Cue | None:
    """The one operation a sentence cues, or ``None`` when it cues none or several."""
    for cue, pattern in _CUES:
        if pattern.search(sentence):
            return cue
    return None


def question_facts(question: str) -> QuestionFacts:
    """Read the quantities of ``question`` and the operation cued with each.

    The question's last sentence (what is asked) cues nothing: "How many are
    left?" does not make the quantities before it subtractions.
    """
    quantities: list[Fraction] = []
    implicit: set[Fraction] = set()
    cues: dict[Fraction, set[Cue]] = {}
    cued_words: list[Fraction] = []
    sentences = [s for s in _SENTENCE.findall(question) if s.strip()]
    for k, sentence in enumerate(sentences):
        asked = k == len(sentences) - 1 and "?" in sentence
        cue = None if asked else sentence_cue(sentence)
        numbers = [_value(m.group(1)) for m in _NUMBER.finditer(sentence)]
        words = [
            Fraction(_WORD_NUMBERS[m.group(1).lower()]) for m in _WORD_NUMBER.finditer(sentence)
        ]
        quantities.extend(numbers)
        implicit.update(words)
        if cue in ("×", "/") and words and not numbers:
            # "ends up with three times as many": the factor is the word.
            numbers = words
            cued_words.extend(words)
        if cue is not None:
            for value in numbers:
                cues.setdefault(value, set()).add(cue)
    frozen = {value: frozenset(ops) for value, ops in cues.items()}
    return QuestionFacts(tuple(quantities), frozenset(implicit), frozen, tuple(cued_words))
