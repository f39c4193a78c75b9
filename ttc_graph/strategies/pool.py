"""A token budget shared by a batch of questions (adaptive's ``budget=TokenPool(...)``)."""

from __future__ import annotations

import threading

from ttc_graph.errors import InputError
from ttc_graph.limits import check_count


class TokenPool:
    """A token budget shared by a batch of ``questions`` questions.

    ``tokens_per_question × questions`` tokens in all. Each question's first round
    is set aside up front, so no question is starved of its first look; every
    later round takes from what is left, and a question that stops early leaves
    its unspent share to those still open. Thread-safe: pass one pool to the
    graph and run ``graph.batch(questions)``. Made for one batch: a pool refuses
    a question beyond ``questions``.

    Which open question gets the last tokens depends on the order their rounds
    ask (in :func:`replay`, round-robin in dataset order; in a threaded batch,
    whichever asks first), so a pooled batch is reproducible as a whole only in
    replay; every question's own candidates are the same either way.

    Example:
        >>> pool = TokenPool(tokens_per_question=500, questions=len(questions))
        >>> graph = create_adaptive(policy=p, verifier=v, budget=pool)  # doctest: +SKIP
        >>> results = graph.batch([{"question": q} for q in questions])  # doctest: +SKIP
    """

    def __init__(self, *, tokens_per_question: int, questions: int) -> None:
        check_count(
            tokens_per_question, name="tokens_per_question", limit=2**40, why="a token count"
        )
        check_count(questions, name="questions", limit=2**20, why="one pool per batch")
        self.tokens_per_question = tokens_per_question
        self.questions = questions
        self.total = tokens_per_question * questions
        self._spent = 0
        self._reserved = 0
        self._started = 0
        self._first_round = 0
        self._lock = threading.Lock()

    def set_first_round(self, tokens: int) -> None:
        """The most one question's first round can cost (set by the graph)."""
        if tokens > self.tokens_per_question:
            raise InputError(
                f"The pool gives {self.tokens_per_question} tokens per question, fewer than "
                f"one first round ({tokens}: round_size × max_new_tokens); raise "
                "tokens_per_question or lower round_size / max_new_tokens."
            )
        with self._lock:
            self._first_round = max(self._first_round, tokens)

    @property
    def spent(self) -> int:
        """Tokens spent so far."""
        return self._spent

    def available(self) -> int:
        """Tokens a later round may take now (first rounds not yet run are set aside)."""
        with self._lock:
            return self._available()

    def _available(self) -> int:
        aside = (self.questions - self._started) * self._first_round
        return max(0, self.total - self._spent - self._reserved - aside)

    def start(self, tokens: int) -> None:
        """Reserve a question's first round (always granted: it was set aside)."""
        with self._lock:
            if self._started >= self.questions:
                raise InputError(
                    f"This TokenPool was made for {self.questions} questions and all have "
                    "started; make one pool per batch (questions=len(batch))."
                )
            self._started += 1
            self._reserved += tokens

    def reserve(self, tokens: int) -> int:
        """Reserve up to ``tokens`` for a later round; returns what was granted."""
        with self._lock:
            granted = min(tokens, self._available())
            self._reserved += granted
            return granted

    def settle(self, reserved: int, used: int) -> None:
        """A round reserved ``reserved`` tokens and used ``used``: the rest goes back."""
        with self._lock:
            self._reserved -= reserved
            self._spent += used
