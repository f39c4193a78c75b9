"""Retries for transient faults, and signals that stop a generation part-way.

Strategy graphs retry the nodes that call a model (:data:`DEFAULT_RETRY`) when the
failure is one that may go away on its own: a timeout, a dropped connection, an
HTTP 5xx / 429 from a served model, or the accelerator running out of memory
(its cache is freed before the retry). Anything else fails at once.

A :class:`StopSignal` lets a caller end a running ``model.generate`` early: the
awaiting task was cancelled, or the search's time budget ran out. It is checked
after every generated token by :class:`ttc_graph.policy.generation.StopRows`, one
flag per batch row, so stopping one caller never cuts short the rows of another
caller sharing the batch.

The strategies import this module (retries, deadlines), so it imports neither
torch nor transformers: a torch error can only come from a process that already
imported torch, so it is looked up in ``sys.modules`` when a failure is judged.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import RetryPolicy

from ttc_graph.errors import InputError, StrategyError

_RETRYABLE_STATUS = frozenset({408, 429})


def _status_code(exc: BaseException) -> int | None:
    # httpx/requests errors carry .response.status_code, openai's carry .status_code.
    for holder in (exc, getattr(exc, "response", None)):
        status = getattr(holder, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _is_out_of_memory(exc: BaseException) -> bool:
    torch = sys.modules.get("torch")  # not imported: no torch call can have failed
    if torch is None:
        return False
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom)


def _network_error_types() -> tuple[type[BaseException], ...]:
    # Only modules already imported can have raised; importing them here would
    # make every retry decision pay for libraries the user never loaded.
    found: list[type[BaseException]] = []
    for module, names in (
        ("httpx", ("TransportError",)),
        ("requests", ("ConnectionError", "Timeout")),
        ("openai", ("APIConnectionError", "APITimeoutError")),
    ):
        loaded = sys.modules.get(module)
        for name in names:
            cls = getattr(loaded, name, None) if loaded is not None else None
            if isinstance(cls, type) and issubclass(cls, BaseException):
                found.append(cls)
    return tuple(found)


def free_accelerator_memory() -> None:
    """Release cached GPU memory so that a retried generation can allocate again."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_transient(exc: BaseException) -> bool:
    """Whether a failed model call is worth retrying.

    True for timeouts, dropped connections, HTTP 5xx / 408 / 429 responses and
    accelerator out-of-memory errors (after freeing the cache); False for
    everything else, e.g. bad input, a broken model, or a bug. A
    :class:`~ttc_graph.errors.StrategyError` is judged by its cause.
    """
    if isinstance(exc, StrategyError) and exc.__cause__ is not None:
        exc = exc.__cause__
    if _is_out_of_memory(exc):
        free_accelerator_memory()
        return True
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    status = _status_code(exc)
    if status is not None:
        return 500 <= status < 600 or status in _RETRYABLE_STATUS
    return isinstance(exc, _network_error_types())


def transient_retry(
    *, max_attempts: int = 3, initial_interval: float = 0.5, max_interval: float = 8.0
) -> RetryPolicy:
    """A LangGraph retry policy that retries only :func:`is_transient` failures."""
    if not isinstance(max_attempts, int) or max_attempts < 1:
        raise InputError(f"max_attempts must be an integer >= 1, got {max_attempts!r}.")
    if initial_interval < 0 or max_interval < 0:
        raise InputError("Retry intervals must be >= 0 seconds.")
    return RetryPolicy(
        initial_interval=initial_interval,
        backoff_factor=2.0,
        max_interval=max_interval,
        max_attempts=max_attempts,
        jitter=True,
        retry_on=is_transient,
    )


DEFAULT_RETRY = transient_retry()
"""Three attempts, 0.5 s then 1 s apart, for transient failures only."""


def check_retry(retry: Any) -> RetryPolicy | None:
    """Validate a strategy's ``retry=`` argument (``None`` turns retries off)."""
    if retry is None or isinstance(retry, RetryPolicy):
        return retry
    raise InputError(
        "retry must be a langgraph.types.RetryPolicy, e.g. ttc_graph.reliability."
        f"transient_retry(max_attempts=5), or None for no retries; got {type(retry).__name__}."
    )


# -- stopping a generation part-way ----------------------------------------------

_DEADLINE: ContextVar[float | None] = ContextVar("ttc_graph_generation_deadline", default=None)


@contextmanager
def deadline_scope(deadline: float | None) -> Iterator[None]:
    """Generations started inside the block stop at ``deadline`` (``time.monotonic()``).

    A context variable rather than an argument, so that it reaches the policy
    through any call chain (LangChain's ``generate``, worker threads) unchanged.
    """
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def current_deadline() -> float | None:
    """The deadline set by the innermost :func:`deadline_scope`, if any."""
    return _DEADLINE.get()


@dataclass
class StopSignal:
    """Why one caller's rows should stop: it gave up, or its deadline passed."""

    cancelled: threading.Event = field(default_factory=threading.Event)
    deadline: float | None = None

    def cancel(self) -> None:
        """Stop the caller's rows after their current token."""
        self.cancelled.set()

    def should_stop(self, now: float | None = None) -> bool:
        """Whether the rows of this caller should stop now."""
        if self.cancelled.is_set():
            return True
        return self.deadline is not None and (now or time.monotonic()) >= self.deadline
