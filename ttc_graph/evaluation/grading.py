"""Grade answers against references with math-verify (via :mod:`ttc_graph.answers`)."""

from __future__ import annotations

from ttc_graph.answers import answers_equal, extract_answer


def grade(predicted: str | None, reference: str) -> bool:
    r"""Whether an extracted answer matches the reference (``\frac{1}{2}`` equals ``0.5``).

    ``None`` (the model gave no answer) is always wrong.
    """
    return answers_equal(predicted, reference)


def grade_completion(text: str, reference: str) -> bool:
    """Extract the final answer of a whole completion, then :func:`grade` it."""
    return grade(extract_answer(text), reference)
