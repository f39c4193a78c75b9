"""Nodes shared by every strategy: prepare, generate, score, prune, select.

A strategy is a wiring of these nodes plus two small policies of its own: which
beams to expand and how often (an *expansion plan*), and which scored candidates
to keep (a *keep rule*). Everything else — batching requests into one policy
call, bookkeeping of usage and the search trace, streaming events, budgets,
fault reporting — lives here once.

Nodes that call the policy are written once as generators that *yield* the
policy calls they need (:class:`SampleCall`); a sync driver answers them with
``policy.sample`` (``graph.invoke``) and an async one with ``policy.asample``
(``graph.ainvoke``), so cancelling an ``ainvoke`` reaches the generation.
"""

from __future__ import annotations

import inspect
import math
import random
import re
import time
import warnings
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.config import get_stream_writer
from langgraph.errors import GraphBubbleUp

from ttc_graph.answers import extract_answer, find_boxed
from ttc_graph.errors import InputError, InputTooLongError, StrategyError
from ttc_graph.policy.base import Completion, GenerationRequest, Policy, SamplingParams
from ttc_graph.reliability import deadline_scope
from ttc_graph.strategies.prompts import question_text, to_messages, with_system_prompt
from ttc_graph.strategies.selection import Selection, group_answers, select
from ttc_graph.strategies.state import (
    Beam,
    Candidate,
    SearchState,
    TraceNode,
    Usage,
    empty_usage,
)
from ttc_graph.verifiers.base import Aggregation, Verifier, aggregate

ROOT = "root"


@dataclass(frozen=True)
class Budget:
    """A compute budget: the search stops when either limit is reached."""

    max_tokens: int | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_tokens is not None and self.max_tokens < 1:
            raise InputError(f"Budget.max_tokens must be >= 1, got {self.max_tokens}.")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise InputError(f"Budget.max_seconds must be > 0, got {self.max_seconds}.")

    def exceeded(self, usage: Usage) -> bool:
        """Whether ``usage`` has used the budget up."""
        return (self.max_tokens is not None and usage["completion_tokens"] >= self.max_tokens) or (
            self.max_seconds is not None and usage["seconds"] >= self.max_seconds
        )


@dataclass(frozen=True)
class EarlyStop:
    """Stop sampling early once the answer is settled.

    Candidates are sampled ``round_size`` at a time. After each round the search
    stops when the leading answer's share reaches ``agreement``:

    - ``by="posterior"`` (with a verifier): the verifier-weighted posterior of the
      leading answer, ``Σ score(its candidates) / (Σ score(all) + prior)``. A weak
      policy's samples often agree on a wrong answer; weighting by the verifier
      lets a few well-checked candidates outweigh many unchecked ones, and the
      ``prior`` (one pseudo-candidate for "an answer not seen yet") keeps a single
      early candidate from settling the vote alone.
    - ``by="agreement"``: the raw share of candidates that give it (no verifier).
    - ``by="auto"`` (default): ``posterior`` when the search has a verifier.

    Candidate ``i`` is the same as without early stopping (per-row seeding), so an
    early-stopped vote is exactly the full vote cut short.
    """

    round_size: int = 4
    agreement: float = 0.75
    by: Literal["auto", "posterior", "agreement"] = "auto"
    prior: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.round_size, int) or self.round_size < 1:
            raise InputError(
                f"EarlyStop.round_size must be an integer >= 1, got {self.round_size!r}."
            )
        if not 0.0 < self.agreement <= 1.0:
            raise InputError(
                f"EarlyStop.agreement must be in (0, 1], e.g. 0.75, got {self.agreement!r}."
            )
        if self.by not in ("auto", "posterior", "agreement"):
            raise InputError(
                f"EarlyStop.by must be 'auto', 'posterior' or 'agreement', got {self.by!r}."
            )
        if not (isinstance(self.prior, int | float) and 0.0 <= self.prior < math.inf):
            raise InputError(f"EarlyStop.prior must be a finite number >= 0, got {self.prior!r}.")

    def agreed(self, completions: Sequence[Completion]) -> float:
        """Share of ``completions`` whose answer is the most common one (no answer never counts)."""
        return answer_posterior([extract_answer(c.text) for c in completions], None, prior=0.0)

    def posterior(self, completions: Sequence[Completion], scores: Sequence[float]) -> float:
        """Verifier-weighted posterior of the leading answer (see the class docs)."""
        answers = [extract_answer(c.text) for c in completions]
        return answer_posterior(answers, scores, prior=self.prior)


def answer_posterior(
    answers: Sequence[str | None], scores: Sequence[float] | None, *, prior: float
) -> float:
    """The leading answer's share of the (score-weighted) mass, with ``prior`` pseudo-mass.

    Without scores every candidate weighs 1 (and ``prior=0`` gives raw agreement).
    Candidates without an answer add to the denominator only.
    """
    weights = list(scores) if scores is not None else [1.0] * len(answers)
    mass: dict[int, float] = {}
    for g, w in zip(group_answers(answers), weights, strict=True):
        if g >= 0:
            mass[g] = mass.get(g, 0.0) + w
    total = sum(weights) + prior
    return max(mass.values(), default=0.0) / total if total > 0 else 0.0


@dataclass(frozen=True)
class SearchConfig:
    """Everything a strategy's nodes need to know; built and validated by the factory."""

    strategy: str
    n: int
    sampling: SamplingParams
    selection: Selection = "vanilla"
    aggregation: Aggregation = "last"
    beam_width: int = 1
    max_steps: int = 1
    lookahead: int = 0
    system_prompt: str | None = None
    seed: int | None = None
    budget: Budget | None = None
    step_delimiter: str = "\n\n"
    early_stop: EarlyStop | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Expansion:
    """One request of an expansion plan: ``count`` continuations of ``parent``."""

    request: GenerationRequest
    count: int
    parent: Beam | None
    group: int = 0
    base_steps: tuple[str, ...] = ()
    base_node_ids: tuple[str, ...] = ()


NodeFn = Callable[..., dict[str, Any]]
"""A graph node: takes the state (and, for some, the run config), returns an update."""


@dataclass(frozen=True)
class SampleCall:
    """One policy call a node needs; the node yields it and receives the completions."""

    requests: list[GenerationRequest]
    n: int
    params: SamplingParams
    first_index: int = 0
    deadline: float | None = None
    """``time.monotonic()`` at which generation stops (time budget)."""


PolicyWork = Generator[SampleCall, list[list[Completion]], dict[str, Any]]
"""A node body: yields the policy calls it needs, returns the state update."""

ExpansionPlan = Callable[[SearchState, SearchConfig], list[Expansion]]
KeepRule = Callable[[list[Beam], SearchConfig], tuple[list[Beam], list[Beam], list[Beam]]]
"""Split scored candidates into (kept active, newly finished, pruned)."""


# -- small helpers -------------------------------------------------------------


def emit(event: str, **data: Any) -> None:
    """Send a custom stream event (a no-op unless streaming with mode "custom")."""
    get_stream_writer()({"event": event, **data})


@contextmanager
def timed(usage: Usage) -> Iterator[None]:
    """Add the wall time of the block to ``usage['seconds']``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        usage["seconds"] += time.perf_counter() - start


def split_steps(text: str, delimiter: str) -> list[str]:
    """Split a full solution into steps, each keeping its trailing delimiter."""
    parts = [p for p in re.split(f"(?<={re.escape(delimiter)})", text) if p]
    return parts or [text]


def call_seed(state: SearchState, salt: int = 0) -> int:
    """A distinct, reproducible seed for each iteration of one search."""
    return (state["seed"] * 1_000_003 + state.get("iteration", 0) * 7_919 + salt) % (2**62)


def node(node_id: str, parent: str | None, text: str, iteration: int, group: int) -> TraceNode:
    """A fresh, unscored trace node."""
    return TraceNode(
        id=node_id,
        parent=parent,
        text=text,
        score=None,
        iteration=iteration,
        status="active",
        chosen=False,
        group=group,
    )


def base_request(state: SearchState, cfg: SearchConfig, prefix: str = "") -> GenerationRequest:
    """The question's conversation (with the system prompt) continued from ``prefix``."""
    return GenerationRequest(with_system_prompt(state["messages"], cfg.system_prompt), prefix)


def extend(beam: Beam, state: SearchState, cfg: SearchConfig, count: int) -> Expansion:
    """Plan ``count`` next steps for ``beam``."""
    return Expansion(
        request=base_request(state, cfg, "".join(beam["steps"])),
        count=count,
        parent=beam,
        group=beam["group"],
        base_steps=tuple(beam["steps"]),
        base_node_ids=tuple(beam["node_ids"]),
    )


def sample_grouped(
    requests: Sequence[tuple[GenerationRequest, int]],
    params: SamplingParams,
    deadline: float | None = None,
) -> Generator[SampleCall, list[list[Completion]], tuple[list[list[Completion]], int]]:
    """Sample ``count`` completions per request in as few policy calls as possible.

    Identical requests are merged first (otherwise per-row seeding would give two
    identical subtrees the same samples); requests are then grouped by count,
    which is one policy call whenever every beam expands equally. Returns the
    completions in request order and the number of policy calls made.
    """

    def key(request: GenerationRequest) -> tuple[object, ...]:
        return (*((m.type, m.text) for m in request.messages), request.prefix)

    merged: dict[tuple[object, ...], tuple[GenerationRequest, int]] = {}
    for request, count in requests:
        first, total = merged.get(key(request), (request, 0))
        merged[key(request)] = (first, total + count)
    by_count: dict[int, list[tuple[object, ...]]] = {}
    for k, (_, count) in merged.items():
        by_count.setdefault(count, []).append(k)
    pools: dict[tuple[object, ...], list[Completion]] = {}
    for count, keys in by_count.items():
        group = [merged[k][0] for k in keys]
        sampled = yield SampleCall(group, count, params, deadline=deadline)
        for k, completions in zip(keys, sampled, strict=True):
            pools[k] = list(completions)
    out = []
    for request, count in requests:
        out.append(pools[key(request)][:count])
        del pools[key(request)][:count]
    return out, len(by_count)


Settledness = Callable[[Sequence[Completion]], float]


def sample_rounds(
    request: GenerationRequest,
    n: int,
    params: SamplingParams,
    stop: EarlyStop,
    deadline: float | None = None,
    settled: Settledness | None = None,
) -> Generator[SampleCall, list[list[Completion]], tuple[list[Completion], int, float | None]]:
    """Sample up to ``n`` candidates in rounds until ``settled(got) >= stop.agreement``.

    ``settled`` defaults to raw agreement (see :class:`EarlyStop`). Each round
    continues the candidate numbering, so the candidates are those of one call
    with ``n`` rows, cut short. Returns them, the number of calls and the last
    settledness measured (``None`` if none was: out of time, or every row sampled),
    so that a caller reporting it need not score the candidates again.
    """
    measure = settled or stop.agreed
    got: list[Completion] = []
    calls = 0
    while len(got) < n:
        size = min(stop.round_size, n - len(got))
        (batch,) = yield SampleCall([request], size, params, len(got), deadline)
        got.extend(batch)
        calls += 1
        if len(got) >= n:
            break
        if deadline is not None and time.monotonic() >= deadline:
            return got, calls, None
        value = measure(got)
        if value >= stop.agreement:
            return got, calls, value
    return got, calls, None


def settledness(
    stop: EarlyStop, verifier: Verifier | None, question: str, cfg: SearchConfig
) -> Settledness:
    """How settled a round of candidates is, as ``stop.by`` asks (posterior needs a verifier)."""
    if stop.by == "agreement" or (stop.by == "auto" and verifier is None):
        return stop.agreed
    if verifier is None:
        raise InputError("EarlyStop(by='posterior') needs a verifier; pass verifier=... .")

    def posterior(completions: Sequence[Completion]) -> float:
        steps = [split_steps(c.text, cfg.step_delimiter) for c in completions]
        scores = verifier.invoke({"question": question, "candidates": steps})
        return stop.posterior(completions, [aggregate(s, cfg.aggregation) for s in scores])

    return posterior


def run_policy_work(policy: Policy, work: PolicyWork, config: RunnableConfig) -> dict[str, Any]:
    """Drive a node body with ``policy.sample``; a failed call is raised inside the body."""
    try:
        call = next(work)
        while True:
            try:
                with deadline_scope(call.deadline):
                    extra = {"first_index": call.first_index} if call.first_index else {}
                    sample = cast(Any, policy).sample if extra else policy.sample
                    result = sample(
                        call.requests, n=call.n, params=call.params, config=config, **extra
                    )
            except Exception as exc:
                call = work.throw(exc)
                continue
            call = work.send(result)
    except StopIteration as done:
        return cast(dict[str, Any], done.value)


async def arun_policy_work(
    policy: Policy, work: PolicyWork, config: RunnableConfig
) -> dict[str, Any]:
    """Drive a node body with ``policy.asample``, so that cancelling it stops generation."""
    try:
        call = next(work)
        while True:
            try:
                with deadline_scope(call.deadline):
                    extra = {"first_index": call.first_index} if call.first_index else {}
                    asample = cast(Any, policy).asample if extra else policy.asample
                    result = await asample(
                        call.requests, n=call.n, params=call.params, config=config, **extra
                    )
            except Exception as exc:
                call = work.throw(exc)
                continue
            call = work.send(result)
    except StopIteration as done:
        return cast(dict[str, Any], done.value)


def supports_first_index(policy: Policy) -> bool:
    """Whether ``policy.sample`` can continue candidate numbering (needed by :class:`EarlyStop`)."""
    try:
        return "first_index" in inspect.signature(policy.sample).parameters
    except (TypeError, ValueError):
        return False


@contextmanager
def reported(cfg: SearchConfig, state: SearchState, config: RunnableConfig) -> Iterator[None]:
    """Turn a node's failure into a :class:`StrategyError` naming strategy, node and iteration.

    Bad-input errors of ttc-graph (already clear ``ValueError``s) and LangGraph's
    own control-flow exceptions pass through unchanged.
    """
    try:
        yield
    except (GraphBubbleUp, StrategyError):
        raise
    except Exception as exc:
        if isinstance(exc, InputError):
            raise
        node_name = str((config.get("metadata") or {}).get("langgraph_node", "?"))
        iteration = state.get("iteration", 0)
        raise StrategyError(
            f"{cfg.strategy}: node {node_name!r} failed at iteration {iteration}: "
            f"{type(exc).__name__}: {exc}. Transient faults (timeouts, lost connections, "
            "HTTP 5xx, out of memory) are retried first; with a checkpointer, fix the cause "
            "and resume from the last completed step with graph.invoke(None, config).",
            strategy=cfg.strategy,
            iteration=iteration,
            node=node_name,
        ) from exc


def policy_node(
    policy: Policy, cfg: SearchConfig, body: Callable[[SearchState], PolicyWork], name: str
) -> Runnable[SearchState, dict[str, Any]]:
    """A graph node running ``body`` with the sync or async policy API, as the graph is run."""

    def run(state: SearchState, config: RunnableConfig) -> dict[str, Any]:
        with reported(cfg, state, config):
            return run_policy_work(policy, body(state), config)

    async def arun(state: SearchState, config: RunnableConfig) -> dict[str, Any]:
        with reported(cfg, state, config):
            return await arun_policy_work(policy, body(state), config)

    return RunnableLambda(run, afunc=arun, name=name)


def budgeted(
    state: SearchState, cfg: SearchConfig, rows: int, params: SamplingParams
) -> tuple[SamplingParams, float | None]:
    """Sampling and deadline for ``rows`` new sequences within the remaining budget.

    Each row gets at most its share of the remaining tokens, so one wide call can
    overshoot a token budget by at most ``rows - 1`` tokens (every row writes one).
    """
    budget = cfg.budget
    if budget is None:
        return params, None
    usage = state.get("usage") or empty_usage()
    if budget.max_tokens is not None:
        share = max(1, (budget.max_tokens - usage["completion_tokens"]) // max(1, rows))
        if share < params.max_new_tokens:
            params = replace(params, max_new_tokens=share)
    deadline = None
    if budget.max_seconds is not None:
        deadline = time.monotonic() + max(0.0, budget.max_seconds - usage["seconds"])
    return params, deadline


def cut_by_budget(
    completions: Sequence[Completion],
    params: SamplingParams,
    cfg: SearchConfig,
    deadline: float | None,
) -> bool:
    """Whether the budget (a token share below the configured limit, or the deadline) cut a row."""
    cut = [c for c in completions if c.finish_reason == "length"]
    if not cut:
        return False
    capped = params.max_new_tokens < cfg.sampling.max_new_tokens
    return capped or (deadline is not None and time.monotonic() >= deadline)


# -- nodes -----------------------------------------------------------------------


def make_prepare(cfg: SearchConfig) -> NodeFn:
    """Node: validate the input and initialise the search state."""

    def prepare(state: SearchState) -> dict[str, Any]:
        if "question" not in state:
            raise InputError("Invoke the graph with {'question': 'your problem text'}.")
        messages = to_messages(state["question"])
        text = question_text(messages)
        seed = cfg.seed if cfg.seed is not None else random.SystemRandom().randrange(2**31)
        root = node(ROOT, None, text, 0, 0)
        root["status"] = "root"
        return {
            "messages": messages,
            "question_text": text,
            "seed": seed,
            "iteration": 0,
            "beams": [],
            "pending": [],
            "finished": [],
            "usage": empty_usage(),
            "trace": {ROOT: root},
            "strategy": cfg.strategy,
            "budget_limited": False,
        }

    return prepare


def make_generate(
    policy: Policy,
    cfg: SearchConfig,
    plan: ExpansionPlan,
    *,
    full: bool,
    verifier: Verifier | None = None,
) -> Runnable[SearchState, dict[str, Any]]:
    """Node: run the expansion plan as one batched policy call; new beams go to ``pending``.

    With ``full=True`` each completion is a whole solution (split into steps for
    the verifier); otherwise it is the next step of its parent beam. A budget caps
    each row's tokens to its share of what is left and stops generation at the
    deadline; a vote with :class:`EarlyStop` samples in rounds.
    """

    def generate(state: SearchState) -> PolicyWork:
        usage = empty_usage()
        update: dict[str, Any] = {}
        with timed(usage):
            expansions = plan(state, cfg)
            rows = sum(e.count for e in expansions) * (1 + (0 if full else cfg.lookahead))
            params, deadline = budgeted(state, cfg, rows, cfg.sampling)
            params = replace(params, seed=call_seed(state))
            try:
                if cfg.early_stop is not None and len(expansions) == 1:
                    (only,) = expansions
                    measure = settledness(cfg.early_stop, verifier, state["question_text"], cfg)
                    sampled, calls, settled = yield from sample_rounds(
                        only.request, only.count, params, cfg.early_stop, deadline, measure
                    )
                    results = [sampled]
                    _report_early_stop(only.count, sampled, settled, measure)
                else:
                    results, calls = yield from sample_grouped(
                        [(e.request, e.count) for e in expansions], params, deadline
                    )
            except InputTooLongError:
                if full or not state.get("beams"):
                    raise
                return _context_full(state, usage)
            usage["policy_calls"] += calls
            iteration = state.get("iteration", 0)
            pending: list[Beam] = []
            trace: dict[str, TraceNode] = {}
            for e, completions in zip(expansions, results, strict=True):
                for c in completions:
                    beam = _new_beam(e, c, cfg, iteration, len(pending), full, trace)
                    pending.append(beam)
                    usage["completion_tokens"] += c.completion_tokens
                    usage["prompt_tokens"] += c.prompt_tokens
                    emit(
                        "candidate_generated",
                        id=beam["id"],
                        parent=e.base_node_ids[-1] if e.base_node_ids else ROOT,
                        text=c.text,
                        iteration=iteration,
                        group=beam["group"],
                        finish_reason=c.finish_reason,
                    )
            if cfg.lookahead and not full:
                usage["policy_calls"] += yield from _roll_out(state, cfg, pending, usage, params)
            if cut_by_budget([c for cs in results for c in cs], params, cfg, deadline):
                update["budget_limited"] = True
        return {"pending": pending, "trace": trace, "usage": usage, **update}

    return policy_node(policy, cfg, generate, "generate")


def _context_full(state: SearchState, usage: Usage) -> dict[str, Any]:
    """End a step search whose partial solutions outgrew the context, keeping them all."""
    beams = list(state.get("beams", []))
    warnings.warn(
        "The partial solutions no longer fit the model's context; the search ends and "
        "chooses among the solutions it has. Lower max_steps or max_new_tokens to avoid this.",
        stacklevel=2,
    )
    emit("context_full", iteration=state.get("iteration", 0), beams=[b["id"] for b in beams])
    trace = {
        b["id"]: {**state["trace"][b["id"]], "status": "finished"}
        for b in beams
        if b["id"] in state["trace"]
    }
    return {
        "pending": [],
        "beams": [],
        "finished": [*state.get("finished", []), *beams],
        "trace": trace,
        "usage": usage,
    }


def _report_early_stop(
    n: int, sampled: Sequence[Completion], settled: float | None, measure: Settledness
) -> None:
    """Announce an early stop with the estimated tokens it saved (nothing if all were sampled).

    ``settled`` is the value that stopped the rounds; a stop by the deadline measures it
    here, once."""
    if len(sampled) >= n:
        return
    mean = sum(c.completion_tokens for c in sampled) / max(1, len(sampled))
    emit(
        "early_stopped",
        sampled=len(sampled),
        n=n,
        agreement=settled if settled is not None else measure(sampled),
        saved_candidates=n - len(sampled),
        saved_tokens_estimate=round(mean * (n - len(sampled))),
    )


def _new_beam(
    e: Expansion,
    c: Completion,
    cfg: SearchConfig,
    iteration: int,
    index: int,
    full: bool,
    trace: dict[str, TraceNode],
) -> Beam:
    new_steps = split_steps(c.text, cfg.step_delimiter) if full else [c.text]
    parent = e.base_node_ids[-1] if e.base_node_ids else ROOT
    node_ids = list(e.base_node_ids)
    for k, step in enumerate(new_steps):
        node_id = f"{iteration}.{index}" + (f".{k}" if k < len(new_steps) - 1 else "")
        trace[node_id] = node(node_id, parent, step, iteration, e.group)
        node_ids.append(node_id)
        parent = node_id
    steps = [*e.base_steps, *new_steps]
    # A beam is done when the model stopped on its own or already boxed an answer.
    done = full or c.finish_reason == "eos" or find_boxed(c.text) is not None
    return Beam(
        id=node_ids[-1],
        node_ids=node_ids,
        steps=steps,
        step_scores=[],
        score=None,
        finished=done,
        finish_reason=c.finish_reason,
        completion_tokens=(e.parent["completion_tokens"] if e.parent else 0) + c.completion_tokens,
        group=e.group,
        lookahead="",
    )


def _roll_out(
    state: SearchState,
    cfg: SearchConfig,
    pending: list[Beam],
    usage: Usage,
    params: SamplingParams,
) -> Generator[SampleCall, list[list[Completion]], int]:
    """Greedy look-ahead: extend open candidates ``cfg.lookahead`` steps for scoring only."""
    calls = 0
    greedy = replace(params, temperature=0.0, seed=None)
    open_beams = [b for b in pending if not b["finished"]]
    for _ in range(cfg.lookahead):
        if not open_beams:
            break
        requests = [
            base_request(state, cfg, "".join(b["steps"]) + b["lookahead"]) for b in open_beams
        ]
        results = yield SampleCall(requests, 1, greedy)
        calls += 1
        still_open = []
        for b, (c,) in zip(open_beams, results, strict=True):
            b["lookahead"] += c.text
            usage["completion_tokens"] += c.completion_tokens
            usage["prompt_tokens"] += c.prompt_tokens
            if c.finish_reason != "eos" and find_boxed(c.text) is None:
                still_open.append(b)
        open_beams = still_open
    return calls


def make_score(verifier: Verifier, cfg: SearchConfig) -> NodeFn:
    """Node: score every pending candidate in one verifier call."""

    def score(state: SearchState, config: RunnableConfig) -> dict[str, Any]:
        usage = empty_usage()
        pending = [Beam(**b) for b in state.get("pending", [])]
        trace: dict[str, TraceNode] = {}
        with reported(cfg, state, config), timed(usage):
            if pending:
                texts = [b["steps"] + ([b["lookahead"]] if b["lookahead"] else []) for b in pending]
                scores = verifier.invoke(
                    {"question": state["question_text"], "candidates": texts}, config
                )
                usage["verifier_calls"] += 1
                for b, s in zip(pending, scores, strict=True):
                    b["step_scores"] = s[: len(b["steps"])]
                    b["score"] = aggregate(s, cfg.aggregation)
                    base = len(b["node_ids"]) - len(b["steps"])
                    for k, node_id in enumerate(b["node_ids"]):
                        if k >= base and node_id in state["trace"]:
                            trace[node_id] = {**state["trace"][node_id], "score": s[k - base]}
                    emit("step_scored", id=b["id"], score=b["score"], step_scores=b["step_scores"])
        return {"pending": pending, "trace": trace, "usage": usage}

    return score


def make_prune(cfg: SearchConfig, keep: KeepRule) -> NodeFn:
    """Node: apply the strategy's keep rule; finished beams leave the active pool."""

    def prune(state: SearchState) -> dict[str, Any]:
        usage = empty_usage()
        with timed(usage):
            iteration = state.get("iteration", 0) + 1
            kept, done, pruned = keep(list(state.get("pending", [])), cfg)
            if iteration >= cfg.max_steps:
                # The step limit ends every open beam: it competes with what it has.
                done = done + kept
                kept = []
            trace: dict[str, TraceNode] = {}
            for status, beams in (("kept", kept), ("finished", done), ("pruned", pruned)):
                for b in beams:
                    if b["id"] in state["trace"]:
                        trace[b["id"]] = {**state["trace"][b["id"]], "status": status}  # type: ignore[typeddict-item]
            emit(
                "beam_pruned",
                iteration=iteration - 1,
                kept=[b["id"] for b in kept],
                finished=[b["id"] for b in done],
                pruned=[b["id"] for b in pruned],
            )
        return {
            "beams": kept,
            "finished": [*state.get("finished", []), *done],
            "pending": [],
            "iteration": iteration,
            "trace": trace,
            "usage": usage,
        }

    return prune


Chooser = Callable[[list[Candidate]], int | None]


def open_work(state: SearchState, cfg: SearchConfig) -> bool:
    """Whether a step search would expand again if its budget allowed."""
    return (
        bool(state.get("beams"))
        and state.get("iteration", 0) < cfg.max_steps
        and len(state.get("finished", [])) < cfg.n
    )


def make_select(
    cfg: SearchConfig,
    chooser: Chooser | None = None,
    would_continue: Callable[[SearchState], bool] | None = None,
) -> NodeFn:
    """Node: pick the final answer from the finished candidates.

    Falls back to unfinished beams when nothing finished (e.g. the budget ran out
    first), so a search that produced any text always returns an answer attempt.
    The result is ``budget_limited`` when the budget cut a generation short, or
    ended the search while ``would_continue`` (default :func:`open_work`) says it
    had more to do.
    """
    more = would_continue or (lambda state: open_work(state, cfg))

    def choose(candidates: list[Candidate]) -> int | None:
        return select(candidates, cfg.selection)

    pick = chooser or choose

    def select_node(state: SearchState) -> dict[str, Any]:
        usage = empty_usage()
        with timed(usage):
            pool = [
                *state.get("finished", []),
                *state.get("pending", []),
            ] or list(state.get("beams", []))
            candidates = [to_candidate(b) for b in pool]
            index = pick(candidates) if candidates else None
            trace: dict[str, TraceNode] = {}
            answer = solution = None
            for b in pool:
                current = state["trace"].get(b["id"])
                if current is not None and current["status"] == "active":
                    trace[b["id"]] = {**current, "status": "finished"}
            if index is not None:
                chosen = pool[index]
                answer, solution = candidates[index]["answer"], candidates[index]["text"]
                for node_id in [ROOT, *chosen["node_ids"]]:
                    if node_id in state["trace"]:
                        trace[node_id] = {
                            **trace.get(node_id, state["trace"][node_id]),
                            "chosen": True,
                        }
            limited = bool(state.get("budget_limited")) or bool(
                cfg.budget and cfg.budget.exceeded(state["usage"]) and more(state)
            )
            emit(
                "answer_chosen", answer=answer, id=pool[index]["id"] if index is not None else None
            )
        return {
            "answer": answer,
            "solution": solution,
            "candidates": candidates,
            "trace": trace,
            "usage": usage,
            "budget_limited": limited,
        }

    return select_node


def to_candidate(beam: Beam) -> Candidate:
    """The reported form of a beam, with its extracted answer."""
    text = "".join(beam["steps"])
    return Candidate(
        id=beam["id"],
        text=text,
        steps=list(beam["steps"]),
        step_scores=list(beam["step_scores"]),
        score=beam["score"],
        answer=extract_answer(text),
        finish_reason=beam["finish_reason"],
        completion_tokens=beam["completion_tokens"],
        group=beam["group"],
    )


def make_route(cfg: SearchConfig) -> Callable[[SearchState], str]:
    """Edge: loop to ``expand`` while beams are open and limits allow; else ``select``."""

    def route(state: SearchState) -> str:
        if not open_work(state, cfg):
            return "select"
        if cfg.budget and cfg.budget.exceeded(state["usage"]):
            return "select"
        return "expand"

    return route
