"""Adaptive: spend samples where they can still change the answer, under a token budget.

    prepare → sample → score → route ─┬→ sample   (not settled, budget left)
                                      ├→ search   (hard: step-level search, once)
                                      └→ select

Each round samples ``round_size`` full solutions, the verifier scores them, and
a routing policy (:mod:`ttc_graph.strategies.routing`) reads the round summary —
the verifier-weighted answer posterior and its spread — and stops, samples
another round, or escalates to beam search with whatever budget is left. The
answer is the weighted vote over every candidate.

Candidate ``k`` is sampled with the same seed as candidate ``k`` of
``create_best_of_n`` with the same ``seed``, so an adaptive run's candidates are
a prefix of a best-of-N sample: the evaluation replays adaptive from a stored
sample instead of generating again (:func:`ttc_graph.strategies.routing.replay`).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer, RetryPolicy

from ttc_graph.errors import InputError
from ttc_graph.limits import MAX_N
from ttc_graph.policy.base import DEFAULT_STEP_DELIMITER, Policy, SamplingParams
from ttc_graph.reliability import DEFAULT_RETRY
from ttc_graph.strategies import defaults
from ttc_graph.strategies.beam_search import create_beam_search
from ttc_graph.strategies.common import compile_graph, new_builder, run_options
from ttc_graph.strategies.config import Budget, Expansion
from ttc_graph.strategies.driver import PolicyWork, SampleCall, config_of, policy_node
from ttc_graph.strategies.nodes import (
    ROOT,
    _new_beam,
    base_request,
    call_seed,
    emit,
    make_prepare,
    make_score,
    make_select,
    node,
    timed,
    to_candidate,
)
from ttc_graph.strategies.options import (
    ADAPTIVE,
    SearchConfig,
    fixed_config,
    option_defaults,
)
from ttc_graph.strategies.routing import (
    Decision,
    PosteriorRouting,
    RoutingPolicy,
    TokenPool,
    decide,
    summarize,
)
from ttc_graph.strategies.state import Beam, SearchState, TraceNode, empty_usage
from ttc_graph.verifiers.aggregation import Aggregation
from ttc_graph.verifiers.base import Verifier

SEARCH_GROUP = 1
"""Trace group of the candidates a step-level search adds (sampled ones are group 0)."""


def create_adaptive(
    *,
    policy: Policy,
    verifier: Verifier,
    budget: Budget | TokenPool | None = None,
    routing: RoutingPolicy | None = None,
    round_size: int = defaults.ADAPTIVE_ROUND,
    n: int = defaults.ADAPTIVE_MAX_SAMPLES,
    max_samples: int | None = None,
    aggregation: Aggregation | None = None,
    sampling: SamplingParams | None = None,
    system_prompt: str | None = defaults.DEFAULT_SYSTEM_PROMPT,
    seed: int | None = None,
    beam_width: int = defaults.BEAM_WIDTH,
    max_steps: int = defaults.MAX_STEPS,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    step_delimiter: str = DEFAULT_STEP_DELIMITER,
    checkpointer: Checkpointer = None,
    name: str = "adaptive",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build an adaptive graph: rounds of samples routed by the verifier, under a budget.

    Args:
        policy: Writes the candidates (:func:`ttc_graph.load_policy`; its ``sample``
            must accept ``first_index`` so rounds continue the candidate numbering).
        verifier: Scores every candidate; the routing reads its scores.
        budget: ``Budget(max_tokens=K)``: at most K completion tokens per question;
            a :class:`~ttc_graph.strategies.routing.TokenPool`: one budget shared by
            a batch (``graph.batch``), settled questions leave their share to open
            ones; ``None``: only ``n`` limits. A round never starts
            unless every row of it fits (a row writes up to ``max_new_tokens``).
        routing: ``RoundSummary -> Decision | "stop" | "sample" | "search"``
            (default :class:`~ttc_graph.strategies.routing.PosteriorRouting`).
        round_size: Candidates per round.
        n: The most candidates per question (rounds stop there).
        max_samples: The former name of ``n`` (give one of them).
        aggregation: How step scores fold into a candidate score; default the verifier's.
        sampling: Temperature, top-p, tokens per solution.
        system_prompt: Prepended unless the input brings its own system message.
        seed: Fixes the samples (candidate k = candidate k of best-of-N, same seed).
        beam_width, max_steps: The step-level search of a ``search`` route.
        retry, step_delimiter, checkpointer, name: As for the other strategies.

    The plain-valued arguments are the defaults of the per-run options
    (``context={...}``): ``n``, ``round_size``, ``budget_tokens``, sampling, ...

    Example:
        >>> from ttc_graph import Budget, create_adaptive, load_policy
        >>> from ttc_graph.verifiers import load_verifier
        >>> policy = load_policy()  # doctest: +SKIP
        >>> graph = create_adaptive(policy=policy, verifier=load_verifier("grounded"),
        ...                         budget=Budget(max_tokens=512), seed=0)  # doctest: +SKIP
        >>> result = graph.invoke({"question": "Sam has 3 apples and buys 4. How many?"})
        >>> result["answer"], result["routes"][-1]["reason"]  # doctest: +SKIP
    """
    if max_samples is not None:
        if n != defaults.ADAPTIVE_MAX_SAMPLES and n != max_samples:
            raise InputError("Give n or max_samples (its former name), not both.")
        n = max_samples
    if routing is None:
        routing = PosteriorRouting()
    elif not callable(routing):
        raise InputError(
            "routing must be a function RoundSummary -> Decision or a route name, "
            f"e.g. PosteriorRouting(stop_at=0.5); got {type(routing).__name__}."
        )
    if budget is not None and not isinstance(budget, Budget | TokenPool):
        raise InputError(
            "budget must be ttc_graph.Budget(max_tokens=...) (per question) or "
            "TokenPool(tokens_per_question=..., questions=...) (shared by a batch)."
        )
    pool = budget if isinstance(budget, TokenPool) else None
    schema = run_options(
        name,
        ADAPTIVE,
        policy=policy,
        verifier=verifier,
        retry=retry,
        values={
            "n": n,
            "round_size": round_size,
            "beam_width": beam_width,
            "max_steps": max_steps,
            "aggregation": aggregation,
            "system_prompt": system_prompt,
            "seed": seed,
            "step_delimiter": step_delimiter,
            **_budget_values(budget),
            **option_defaults(sampling=sampling),
        },
        fixed=fixed_config(sampling, selection="weighted"),
    )
    if pool is not None:
        _first_round(pool, schema().config())
    # The step-level search of a "search" route: one graph, its budget given per run.
    search = create_beam_search(
        policy=policy,
        verifier=verifier,
        sampling=sampling,
        retry=retry,
        step_delimiter=step_delimiter,
        name=f"{name}.search",
    )

    builder = new_builder(schema)
    prepare = make_prepare(schema)

    def start(state: SearchState, runtime: Runtime[Any]) -> dict[str, Any]:
        update = prepare(state, runtime)
        if pool is not None:
            _first_round(pool, SearchConfig.from_dict(update["options"]))
        return {**update, "routes": []}

    builder.add_node("prepare", start)
    builder.add_node("sample", policy_node(policy, _sampler(pool), "sample"), retry_policy=retry)
    builder.add_node("score", make_score(verifier), retry_policy=retry)
    builder.add_node("route", _router(routing, pool))
    builder.add_node("search", _searcher(search, pool), retry_policy=retry)
    # Routing already decided to stop, so nothing is left that more budget would do.
    builder.add_node("select", make_select(more=lambda state, cfg: False))
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "sample")
    builder.add_edge("sample", "score")
    builder.add_edge("score", "route")
    builder.add_conditional_edges(
        "route",
        lambda state: state["routes"][-1]["route"].replace("stop", "select"),
        {"sample": "sample", "search": "search", "select": "select"},
    )
    builder.add_edge("search", "select")
    builder.add_edge("select", END)
    # At worst one candidate a round: MAX_N rounds of sample, score and route.
    return compile_graph(builder, name=name, supersteps=3 * MAX_N + 4, checkpointer=checkpointer)


def _budget_values(budget: Budget | TokenPool | None) -> dict[str, Any]:
    """A per-question :class:`Budget` is the default ``budget_tokens`` (a pool is not an
    option: it is one object shared by a batch)."""
    if not isinstance(budget, Budget):
        return {}
    if budget.max_seconds is not None:
        raise InputError(
            "adaptive's budget is in tokens: pass Budget(max_tokens=K) without max_seconds "
            "(rounds are shared out by tokens, not time)."
        )
    return {"budget_tokens": budget.max_tokens}


def _first_round(pool: TokenPool, cfg: SearchConfig) -> None:
    pool.set_first_round(min(cfg.round_size, cfg.n) * cfg.max_new_tokens)


class _Limits:
    """The budget of one graph: tokens per question and/or a shared pool."""

    def __init__(
        self, max_tokens: int | None, pool: TokenPool | None, round_size: int, row_tokens: int
    ) -> None:
        self.max_tokens = max_tokens
        self.pool = pool
        self.round_size = round_size
        self.row_tokens = row_tokens

    def tokens_left(self, spent: int) -> int | None:
        left = [self.max_tokens - spent] if self.max_tokens is not None else []
        if self.pool is not None:
            left.append(self.pool.available())
        return max(0, min(left)) if left else None


def _limits(cfg: SearchConfig, pool: TokenPool | None) -> _Limits:
    return _Limits(cfg.budget_tokens, pool, cfg.round_size, cfg.max_new_tokens)


def _sampler(pool: TokenPool | None) -> Any:
    def sample(state: SearchState, cfg: SearchConfig) -> PolicyWork:
        limits = _limits(cfg, pool)
        usage = empty_usage()
        with timed(usage):
            routes = state.get("routes", [])
            finished = state.get("finished", [])
            if routes:
                rows, reserved = routes[-1]["rows"], routes[-1]["reserved"]
            else:
                rows = min(limits.round_size, cfg.n)
                reserved = rows * limits.row_tokens
                if limits.pool is not None:
                    limits.pool.start(reserved)
            request = base_request(state, cfg)
            # The seed of best-of-N's only call, and candidate numbering continued
            # across rounds: candidate k is best-of-N's candidate k.
            params = replace(cfg.sampling, seed=call_seed({**state, "iteration": 0}))
            (completions,) = yield SampleCall([request], rows, params, first_index=len(finished))
            usage["policy_calls"] += 1
            expansion = Expansion(request, rows, None)
            trace: dict[str, TraceNode] = {}
            pending: list[Beam] = []
            for c in completions:
                beam = _new_beam(expansion, c, cfg, len(routes), len(pending), True, trace)
                pending.append(beam)
                usage["completion_tokens"] += c.completion_tokens
                usage["prompt_tokens"] += c.prompt_tokens
                emit(
                    "candidate_generated",
                    id=beam["id"],
                    parent=ROOT,
                    text=c.text,
                    iteration=len(routes),
                    group=0,
                    finish_reason=c.finish_reason,
                )
            if limits.pool is not None:
                limits.pool.settle(reserved, usage["completion_tokens"])
        return {"pending": pending, "trace": trace, "usage": usage}

    return sample


def _router(routing: RoutingPolicy, pool: TokenPool | None) -> Any:
    def route(state: SearchState, config: RunnableConfig) -> dict[str, Any]:
        cfg = config_of(state)
        limits = _limits(cfg, pool)
        usage = empty_usage()
        with timed(usage):
            beams = [*state.get("finished", []), *state.get("pending", [])]
            candidates = [to_candidate(b) for b in beams]
            spent = state["usage"]["completion_tokens"]
            routes = list(state.get("routes", []))
            summary = summarize(
                [c["answer"] for c in candidates],
                [c["score"] for c in candidates],
                spent,
                round_=len(routes) + 1,
                samples_left=cfg.n - len(candidates),
                tokens_left=limits.tokens_left(spent),
            )
            decision = decide(
                routing,
                summary,
                round_size=limits.round_size,
                row_tokens=limits.row_tokens,
                strategy=cfg.strategy,
            )
            reserved = 0
            if decision.route != "stop":
                want = (
                    decision.rows * limits.row_tokens
                    if decision.route == "sample"
                    else summary.tokens_left or 0
                )
                reserved = limits.pool.reserve(want) if limits.pool is not None else want
                if decision.route == "sample" and reserved < want:
                    # Another question took part of the pool meanwhile: a smaller round.
                    rows = reserved // limits.row_tokens
                    if limits.pool is not None:
                        limits.pool.settle(reserved - rows * limits.row_tokens, 0)
                    reserved = rows * limits.row_tokens
                    decision = (
                        replace(decision, rows=rows)
                        if rows
                        else Decision("stop", "budget: the shared pool is spent", budget=True)
                    )
            record = {
                **asdict(decision),
                "round": summary.round,
                "samples": summary.samples,
                "tokens": spent,
                "posterior": summary.posterior(getattr(routing, "prior", defaults.ADAPTIVE_PRIOR)),
                "leading_answer": summary.leading_answer,
                "tokens_left": summary.tokens_left,
                "reserved": reserved,
            }
            emit("route_decided", **{k: v for k, v in record.items() if k != "reserved"})
        update: dict[str, Any] = {
            "finished": beams,
            "pending": [],
            "routes": [*routes, record],
            "usage": usage,
        }
        if decision.budget:
            update["budget_limited"] = True
        return update

    return route


def _searcher(search: CompiledStateGraph[Any, Any, Any, Any], pool: TokenPool | None) -> Any:
    def run_search(state: SearchState, config: RunnableConfig) -> dict[str, Any]:
        cfg = config_of(state)
        reserved = state["routes"][-1]["reserved"]
        # The search gets exactly what is left as its own token budget.
        context = {
            "n": cfg.beam_width,
            "beam_width": cfg.beam_width,
            "max_steps": cfg.max_steps,
            "budget_tokens": max(1, reserved),
            "seed": state["seed"],
            **{
                k: getattr(cfg, k)
                for k in (
                    "temperature",
                    "top_p",
                    "max_new_tokens",
                    "system_prompt",
                    "aggregation",
                    "step_delimiter",
                )
            },
        }
        result = dict(search.invoke({"question": state["conversation"]}, config, context=context))
        if pool is not None:
            pool.settle(reserved, result["usage"]["completion_tokens"])
        trace: dict[str, TraceNode] = {}
        prefix = "search/"
        for node_id, t in result["trace"].items():
            if node_id == ROOT:
                continue
            parent = ROOT if t["parent"] in (None, ROOT) else prefix + str(t["parent"])
            trace[prefix + node_id] = {
                **node(prefix + node_id, parent, t["text"], t["iteration"], SEARCH_GROUP),
                "score": t["score"],
                "status": "finished" if t["status"] == "finished" else t["status"],
            }
        added: list[Beam] = []
        for c in result["candidates"]:
            ids = _path(result["trace"], c["id"])
            added.append(
                Beam(
                    id=prefix + c["id"],
                    node_ids=[prefix + i for i in ids],
                    steps=list(c["steps"]),
                    step_scores=list(c["step_scores"]),
                    score=c["score"],
                    finished=True,
                    finish_reason=c["finish_reason"],
                    completion_tokens=c["completion_tokens"],
                    group=SEARCH_GROUP,
                    lookahead="",
                )
            )
        emit("search_done", candidates=len(added), tokens=result["usage"]["completion_tokens"])
        return {
            "finished": [*state.get("finished", []), *added],
            "trace": trace,
            "usage": dict(result["usage"]),
            "budget_limited": bool(result.get("budget_limited")),
        }

    return run_search


def _path(trace: dict[str, Any], leaf: str) -> list[str]:
    """Trace ids from the root's child down to ``leaf``."""
    ids = []
    current: str | None = leaf
    while current is not None and current != ROOT and current in trace:
        ids.append(current)
        current = trace[current]["parent"]
    return ids[::-1]
