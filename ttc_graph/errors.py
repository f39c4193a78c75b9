"""Exceptions raised by ttc-graph.

Every error a user can trigger with bad input is a :class:`TTCGraphError`; those
caused by a bad argument, file or setting are an :class:`InputError`, which also
subclasses :class:`ValueError`, so that callers who only know the standard
library can still catch them (``except ValueError`` keeps working).

A plain ``ValueError`` from inside ttc-graph signals a broken internal invariant
(a bug), not bad input; mid-search it is wrapped in a :class:`StrategyError`.
"""

from __future__ import annotations

from functools import partial
from typing import Any


class TTCGraphError(Exception):
    """Base class of every exception raised on purpose by ttc-graph."""


class InputError(TTCGraphError, ValueError):
    """A bad argument, input or setting; the message says what to change.

    Raised before any work where it can be: strategies check their arguments when
    the graph is built, the CLI before a model is loaded.
    """


class ModelLoadError(InputError):
    """A policy or verifier model could not be loaded; the message says how to fix it."""


class ServerError(TTCGraphError, RuntimeError):
    """A served model (a PRM behind vLLM's pooling endpoint) could not be reached or
    answered with an error; the message names the URL and what to check."""


class InputTooLongError(InputError):
    """A prompt does not fit the model's context; the message says how to make it fit."""


class StrategyError(TTCGraphError):
    """A search failed part-way; names the strategy, the iteration and the cause.

    The original exception is chained as ``__cause__``. With a checkpointer the
    search can be resumed from its last completed step once the cause is fixed.
    """

    def __init__(
        self,
        message: str,
        *,
        strategy: str,
        iteration: int | None = None,
        node: str | None = None,
    ) -> None:
        super().__init__(message)
        self.strategy = strategy
        self.iteration = iteration
        self.node = node

    def __reduce__(self) -> tuple[Any, ...]:
        # Checkpointers and process pools pickle errors; the keyword-only fields
        # would otherwise be lost (and unpickling would fail).
        rebuild = partial(
            StrategyError, strategy=self.strategy, iteration=self.iteration, node=self.node
        )
        return (rebuild, self.args, self.__dict__)


class VerifierTrainingError(InputError):
    """A verifier cannot be trained on this data or with these settings; says what to change."""


class LimitError(InputError):
    """A value is of the wrong type, not finite, or beyond a limit of :mod:`ttc_graph.limits`;
    the message states the limit and why it exists."""


class OutputPathError(InputError):
    """An output file cannot be written where it was asked for; checked before any work."""


class OutputWriteError(TTCGraphError, OSError):
    """Writing an output file failed (disk full, permissions, a vanished directory).

    Names the file asked for, never a temporary file beside it."""


class ResultStoreError(InputError):
    """An evaluation's results database is damaged or not a ttc-graph database.

    It is never replaced or started over silently: the message says what is wrong
    and how to recover."""
