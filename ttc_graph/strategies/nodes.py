"""Node factories shared by every strategy: prepare, generate, score, prune, select.

A strategy is a wiring of these nodes plus two small policies of its own: which
beams to expand and how often (an *expansion plan*), and which scored candidates
to keep (a *keep rule*). Everything else — bookkeeping of usage and the search
trace, streaming events, budgets — lives here once. The configuration types are
in :mod:`ttc_graph.strategies.config`; how policy calls are run, in
:mod:`ttc_graph.strategies.driver`.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.config import get_stream_writer

from ttc_graph.answers import extract_answer, find_boxed
from ttc_graph.errors import InputTooLongError
from ttc_graph.policy.base import Completion, GenerationRequest, Policy, SamplingParams
from ttc_graph.policy.messages import with_system_prompt
from ttc_graph.strategies.common import aggregation_of
from ttc_graph.strategies.config import Expansion, ExpansionPlan, KeepRule
from ttc_graph.strategies.driver import (
    PolicyWork,
    SampleCall,
    budgeted,
    config_of,
    cut_by_budget,
    policy_node,
    reported,
    sample_grouped,
)
from ttc_graph.strategies.options import SearchConfig
from ttc_graph.strategies.selection import select
from ttc_graph.strategies.state import Beam, Candidate, SearchState, TraceNode, Usage, empty_usage
from ttc_graph.verifiers.aggregation import aggregate
from ttc_graph.verifiers.base import Verifier

ROOT = "root"

NodeFn = Callable[..., dict[str, Any]]
"""A graph node: takes the state (and, for some, the run config), returns an update."""


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
    return GenerationRequest(with_system_prompt(state["conversation"], cfg.system_prompt), prefix)


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


# -- nodes -----------------------------------------------------------------------


def make_generate(
    policy: Policy, plan: ExpansionPlan, *, full: bool
) -> Runnable[SearchState, dict[str, Any]]:
    """Node: run the expansion plan as one batched policy call; new beams go to ``pending``.

    With ``full=True`` each completion is a whole solution (split into steps for
    the verifier); otherwise it is the next step of its parent beam. A budget caps
    each row's tokens to its share of what is left and stops generation at the
    deadline. (Sampling whole solutions in rounds is :mod:`ttc_graph.strategies.rounds`.)
    """

    def generate(state: SearchState, cfg: SearchConfig) -> PolicyWork:
        usage = empty_usage()
        update: dict[str, Any] = {}
        with timed(usage):
            expansions = plan(state, cfg)
            rows = sum(e.count for e in expansions) * (1 + (0 if full else cfg.lookahead))
            params, deadline = budgeted(state, cfg, rows, cfg.sampling)
            params = replace(params, seed=call_seed(state))
            try:
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
                    beam = new_beam(e, c, cfg, iteration, len(pending), full, trace)
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

    return policy_node(policy, generate, "generate")


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


def new_beam(
    e: Expansion,
    c: Completion,
    cfg: SearchConfig,
    iteration: int,
    index: int,
    full: bool,
    trace: dict[str, TraceNode],
) -> Beam:
    """The beam of completion ``c`` of expansion ``e``, its steps added to ``trace``.

    ``full``: ``c`` is a whole solution (split into steps), else the next step of
    ``e.parent``. Node ids are ``{iteration}.{index}`` (``.{k}`` for a solution's
    earlier steps)."""
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


def make_score(verifier: Verifier) -> NodeFn:
    """Node: score every pending candidate in one verifier call."""

    def score(state: SearchState, config: RunnableConfig) -> dict[str, Any]:
        cfg = config_of(state)
        how = aggregation_of(cfg, verifier)
        usage = empty_usage()
        pending = [Beam(**b) for b in state.get("pending", [])]
        trace: dict[str, TraceNode] = {}
        with reported(cfg.strategy, state, config), timed(usage):
            if pending:
                texts = [b["steps"] + ([b["lookahead"]] if b["lookahead"] else []) for b in pending]
                scores = verifier.invoke(
                    {"question": state["question_text"], "candidates": texts}, config
                )
                usage["verifier_calls"] += 1
                for b, s in zip(pending, scores, strict=True):
                    b["step_scores"] = s[: len(b["steps"])]
                    b["score"] = aggregate(s, how)
                    # From the kept steps only: a lookahead is scored, not written.
                    b["support"] = verifier.support(state["question_text"], b["steps"])
                    base = len(b["node_ids"]) - len(b["steps"])
                    for k, node_id in enumerate(b["node_ids"]):
                        if k >= base and node_id in state["trace"]:
                            trace[node_id] = {**state["trace"][node_id], "score": s[k - base]}
                    emit("step_scored", id=b["id"], score=b["score"], step_scores=b["step_scores"])
        return {"pending": pending, "trace": trace, "usage": usage}

    return score


def settle(
    state: SearchState, kept: list[Beam], done: list[Beam], pruned: list[Beam]
) -> dict[str, Any]:
    """The update that ends an iteration: ``kept`` stay open, ``done`` join the finished
    pool, ``pruned`` are dropped; their trace nodes say so and a ``beam_pruned`` event
    announces it."""
    iteration = state.get("iteration", 0) + 1
    trace: dict[str, TraceNode] = {}
    for status, beams in (("kept", kept), ("finished", done), ("pruned", pruned)):
        for b in beams:
            if b["id"] in state["trace"]:
                trace[b["id"]] = {**state["trace"][b["id"]], "status": status}  # type: ignore[typeddict-item]
    # A beam kept more than once was copied by a resampling (particle filter).
    for beam_id in {b["id"] for b in kept}:
        copies = sum(b["id"] == beam_id for b in kept)
        if copies > 1 and beam_id in trace:
            trace[beam_id] = {**trace[beam_id], "copies": copies}
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
    }


def make_prune(keep: KeepRule) -> NodeFn:
    """Node: apply the strategy's keep rule; finished beams leave the active pool."""

    def prune(state: SearchState) -> dict[str, Any]:
        cfg = config_of(state)
        usage = empty_usage()
        with timed(usage):
            kept, done, pruned = keep(list(state.get("pending", [])), cfg, state)
            if state.get("iteration", 0) + 1 >= cfg.max_steps:
                # The step limit ends every open beam: it competes with what it has.
                done = done + kept
                kept = []
            update = settle(state, kept, done, pruned)
        return {**update, "usage": usage}

    return prune


Chooser = Callable[[list[Candidate]], int | None]

MoreToDo = Callable[[SearchState, SearchConfig], bool]
"""Whether a search has more to do: it would go on if its budget allowed. The loop's
routing asks it, and the select node reports ``budget_limited`` when the budget
ended a search that had more to do."""


def budget_spent(cfg: SearchConfig, state: SearchState) -> bool:
    """Whether the search has used its budget up."""
    return bool(cfg.budget and cfg.budget.exceeded(state["usage"]))


def more_to_do(state: SearchState, cfg: SearchConfig) -> bool:
    """:data:`MoreToDo` of a step search: beams open, steps left, fewer than N finished."""
    return (
        bool(state.get("beams"))
        and state.get("iteration", 0) < cfg.max_steps
        and len(state.get("finished", [])) < cfg.n
    )


def make_select(chooser: Chooser | None = None, more: MoreToDo | None = None) -> NodeFn:
    """Node: pick the final answer from the finished candidates.

    Falls back to unfinished beams when nothing finished (e.g. the budget ran out
    first), so a search that produced any text always returns an answer attempt.
    The result is ``budget_limited`` when the budget cut a generation short, or
    ended the search while it had ``more`` to do (default: :func:`more_to_do`). The
    chosen solution is appended to ``messages`` as an AI message.
    """
    has_more: MoreToDo = more or more_to_do

    def select_node(state: SearchState) -> dict[str, Any]:
        cfg = config_of(state)
        usage = empty_usage()
        with timed(usage):
            pool = [
                *state.get("finished", []),
                *state.get("pending", []),
            ] or list(state.get("beams", []))
            candidates = [to_candidate(b) for b in pool]
            if not candidates:
                index = None
            elif chooser is not None:
                index = chooser(candidates)
            else:
                index = select(candidates, cfg.selection)  # type: ignore[arg-type]
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
            limited = bool(state.get("budget_limited")) or (
                budget_spent(cfg, state) and has_more(state, cfg)
            )
            emit(
                "answer_chosen", answer=answer, id=pool[index]["id"] if index is not None else None
            )
            reply = AIMessage(
                solution or "",
                response_metadata={"answer": answer, "strategy": cfg.strategy},
            )
        return {
            "answer": answer,
            "solution": solution,
            "candidates": candidates,
            "trace": trace,
            "usage": usage,
            "budget_limited": limited,
            "messages": [reply],
        }

    return select_node


def to_candidate(beam: Beam) -> Candidate:
    """The reported form of a beam, with its extracted answer."""
    text = "".join(beam["steps"])
    candidate = Candidate(
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
    if beam.get("support"):
        candidate["support"] = dict(beam["support"])
    return candidate


def make_route() -> Callable[[SearchState], str]:
    """Edge: loop to ``expand`` while beams are open and limits allow; else ``select``."""

    def route(state: SearchState) -> str:
        cfg = config_of(state)
        if not more_to_do(state, cfg) or budget_spent(cfg, state):
            return "select"
        return "expand"

    return route
