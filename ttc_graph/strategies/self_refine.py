"""Self-refinement: draft, critique, refine — keep the best version.

    prepare → draft → score → collect ─┬→ critique → refine → score → collect …
                                       └→ select

The policy reviews its own answer (told which step the verifier trusts least)
and rewrites it, until the verifier's score passes ``threshold`` or
``max_rounds`` refinements were made. Every version is kept and the best-scored
one wins, so refinement can never return something worse than the draft.
Without a verifier the loop stops when the critique finds no mistakes, and the
latest version is returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import Runnable
from langgraph.graph import END, START
from langgraph.graph.state import CompiledStateGraph, StateGraph
from langgraph.types import Checkpointer, RetryPolicy

from ttc_graph.policy.base import (
    DEFAULT_STEP_DELIMITER,
    GenerationRequest,
    Policy,
    SamplingParams,
)
from ttc_graph.prompts import CRITIQUE_PROMPT, DEFAULT_SYSTEM_PROMPT, REFINE_PROMPT
from ttc_graph.reliability import DEFAULT_RETRY
from ttc_graph.strategies import defaults
from ttc_graph.strategies.common import compile_graph, new_builder, run_options
from ttc_graph.strategies.config import Budget, Expansion
from ttc_graph.strategies.context import SELF_REFINE, RunOptions, fixed_config, option_defaults
from ttc_graph.strategies.driver import (
    PolicyWork,
    SampleCall,
    budgeted,
    config_of,
    cut_by_budget,
    policy_node,
)
from ttc_graph.strategies.nodes import (
    MoreToDo,
    NodeFn,
    base_request,
    budget_spent,
    call_seed,
    emit,
    make_generate,
    make_score,
    make_select,
    settle,
    timed,
)
from ttc_graph.strategies.options import MAX_ROUNDS, SearchConfig
from ttc_graph.strategies.prepare import make_prepare
from ttc_graph.strategies.state import (
    Beam,
    Candidate,
    InputState,
    OutputState,
    SearchState,
    empty_usage,
)
from ttc_graph.verifiers.aggregation import Aggregation
from ttc_graph.verifiers.base import Verifier

NO_MISTAKES = "no mistakes"


def best_version(state: SearchState) -> Beam:
    """The best-scored version so far (the earliest among equals: never a worse one)."""
    versions = state["finished"]
    return max(versions, key=lambda b: -1.0 if b["score"] is None else b["score"])


def plan_draft(state: SearchState, cfg: SearchConfig) -> list[Expansion]:
    """One full first solution."""
    return [Expansion(base_request(state, cfg), 1, None)]


def plan_refine(state: SearchState, cfg: SearchConfig) -> list[Expansion]:
    """One full rewrite of the best version, given the critique."""
    best = best_version(state)
    messages = (
        *base_request(state, cfg).messages,
        AIMessage("".join(best["steps"])),
        HumanMessage(
            REFINE_PROMPT.format(solution="".join(best["steps"]), critique=state["critique"])
        ),
    )
    return [Expansion(GenerationRequest(messages), 1, None, group=state["iteration"])]


def weakest_step_hint(beam: Beam) -> str:
    """Point the critic at the step the verifier trusts least."""
    if not beam["step_scores"] or len(beam["step_scores"]) < 2:
        return ""
    k = min(range(len(beam["step_scores"])), key=lambda i: beam["step_scores"][i])
    return f"A checker rates step {k + 1} as the weakest (score {beam['step_scores'][k]:.2f}).\n\n"


def make_critique(policy: Policy) -> Runnable[SearchState, dict[str, Any]]:
    """Node: the policy reviews the best version so far."""

    def critique(state: SearchState, cfg: SearchConfig) -> PolicyWork:
        usage = empty_usage()
        update: dict[str, Any] = {}
        with timed(usage):
            best = best_version(state)
            request = GenerationRequest(
                (
                    *base_request(state, cfg).messages,
                    HumanMessage(
                        CRITIQUE_PROMPT.format(
                            solution="".join(best["steps"]), hint=weakest_step_hint(best)
                        )
                    ),
                )
            )
            params, deadline = budgeted(state, cfg, 1, cfg.sampling)
            params = replace(params, seed=call_seed(state, salt=1))
            ((c,),) = yield SampleCall([request], 1, params, deadline=deadline)
            usage["policy_calls"] += 1
            if cut_by_budget([c], params, cfg, deadline):
                update["budget_limited"] = True
            usage["completion_tokens"] += c.completion_tokens
            usage["prompt_tokens"] += c.prompt_tokens
            emit("critique", iteration=state["iteration"], text=c.text, target=best["id"])
        return {"critique": c.text, "usage": usage, **update}

    return policy_node(policy, critique, "critique")


def make_collect() -> NodeFn:
    """Node: each new version joins the finished pool; every version competes at the end."""

    def collect(state: SearchState) -> dict[str, Any]:
        usage = empty_usage()
        with timed(usage):
            update = settle(state, kept=[], done=list(state.get("pending", [])), pruned=[])
        return {**update, "usage": usage}

    return collect


def more_to_do(state: SearchState, cfg: SearchConfig, *, scored: bool) -> bool:
    """:data:`~ttc_graph.strategies.nodes.MoreToDo` of self-refinement: rounds are left
    and the best version scores below ``threshold`` (unscored: the critique found mistakes).

    ``iteration`` counts the versions collected: 1 after the draft, ``k + 1`` after round k.
    """
    if state["iteration"] > cfg.max_rounds:
        return False
    if not scored:
        return NO_MISTAKES not in state.get("critique", "").lower()
    best = best_version(state)
    return best["score"] is None or best["score"] < cfg.threshold


def route_to(node: str, more: MoreToDo) -> Callable[[SearchState], str]:
    """Edge: on to ``node`` while there is more to do and budget left; else ``select``."""

    def route(state: SearchState) -> str:
        cfg = config_of(state)
        return node if more(state, cfg) and not budget_spent(cfg, state) else "select"

    return route


def latest(candidates: list[Candidate]) -> int | None:
    """Without a verifier nothing is scored: the latest version is the answer."""
    return len(candidates) - 1 if candidates else None


def best_scored(candidates: list[Candidate]) -> int | None:
    """The best-scored version (the earliest among equals)."""
    if not candidates:
        return None
    return max(range(len(candidates)), key=lambda i: candidates[i]["score"] or 0.0)


def create_self_refine(
    *,
    policy: Policy,
    verifier: Verifier | None = None,
    max_rounds: int = defaults.MAX_ROUNDS,
    threshold: float = 0.9,
    aggregation: Aggregation | None = None,
    sampling: SamplingParams | None = None,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    seed: int | None = None,
    budget: Budget | None = None,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    step_delimiter: str = DEFAULT_STEP_DELIMITER,
    checkpointer: Checkpointer = None,
    name: str = "self_refine",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build a draft → critique → refine graph.

    The plain-valued arguments are the defaults of the per-run options
    (``context={...}``).

    Args:
        policy: Drafts, critiques and refines.
        verifier: Optional; scores each version and decides when to stop.
        max_rounds: Most refinements after the draft.
        threshold: Stop once the best version's score reaches it (0–1).
        Other arguments as in :func:`create_best_of_n`.

    Example::

        graph = create_self_refine(policy=load_policy(), verifier=GroundedVerifier())
        graph.invoke({"question": "Tom has 12 apples and buys 30 more. How many?"})
    """
    schema = run_options(
        name,
        SELF_REFINE,
        policy=policy,
        verifier=verifier,
        retry=retry,
        values={
            "max_rounds": max_rounds,
            "threshold": threshold,
            "aggregation": aggregation,
            "system_prompt": system_prompt,
            "seed": seed,
            "step_delimiter": step_delimiter,
            **option_defaults(sampling=sampling, budget=budget),
        },
        fixed=fixed_config(sampling, n=1),
    )
    more = partial(more_to_do, scored=verifier is not None)
    builder = _build(policy, verifier, schema, more, retry)
    return compile_graph(
        builder, name=name, supersteps=4 * (MAX_ROUNDS + 1) + 4, checkpointer=checkpointer
    )


def _build(
    policy: Policy,
    verifier: Verifier | None,
    schema: type[RunOptions],
    more: MoreToDo,
    retry: RetryPolicy | None,
) -> StateGraph[SearchState, RunOptions, InputState, OutputState]:
    """The nodes and edges; without a verifier there is no score node."""
    builder = new_builder(schema)
    builder.add_node("prepare", make_prepare(schema))
    builder.add_node("draft", make_generate(policy, plan_draft, full=True), retry_policy=retry)
    builder.add_node("collect", make_collect())
    builder.add_node("critique", make_critique(policy), retry_policy=retry)
    builder.add_node("refine", make_generate(policy, plan_refine, full=True), retry_policy=retry)
    builder.add_node("select", make_select(latest if verifier is None else best_scored, more))
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "draft")
    if verifier is not None:
        builder.add_node("score", make_score(verifier), retry_policy=retry)
        builder.add_edge("draft", "score")
        builder.add_edge("refine", "score")
        builder.add_edge("score", "collect")
    else:
        builder.add_edge("draft", "collect")
        builder.add_edge("refine", "collect")
    for node, then in (("collect", "critique"), ("critique", "refine")):
        builder.add_conditional_edges(node, route_to(then, more), [then, "select"])
    builder.add_edge("select", END)
    return builder
