"""The server's settings: address and limits (a request's defaults are the strategies' own).

Apart from the request parsing in :mod:`ttc_graph.serving.options` (pydantic,
LangChain) so that ``ttc-graph serve --help`` can show them without loading those.
"""

from __future__ import annotations

from dataclasses import dataclass

from ttc_graph.errors import InputError
from ttc_graph.limits import MAX_N, MAX_NEW_TOKENS, N_WHY, TOKENS_WHY, check_count, check_finite

DEFAULT_HOST = "127.0.0.1"
"""Loopback only: reaching the server from elsewhere is a choice (``--host 0.0.0.0``)."""
DEFAULT_PORT = 8000


@dataclass(frozen=True)
class ServeLimits:
    """Per-request and per-server limits of ``ttc-graph serve``.

    Each per-request limit is at most the project-wide one of :mod:`ttc_graph.limits`.

    Example:
        >>> ServeLimits(max_n=16, timeout_s=60.0).max_n
        16
    """

    max_n: int = 64
    """Most candidates (N) one request may ask for."""
    max_tokens: int = 1024
    """Most new tokens per solution (or per step) one request may ask for."""
    timeout_s: float = 300.0
    """A request still running after this many seconds (queueing included) gets a 408."""
    max_body_bytes: int = 1 << 20
    """Larger request bodies get a 413."""
    max_concurrent: int = 16
    """Searches that run at once; their policy calls share batches."""
    max_queue: int = 64
    """Requests that may wait for a running slot; one more gets a 429."""

    def __post_init__(self) -> None:
        check_count(self.max_n, name="max_n", limit=MAX_N, why=N_WHY)
        check_count(self.max_tokens, name="max_tokens", limit=MAX_NEW_TOKENS, why=TOKENS_WHY)
        if check_finite(self.timeout_s, name="timeout_s", low=0.0) <= 0:
            raise InputError(f"timeout_s must be > 0, got {self.timeout_s}.")
        check_count(self.max_body_bytes, name="max_body_bytes", limit=2**31, why="2 GiB cap")
        check_count(self.max_concurrent, name="max_concurrent", limit=1024, why="threads")
        check_count(self.max_queue, name="max_queue", limit=100_000, why="memory", minimum=0)
