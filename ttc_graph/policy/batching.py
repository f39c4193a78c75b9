"""Merge concurrent generation calls into one batch (dynamic batching).

``graph.batch`` over many questions runs one graph per question in worker
threads; each graph asks the policy for its own candidates. Run one by one,
those calls would leave most of a batched forward pass unused. The coalescer
waits a few milliseconds after the first caller, then generates for every caller
that arrived with compatible sampling settings in one ``generate`` call.
Per-row seeding makes the merged result identical to separate calls.

Every ``generate`` runs on one worker thread per policy (started on demand, gone
after a few idle seconds). Besides serialising the model, this keeps the large
tensor allocations in one malloc arena: spread over many caller threads, glibc
keeps a growing arena per thread and resident memory creeps up.

A caller that gives up (its task was cancelled) fires its :class:`StopSignal`:
its rows stop after their current token while the rows of the other callers in
the batch go on, and a job still waiting in the queue is never run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from typing import Protocol

from ttc_graph.policy.base import Completion, SamplingParams
from ttc_graph.reliability import StopSignal


class RunBatch(Protocol):
    """Generates for a merged batch; one entry per prompt in every list."""

    def __call__(
        self,
        prompts: list[str],
        counts: list[int],
        seeds: list[int | None],
        params: SamplingParams,
        *,
        first_index: list[int],
        stops: list[StopSignal | None],
    ) -> list[list[Completion]]: ...


@dataclass
class _Job:
    prompts: list[str]
    n: int
    params: SamplingParams
    first_index: int = 0
    stop: StopSignal | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: list[list[Completion]] | None = None
    error: BaseException | None = None


class Coalescer:
    """Runs jobs one batch at a time on a worker thread, merging jobs that wait together."""

    def __init__(self, run: RunBatch, *, window_s: float = 0.01, idle_s: float = 5.0) -> None:
        self._run = run
        self._window_s = window_s
        self._idle_s = idle_s
        self._lock = threading.Condition()
        self._queue: list[_Job] = []
        self._worker: threading.Thread | None = None

    def submit(
        self,
        prompts: Sequence[str],
        n: int,
        params: SamplingParams,
        *,
        first_index: int = 0,
        stop: StopSignal | None = None,
    ) -> list[list[Completion]]:
        """Generate ``n`` completions per prompt, possibly batched with other callers.

        Candidates are numbered from ``first_index`` (see per-row seeding); ``stop``
        ends this caller's rows early when it fires.
        """
        job = _Job(list(prompts), n, params, first_index, stop)
        with self._lock:
            self._queue.append(job)
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="ttc-graph-generate", daemon=True
                )
                self._worker.start()
            self._lock.notify()
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def _work(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self._lock.wait(timeout=self._idle_s)
                    if not self._queue:
                        # Decided under the lock, so a new job always finds a worker.
                        self._worker = None
                        return
                self._gather()
                self._drain()
        except BaseException as exc:  # never leave callers waiting on a dead worker
            with self._lock:
                orphans, self._queue = self._queue, []
                self._worker = None
            for job in orphans:
                job.error = exc
                job.done.set()
            raise

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                key = _compatible(self._queue[0].params)
                batch = [j for j in self._queue if _compatible(j.params) == key]
                self._queue = [j for j in self._queue if _compatible(j.params) != key]
            batch = [j for j in batch if not _drop_if_cancelled(j)]
            if batch:
                self._serve(batch)

    def _gather(self) -> None:
        # Callers of one graph.batch reach the policy a few milliseconds apart; keep
        # waiting while new ones still arrive, but never more than 20 windows.
        seen = -1
        for _ in range(20):
            with self._lock:
                size = len(self._queue)
            if size == seen:
                return
            seen = size
            time.sleep(self._window_s)

    def _serve(self, batch: list[_Job]) -> None:
        prompts = [p for j in batch for p in j.prompts]
        counts = [j.n for j in batch for _ in j.prompts]
        seeds = [j.params.seed for j in batch for _ in j.prompts]
        firsts = [j.first_index for j in batch for _ in j.prompts]
        stops = [j.stop for j in batch for _ in j.prompts]
        try:
            results = self._run(
                prompts, counts, seeds, batch[0].params, first_index=firsts, stops=stops
            )
        except BaseException as exc:  # every waiting caller must hear about the failure
            for j in batch:
                j.error = exc
                j.done.set()
            return
        start = 0
        for j in batch:
            j.result = results[start : start + len(j.prompts)]
            start += len(j.prompts)
            j.done.set()


def _drop_if_cancelled(job: _Job) -> bool:
    if job.stop is None or not job.stop.cancelled.is_set():
        return False
    job.error = CancelledError("generation cancelled before it started")
    job.done.set()
    return True


def _compatible(params: SamplingParams) -> SamplingParams:
    """Jobs may share a batch when they differ only in seed."""
    return replace(params, seed=None)
