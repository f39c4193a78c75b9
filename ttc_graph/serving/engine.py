"""Runs the searches of many requests at once over one policy, within the server's limits.

Each admitted request becomes an asyncio task that streams its strategy graph
(``graph.astream(..., stream_mode=["custom", "values"])``) into a queue: search
events as the nodes emit them, then the result. All tasks run on the server's event
loop and reach the policy through ``asample``, so their generations meet in the
policy's dynamic batches (:mod:`ttc_graph.policy.batching`) exactly as
``graph.batch`` does, and cancelling a task (a client that went away, a timeout,
shutdown) stops its rows after their current token.

Admission: at most ``max_concurrent`` searches run; up to ``max_queue`` more wait
for a slot; one more is refused with a 429 at once. The timeout counts from
arrival, waiting included.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, cast

from langgraph.graph.state import CompiledStateGraph

from ttc_graph.errors import InputError
from ttc_graph.policy.base import Policy
from ttc_graph.serving.errors import APIError, bad_request
from ttc_graph.serving.options import ParsedRequest, ServeLimits, checked_options
from ttc_graph.strategies.context import RunOptions
from ttc_graph.strategies.options import OPTIONS
from ttc_graph.strategies.registry import SPECS, get_spec
from ttc_graph.verifiers.base import Verifier

log = logging.getLogger(__name__)

Kind = Literal["event", "result", "error"]


@dataclass
class Admission:
    """Counts running and waiting searches; refuses one over ``max_concurrent + max_queue``."""

    max_concurrent: int
    max_queue: int
    admitted: int = 0
    running: int = 0
    _slots: asyncio.Semaphore | None = None

    def admit(self) -> None:
        """Take a place (running or waiting), or raise a 429 :class:`APIError`."""
        if self.admitted >= self.max_concurrent + self.max_queue:
            raise APIError(
                429,
                f"The server is busy: {self.running} searches running and "
                f"{self.admitted - self.running} waiting (queue limit {self.max_queue}). "
                "Retry later.",
                type="rate_limit_error",
                code="queue_full",
            )
        self.admitted += 1

    async def start(self) -> None:
        """Wait for a running slot."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        await self._slots.acquire()
        self.running += 1

    def leave(self, *, started: bool) -> None:
        """Give back the place (and the slot, if the search had started)."""
        self.admitted -= 1
        if started and self._slots is not None:
            self.running -= 1
            self._slots.release()


@dataclass(eq=False)
class Search:
    """One admitted request's search: a task feeding ``(kind, item)`` pairs into a queue."""

    request: ParsedRequest
    graph: CompiledStateGraph[Any, Any, Any, Any]
    options: RunOptions
    """The run's options, checked by the graph's context schema."""
    queue: asyncio.Queue[tuple[Kind, Any]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    created: float = field(default_factory=time.monotonic)
    started: bool = False
    """Whether it got a running slot (it may still be waiting for one)."""

    def cancel(self) -> None:
        """Stop the search (its rows stop after their current token); safe to repeat."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def items(self) -> AsyncIterator[tuple[Kind, Any]]:
        """Events as they happen (``(event, unix time the server got it)``), then one
        ``result`` or ``error``; cancels the search if the consumer stops early."""
        try:
            while True:
                kind, item = await self.queue.get()
                yield kind, item
                if kind != "event":
                    return
        finally:
            self.cancel()

    async def result(self) -> dict[str, Any]:
        """Wait for the final state; raises the search's error (see :func:`from_exception`)."""
        async for kind, item in self.items():
            if kind == "result":
                return dict(item)
            if kind == "error":
                raise item
        raise APIError(500, "The search ended without a result.", type="server_error")


def check_defaults(defaults: Mapping[str, Any], *, verifier: bool) -> None:
    """Server-wide option defaults: each an option some strategy takes, and right for
    every strategy that takes it (checked as its graph will check it; no model)."""
    for name in defaults:
        if name not in OPTIONS:
            raise InputError(f"Unknown option {name!r}; options are: {', '.join(OPTIONS)}.")
        if not any(name in spec.options.names for spec in SPECS.values()):
            raise InputError(f"No strategy takes the option {name!r}.")
    for spec in SPECS.values():
        values = {k: v for k, v in defaults.items() if k in spec.options.names}
        spec.check(values, verifier=verifier or spec.needs_verifier)


class SearchEngine:
    """The searches of one server: verifiers, graphs, admission and running tasks.

    One compiled graph per strategy (and verifier a request names); a request's
    options are its run's context, checked by that graph before the search is queued.

    Args:
        policy: The policy every search samples from (shared; its batches are merged).
        verifier: A verifier spec (``"auto"``, ``"grounded"``, a directory, a hub id),
            a loaded :class:`~ttc_graph.verifiers.Verifier`, or ``None``: then
            strategies that need one get ``"auto"`` (as ``ttc-graph solve`` does) and
            the others get none.
        limits: Per-request and per-server limits.
        defaults: Run options every strategy that takes them defaults to (``n``,
            ``max_new_tokens``, ...); the rest are each strategy's own defaults.
        verifier_options: Passed to :func:`~ttc_graph.verifiers.load_verifier`.

    Example:
        >>> engine = SearchEngine(policy=load_policy(), verifier="grounded")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        policy: Policy,
        verifier: str | Verifier | None = None,
        limits: ServeLimits | None = None,
        defaults: Mapping[str, Any] | None = None,
        verifier_options: dict[str, Any] | None = None,
    ) -> None:
        self.policy = policy
        self.limits = limits or ServeLimits()
        self.defaults = dict(defaults or {})
        self.admission = Admission(self.limits.max_concurrent, self.limits.max_queue)
        self._explicit = verifier is not None
        self._default_spec = verifier if isinstance(verifier, str) else "auto"
        self._verifiers: dict[str, Verifier] = {}
        if isinstance(verifier, Verifier):
            self._default_spec = "default"
            self._verifiers["default"] = verifier
        self._verifier_options = dict(verifier_options or {})
        self._loading: dict[str, asyncio.Lock] = {}
        self._graphs: dict[tuple[str, str | None], CompiledStateGraph[Any, Any, Any, Any]] = {}
        self._building: dict[tuple[str, str | None], asyncio.Lock] = {}
        check_defaults(self.defaults, verifier=self._explicit)
        self._searches: set[Search] = set()
        self._executor: ThreadPoolExecutor | None = None
        self.finished: dict[str, int] = {
            "completed": 0,
            "failed": 0,
            "timed_out": 0,
            "cancelled": 0,
        }
        """How many searches ended each way since the server started (shown by /health)."""

    @property
    def default_verifier(self) -> str:
        """The spec of the server's own verifier (``"default"`` for a loaded object)."""
        return self._default_spec

    @property
    def running(self) -> int:
        """Searches running now."""
        return self.admission.running

    @property
    def waiting(self) -> int:
        """Searches admitted and waiting for a slot."""
        return self.admission.admitted - self.admission.running

    # -- life cycle ----------------------------------------------------------------

    async def open(self) -> None:
        """Prepare the event loop and load the default verifier (call once the loop runs).

        Sets the loop's default thread pool large enough for every running search:
        the policy's ``asample`` and the graphs' synchronous nodes run there, and
        asyncio's default (cores + 4 threads) would cap how many searches share a batch.
        """
        workers = max(32, 4 * self.limits.max_concurrent)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ttc-serve")
        asyncio.get_running_loop().set_default_executor(self._executor)
        await self._verifier(self._default_spec)

    async def close(self, *, grace_s: float = 5.0) -> None:
        """Cancel the searches still running and wait (at most ``grace_s``) for them to stop."""
        tasks = [s.task for s in self._searches if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace_s)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- requests ------------------------------------------------------------------

    async def prepare(
        self, request: ParsedRequest
    ) -> tuple[CompiledStateGraph[Any, Any, Any, Any], RunOptions]:
        """The strategy's graph and the request's options, checked by it (a 400 if wrong)."""
        graph = await self.graph(request.strategy, request.verifier)
        return graph, checked_options(request, cast(type[RunOptions], graph.context_schema))

    def start(
        self,
        request: ParsedRequest,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        options: RunOptions,
    ) -> Search:
        """Admit a request and start its search, or raise a 429 :class:`APIError`."""
        self.admission.admit()
        search = Search(request, graph, options)
        self._searches.add(search)
        search.task = asyncio.create_task(self._run(search))
        search.task.add_done_callback(partial(self._ended, search))
        return search

    async def _run(self, search: Search) -> None:
        request = search.request
        remaining = self.limits.timeout_s - (time.monotonic() - search.created)
        try:
            async with asyncio.timeout(remaining):
                await self.admission.start()
                search.started = True
                final: Any = {}
                stream = search.graph.astream(
                    {"question": request.messages},
                    stream_mode=["custom", "values"],
                    context=search.options,
                )
                async for mode, chunk in stream:
                    if mode == "custom":
                        search.queue.put_nowait(("event", (chunk, time.time())))
                    else:
                        final = chunk
            search.queue.put_nowait(("result", final))
            self.finished["completed"] += 1
        except TimeoutError:
            self.finished["timed_out"] += 1
            search.queue.put_nowait(("error", self._timeout_error()))
        except Exception as exc:
            self.finished["failed"] += 1
            log.warning("search failed: %s: %s", type(exc).__name__, exc)
            search.queue.put_nowait(("error", exc))

    def _ended(self, search: Search, task: asyncio.Task[None]) -> None:
        # A done callback rather than a `finally`: a task cancelled before its first
        # step never runs its body, and its place must be given back all the same.
        self.admission.leave(started=search.started)
        self._searches.discard(search)
        if task.cancelled():
            self.finished["cancelled"] += 1
            # Only a client still waiting reads this: the server is shutting down.
            cancelled = APIError(
                503,
                "The search was cancelled: the server is shutting down. Retry later.",
                type="server_error",
                code="cancelled",
            )
            search.queue.put_nowait(("error", cancelled))

    def _timeout_error(self) -> APIError:
        return APIError(
            408,
            f"The search did not finish within the server's timeout of "
            f"{self.limits.timeout_s:g} s (queueing included); ask for less "
            "(smaller N or max_tokens) or set ttc.budget to get the best answer found in time.",
            type="timeout",
            code="timeout",
        )

    # -- graphs and verifiers --------------------------------------------------------

    async def graph(
        self, strategy: str, verifier: str | None = None
    ) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The compiled graph of ``strategy`` with ``verifier`` (the server's own when
        ``None``), built on first use and then shared by every request."""
        spec = get_spec(strategy)
        wanted = verifier or (self._default_spec if self._explicit or spec.needs_verifier else None)
        key = (strategy, wanted)
        if key in self._graphs:
            return self._graphs[key]
        async with self._building.setdefault(key, asyncio.Lock()):
            if key not in self._graphs:
                loaded = await self._verifier(wanted) if wanted else None
                defaults = {k: v for k, v in self.defaults.items() if k in spec.options.names}
                try:
                    # Compiling takes milliseconds; off the event loop all the same.
                    self._graphs[key] = await asyncio.to_thread(
                        spec.build, policy=self.policy, verifier=loaded, **defaults
                    )
                except ValueError as exc:
                    raise bad_request(str(exc)) from exc
        return self._graphs[key]

    async def _verifier(self, spec: str | None) -> Verifier | None:
        if spec is None:
            return None
        if spec in self._verifiers:
            return self._verifiers[spec]
        lock = self._loading.setdefault(spec, asyncio.Lock())
        async with lock:
            if spec not in self._verifiers:
                from ttc_graph.verifiers import load_verifier

                self._verifiers[spec] = await asyncio.to_thread(
                    load_verifier, spec, policy=self.policy, **self._verifier_options
                )
        return self._verifiers[spec]
