"""Run strategies over a problem set, persisting each finished problem at once.

Work is split into *units*, each one graph invocation on one problem:

- ``greedy`` / ``self_refine``: once per problem;
- ``samples``: one best-of-N run at the largest N, shared by ``best_of_n``,
  ``weighted``, ``majority`` and ``coverage`` (every smaller N is a prefix of it);
- ``beam_search`` / ``dvts``: once per problem and N.

A unit is stored under the configuration hash as soon as it finishes, so a
re-run of the same configuration skips it and a changed one never mixes with it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttc_graph.errors import InputError, StrategyError
from ttc_graph.escape import rich_safe, terminal_safe
from ttc_graph.evaluation import provenance
from ttc_graph.evaluation.grading import grade
from ttc_graph.evaluation.metrics import (
    SAMPLES_UNIT,
    CurvePoint,
    curve,
    eval_mode,
    from_sample,
    outcomes,
)
from ttc_graph.evaluation.problems import ProblemSet
from ttc_graph.evaluation.store import DB_NAME, FailedUnit, ResultStore
from ttc_graph.evaluation.units import Unit, schedule, unit_context
from ttc_graph.strategies.registry import SPECS, get_spec

logger = logging.getLogger(__name__)

EMBEDDED_MODEL = "SmolLM2-135M-Instruct (embedded)"
DEFAULT_VERIFIER = "auto"
HARNESS_VERSION = 2
"""Bumped when stored records change meaning, so old rows are not mixed with new ones
(2: answers read by the phrase-aware reader, candidates carry the work's votes)."""


def _label(unit: Unit) -> str:
    # Problem ids come from the dataset: shown in the terminal, so made inert there.
    return f"{unit.name} N={unit.n} {terminal_safe(unit.problem.id, newlines=False)}"


def config_hash(config: dict[str, Any]) -> str:
    """A short stable hash of everything that determines the results."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


MAX_FAILURES_IN_A_ROW = 10
"""A run stops (cleanly, with its report) after this many failed units in a row:
by then the cause is shared (a dead device, a broken verifier), not one bad row."""


class _TooManyFailuresError(Exception):
    """Internal: ends the scheduling loop after too many failures in a row."""


def unit_failure(exc: BaseException) -> str:
    """One line saying why a unit failed: the error's type and message."""
    cause = exc.__cause__
    if isinstance(exc, StrategyError) and cause is not None:
        # Its advice on checkpointers does not apply to an eval (which resumes by
        # itself); what failed where, and the cause, do.
        exc_text = (
            f"{exc.strategy}: node {exc.node!r} failed at iteration {exc.iteration}: "
            f"{type(cause).__name__}: {cause}"
        )
    else:
        exc_text = str(exc)
    text = " ".join(exc_text.split()) or "(no message)"
    if len(text) > 1000:
        text = text[:999] + "…"
    return f"{type(exc).__name__}: {text}"


class Evaluation:
    """A configured, validated evaluation bound to its results database.

    Build it with :func:`create_evaluation`; :meth:`run` does (or resumes) the
    work, :meth:`report` summarises whatever is stored.
    """

    def __init__(
        self,
        *,
        problems: ProblemSet,
        strategies: tuple[str, ...],
        ns: tuple[int, ...],
        out: Path,
        config: dict[str, Any],
        options: dict[str, Any],
        model: Any,
        verifier: Any,
        device: str | None,
        policy_options: dict[str, Any] | None = None,
        verifier_options: dict[str, Any] | None = None,
        budgets: tuple[int, ...] = (),
    ) -> None:
        self.problems = problems
        self.budgets = budgets
        self.strategies = strategies
        self.ns = ns
        self.out = out
        self.config = config
        self.config_hash = config_hash(config)
        self.options = options
        """Option values every strategy that takes them runs with (``n`` is per unit)."""
        self._model = model
        self._verifier = verifier
        self._device = device
        self._policy_options = dict(policy_options or {})
        self._verifier_options = dict(verifier_options or {})
        self.stopped: str | None = None
        """Why the last :meth:`run` stopped before the end (None when it did not)."""
        self.store = ResultStore(out / DB_NAME)
        try:
            # A damaged record is reported now, before a model is loaded, not at the end.
            self.store.check_records(self.config_hash)
            self.store.register_config(self.config_hash, config)
        except BaseException:
            self.store.close()
            raise

    @property
    def uses_verifier(self) -> bool:
        """Whether any requested strategy ranks candidates with the verifier."""
        return any(s in SPECS and SPECS[s].needs_verifier for s in self.strategies)

    def units(self) -> list[Unit]:
        """Every unit of this evaluation, problem by problem.

        Problem-major order means an interrupted run has every strategy on the
        same problems, so partial curves compare like with like.
        """
        names: list[tuple[str, int]] = []
        if any(from_sample(s) for s in self.strategies):
            names.append((SAMPLES_UNIT, max(self.ns)))
        for s in self.strategies:
            if eval_mode(s) == "single":
                names.append((s, 1))
            elif eval_mode(s) == "per_n":
                names.extend((s, n) for n in self.ns)
        return [Unit(name, n, p) for p in self.problems.problems for name, n in names]

    def pending(self) -> list[Unit]:
        """Units not yet stored for this configuration."""
        done = self.store.done(self.config_hash)
        return [u for u in self.units() if (u.name, u.n, u.problem.id) not in done]

    # -- running ---------------------------------------------------------------

    def _load(self) -> tuple[Any, Any]:
        from ttc_graph.policy import load_policy

        policy = self._model
        if policy is None or isinstance(policy, (str, os.PathLike)):
            policy = load_policy(policy, device=self._device, **self._policy_options)
        verifier = self._verifier
        if not self.uses_verifier:
            verifier = None
        elif isinstance(verifier, str):
            from ttc_graph.verifiers import load_verifier

            verifier = load_verifier(verifier, policy=policy, **self._verifier_options)
        return policy, verifier

    def _strategy(self, unit: Unit, verifier: Any) -> str:
        if unit.name == SAMPLES_UNIT:
            # Scored when a verifier is configured, so vanilla and weighted selection
            # can be replayed on any prefix; majority ignores the scores.
            return "best_of_n" if verifier is not None else "majority"
        return unit.name

    def _graph(self, unit: Unit, policy: Any, verifier: Any) -> Any:
        """One graph per strategy; the unit's N comes with each run (:meth:`context`)."""
        from ttc_graph.strategies import build_strategy

        spec = get_spec(self._strategy(unit, verifier))
        return build_strategy(
            spec.name, policy=policy, verifier=verifier if spec.eval_verifier else None
        )

    def context(self, unit: Unit, verifier: Any = None) -> dict[str, Any]:
        """The options of ``unit``'s run: the evaluation's, where its strategy takes them,
        and the unit's N (the beam width no wider than N)."""
        return unit_context(get_spec(self._strategy(unit, verifier)), self.options, unit.n)

    def _run_unit(self, unit: Unit, graph: Any, context: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        result = graph.invoke({"question": unit.problem.question}, context=context)
        wall = time.perf_counter() - started
        answer = result.get("answer")
        return {
            "problem_id": unit.problem.id,
            "level": unit.problem.level,
            "subject": unit.problem.subject,
            "reference": unit.problem.answer,
            "answer": answer,
            "correct": grade(answer, unit.problem.answer),
            "candidates": list(result.get("candidates", [])),
            "usage": dict(result["usage"]),
            "wall_seconds": wall,
            "budget_limited": bool(result.get("budget_limited", False)),
        }

    def run(
        self,
        *,
        policy: Any = None,
        verifier: Any = None,
        concurrency: int = 1,
        progress: bool = True,
        console: Any = None,
    ) -> EvalReport:
        """Run every pending unit, storing each as it finishes; return the report.

        Args:
            policy: A loaded policy; default loads the configured model (only if
                there is work left to do).
            verifier: A loaded verifier; default loads the configured one.
            concurrency: Problems solved at once. The policy merges their
                generation calls into shared batches, which raises throughput;
                per-row seeding keeps every result identical to a serial run.
            progress: Show a rich progress bar with ETA (on stderr).
            console: A ``rich.console.Console`` to draw on.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InputError(f"concurrency must be an integer >= 1, got {concurrency!r}.")
        todo = self.pending()
        if todo:
            if policy is not None:
                self._model = policy
            if verifier is not None:
                self._verifier = verifier
            started = provenance.begin()
            before = self.store.count(self.config_hash)
            try:
                policy, verifier = self._load()
                self._run_units(
                    schedule(todo, concurrency),
                    policy,
                    verifier,
                    concurrency=concurrency,
                    progress=progress,
                    console=console,
                )
            finally:
                # Logged even when interrupted: the units it stored stay and count.
                stored = self.store.count(self.config_hash) - before
                if stored:
                    self.store.record_run(self.config_hash, provenance.finish(started), stored)
        return self.report()

    def _run_units(
        self,
        todo: list[Unit],
        policy: Any,
        verifier: Any,
        *,
        concurrency: int,
        progress: bool,
        console: Any,
    ) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        graphs: dict[str, Any] = {}

        def graph_for(unit: Unit) -> Any:
            if unit.name not in graphs:
                graphs[unit.name] = self._graph(unit, policy, verifier)
            return graphs[unit.name]

        bar = Progress(
            TextColumn("[bold]eval"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[done]}/{task.fields[units]} units"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[label]}"),
            console=console or Console(stderr=True),
            disable=not progress,
        )
        units = self.units()
        # The bar advances by each unit's weight (candidates generated), so the ETA
        # is not fooled by a cheap greedy unit followed by an N=16 sample.
        total = sum(u.weight for u in units)
        remaining = sum(u.weight for u in todo)
        done = len(units) - len(todo)
        queue = list(reversed(todo))
        with bar, ThreadPoolExecutor(max_workers=concurrency) as pool:
            # Resumed work goes in at creation: as an update it would count as speed.
            task = bar.add_task(
                "eval",
                total=total,
                completed=total - remaining,
                done=done,
                units=len(units),
                label="",
            )
            running: dict[Future[dict[str, Any]], Unit] = {}
            # On Ctrl-C, or after too many failures in a row, start nothing new but keep
            # storing the units already running as they finish: their work is not lost.
            stop: BaseException | None = None
            failed_in_a_row = 0
            self.stopped = None
            while running or (queue and stop is None):
                while queue and stop is None and len(running) < concurrency:
                    unit = queue.pop()
                    job = pool.submit(
                        self._run_unit, unit, graph_for(unit), self.context(unit, verifier)
                    )
                    running[job] = unit
                # The label column parses rich markup: problem ids must not be read as it.
                label = ", ".join(_label(u) for u in running.values())
                bar.update(task, label=rich_safe(label))
                try:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt as exc:
                    if stop is not None:
                        raise  # a second Ctrl-C: leave now
                    stop = exc
                    bar.console.print(
                        f"Interrupted: saving the {len(running)} problem(s) in progress when "
                        "they finish (Ctrl-C again to quit now)."
                    )
                    continue
                for future in finished:
                    unit = running.pop(future)
                    try:
                        record = future.result()
                    except Exception as exc:
                        # One problem's failure (a too-long row, a verifier error) costs
                        # that problem only: recorded with its reason, tried again on
                        # the next run, and the evaluation goes on.
                        reason = unit_failure(exc)
                        self.store.put_failure(
                            self.config_hash, unit.name, unit.n, unit.problem.id, reason
                        )
                        bar.console.print(
                            Text(f"failed: {_label(unit)}: {terminal_safe(reason)}"),
                            style="yellow",
                        )
                        failed_in_a_row += 1
                        if failed_in_a_row >= MAX_FAILURES_IN_A_ROW and stop is None:
                            self.stopped = (
                                f"the last {failed_in_a_row} units all failed, which points "
                                "to a cause shared by all of them (the last: "
                                f"{reason[:300]})"
                            )
                            stop = _TooManyFailuresError(self.stopped)
                        continue
                    failed_in_a_row = 0
                    # Stored from this thread only, the moment the unit is done.
                    self.store.put(self.config_hash, unit.name, unit.n, unit.problem.id, record)
                    logger.info(
                        "%s: answer %r (%s)",
                        _label(unit),
                        record["answer"],
                        "correct" if record["correct"] else "wrong",
                    )
                    done += 1
                    bar.update(task, advance=unit.weight, done=done)
            if stop is not None and not isinstance(stop, _TooManyFailuresError):
                raise stop
            bar.update(task, label="")

    # -- reporting -------------------------------------------------------------

    def report(self) -> EvalReport:
        """Curves over everything stored for this configuration (no model needed)."""
        by_unit = outcomes(
            self.store.results(self.config_hash),
            self.problems.problems,
            self.strategies,
            self.ns,
            budgets=self.budgets,
            row_tokens=self.options["max_new_tokens"],
        )
        return EvalReport(
            config=self.config,
            config_hash=self.config_hash,
            strategies=self.strategies,
            ns=self.ns,
            total_problems=len(self.problems.problems),
            points=curve(by_unit, self.problems.problems),
            pending_units=len(self.pending()),
            failed=tuple(self.store.failures(self.config_hash)),
            stopped=self.stopped,
            budgets=self.budgets,
            runs=tuple(self.store.runs(self.config_hash)),
            stored_units=self.store.count(self.config_hash),
        )

    def close(self) -> None:
        """Close the results database."""
        self.store.close()


@dataclass(frozen=True)
class EvalReport:
    """Curve points of one configuration, ready to print, save and plot."""

    config: dict[str, Any]
    config_hash: str
    strategies: tuple[str, ...]
    ns: tuple[int, ...]
    total_problems: int
    points: list[CurvePoint]
    pending_units: int
    """Units not yet stored (non-zero when the run was interrupted or units failed)."""
    failed: tuple[FailedUnit, ...] = ()
    """Units whose last attempt failed, with the reason; a rerun tries them again."""
    stopped: str | None = None
    """Why the run stopped early (too many failures in a row), if it did."""
    budgets: tuple[int, ...] = ()
    """Token budgets per problem of ``adaptive`` (its points have the budget as ``n``)."""
    runs: tuple[dict[str, Any], ...] = ()
    """The calls that stored this configuration's units, oldest first: ``units`` and
    ``provenance`` each (:meth:`ResultStore.runs`)."""
    stored_units: int = 0
    """Units stored in all: more than the runs' sum when a call was killed before it
    could log itself, or stored units before runs were logged."""

    def overall(self) -> list[CurvePoint]:
        """Points over all problems (no per-level rows), in strategy then N order."""
        order = {s: i for i, s in enumerate(self.strategies)}
        rows = [p for p in self.points if p.level == "all"]  # adaptive: n is its budget
        return sorted(rows, key=lambda p: (order[p.strategy], p.n))

    def by_level(self) -> list[CurvePoint]:
        """Per-level points (empty when the dataset has no or a single level)."""
        order = {s: i for i, s in enumerate(self.strategies)}
        rows = [p for p in self.points if p.level != "all"]
        return sorted(rows, key=lambda p: (order[p.strategy], p.n, p.level))
