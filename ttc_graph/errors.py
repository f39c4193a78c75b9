"""Exceptions raised by ttc-graph.

Every error a user can trigger with bad input is a :class:`TTCGraphError`; the
ones caused by a bad argument also subclass :class:`ValueError` so that callers
who only know the standard library can still catch them.
"""

from __future__ import annotations


class TTCGraphError(Exception):
    """Base class of every exception raised on purpose by ttc-graph."""


class ModelLoadError(TTCGraphError, ValueError):
    """A policy or verifier model could not be loaded; the message says how to fix it."""


class StrategyError(TTCGraphError):
    """A search failed part-way; names the strategy, the iteration and the cause."""

    def __init__(self, message: str, *, strategy: str, iteration: int | None = None) -> None:
        super().__init__(message)
        self.strategy = strategy
        self.iteration = iteration
