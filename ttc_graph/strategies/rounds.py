"""Sampling in rounds until the answer settles: the one loop of best-of-N and adaptive.

    prepare → generate → score → route ─┬→ generate   (not settled; samples and budget left)
                                        └→ select

Each round samples full solutions from the question, the verifier scores them, and a
*rule* reads what the candidates so far say (:func:`~ttc_graph.strategies.routing.
summarize`) and stops or asks for another round:

- :class:`FixedRounds` (best-of-N, greedy): one round of N; with early stopping
  (``early_stop_round``), rounds of that many until the leading answer's
  :func:`~ttc_graph.strategies.routing.posterior` reaches ``early_stop_agreement``;
- :class:`RoutedRounds` (adaptive): a routing policy decides, within a token budget
  per question or a :class:`~ttc_graph.strategies.pool.TokenPool` shared by a batch,
  and a routing policy that does not answer in time ends the search.

Candidate ``k`` is sampled with the seed of one best-of-N call and numbered on across
rounds (``first_index``), so the candidates of any rounds are a prefix of best-of-N's
sample: an early-stopped vote is the full vote cut short, and the evaluation replays
adaptive from a stored sample (:mod:`ttc_graph.evaluation.replay`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer, RetryPolicy

from ttc_graph.errors import StrategyError
from ttc_graph.limits import MAX_N
from ttc_graph.policy.base import Policy, SamplingParams
from ttc_graph.strategies import defaults
from ttc_graph.strategies.common import compile_graph, new_builder
from ttc_graph.strategies.config import Expansion
from ttc_graph.strategies.context import RunOptions
from ttc_graph.strategies.driver import (
    PolicyWork,
    SampleCall,
    budgeted,
    config_of,
    cut_by_budget,
    policy_node,
)
from ttc_graph.strategies.nodes import (
    ROOT,
    base_request,
    call_seed,
    emit,
    make_score,
    make_select,
    new_beam,
    timed,
    to_candidate,
)
from ttc_graph.strategies.options import SearchConfig
from ttc_graph.strategies.pool import TokenPool
from ttc_graph.strategies.prepare import make_prepare
from ttc_graph.strategies.routing import (
    Decision,
    RoundSummary,
    RoutingPolicy,
    decide,
    summarize,
)
from ttc_graph.strategies.state import Beam, SearchState, TraceNode, empty_usage
from ttc_graph.verifiers.base import Verifier

ROUTING_TIMEOUT_S = 30.0
"""Longest a routing policy may take to answer (without a time budget): it reads a
summary of a few numbers, so a policy that has not answered by then is broken."""


class Rule(Protocol):
    """How many candidates each round samples, and when the rounds stop."""

    @property
    def weighted(self) -> bool:
        """Whether its summaries weigh candidates by the verifier's scores."""
        ...

    def first_round(self, cfg: SearchConfig) -> tuple[int, int]:
        """The first round's rows, and the tokens set aside for them."""
        ...

    def row_params(
        self, state: SearchState, cfg: SearchConfig, rows: int
    ) -> tuple[SamplingParams, float | None]:
        """Sampling of a round's rows within the budget, and the generation deadline."""
        ...

    def after_round(self, reserved: int, used: int) -> None:
        """A round set ``reserved`` tokens aside and used ``used``."""
        ...

    def next(self, summary: RoundSummary, state: SearchState, cfg: SearchConfig) -> Decision:
        """Stop, or sample ``rows`` more: what the candidates so far say."""
        ...

    def reserve(self, decision: Decision, cfg: SearchConfig) -> tuple[Decision, int]:
        """Set tokens aside for the next round (a shared pool may grant fewer rows)."""
        ...

    def tokens_left(self, cfg: SearchConfig, spent: int) -> int | None:
        """Tokens the question may still spend, where the rule counts them."""
        ...


@dataclass(frozen=True)
class FixedRounds:
    """Best-of-N: one round of N, or rounds of ``early_stop_round`` until settled."""

    weighted: bool
    """A verifier scores the candidates (an early stop ``by="auto"`` weighs by them)."""

    def first_round(self, cfg: SearchConfig) -> tuple[int, int]:
        return min(cfg.early_stop_round or cfg.n, cfg.n), 0

    def row_params(
        self, state: SearchState, cfg: SearchConfig, rows: int
    ) -> tuple[SamplingParams, float | None]:
        # Every candidate still to come gets its share of the tokens left, so a vote
        # cut short by early stopping splits the budget as the whole vote would.
        left = cfg.n - len(state.get("finished", []))
        return budgeted(state, cfg, max(rows, left), cfg.sampling)

    def after_round(self, reserved: int, used: int) -> None:
        """Nothing is set aside."""

    def next(self, summary: RoundSummary, state: SearchState, cfg: SearchConfig) -> Decision:
        if cfg.early_stop_round is None or summary.samples_left < 1:
            return Decision("stop", f"done: {summary.samples} candidates")
        by_score = cfg.early_stop_by == "posterior" or (
            cfg.early_stop_by == "auto" and self.weighted
        )
        value = summary.posterior(cfg.early_stop_prior if by_score else 0.0)
        what = "posterior" if by_score else "agreement"
        if value >= cfg.early_stop_agreement:
            self._announce(summary, value, cfg)
            return Decision("stop", f"settled: {what} {value:.2f} >= {cfg.early_stop_agreement}")
        if cfg.budget is not None and cfg.budget.exceeded(state["usage"]):
            return Decision("stop", "budget: spent", budget=True)
        rows = min(cfg.early_stop_round, summary.samples_left)
        return Decision("sample", f"open: {what} {value:.2f}", rows=rows)

    def reserve(self, decision: Decision, cfg: SearchConfig) -> tuple[Decision, int]:
        return decision, 0

    def tokens_left(self, cfg: SearchConfig, spent: int) -> int | None:
        return None

    @staticmethod
    def _announce(summary: RoundSummary, value: float, cfg: SearchConfig) -> None:
        saved = cfg.n - summary.samples
        emit(
            "early_stopped",
            sampled=summary.samples,
            n=cfg.n,
            agreement=value,
            saved_candidates=saved,
            saved_tokens_estimate=round(summary.tokens / max(1, summary.samples) * saved),
        )


@dataclass(frozen=True)
class RoutedRounds:
    """Adaptive: rounds of ``round_size`` routed by a policy, under a token budget."""

    routing: RoutingPolicy
    pool: TokenPool | None
    weighted: bool = True

    def first_round(self, cfg: SearchConfig) -> tuple[int, int]:
        rows = min(cfg.round_size, cfg.n)
        reserved = rows * cfg.max_new_tokens
        if self.pool is not None:
            self.pool.set_first_round(reserved)  # this run's rounds may differ from the default
            self.pool.start(reserved)
        return rows, reserved

    def row_params(
        self, state: SearchState, cfg: SearchConfig, rows: int
    ) -> tuple[SamplingParams, float | None]:
        # Rounds are granted whole (every row may write max_new_tokens): only a time
        # limit can cut one short.
        return cfg.sampling, _deadline(state, cfg)

    def after_round(self, reserved: int, used: int) -> None:
        if self.pool is not None:
            self.pool.settle(reserved, used)

    def next(self, summary: RoundSummary, state: SearchState, cfg: SearchConfig) -> Decision:
        deadline = _deadline(state, cfg)
        if deadline is not None and time.monotonic() >= deadline:
            return Decision("stop", "time: the time budget is spent", budget=True)
        wait = ROUTING_TIMEOUT_S if deadline is None else max(0.0, deadline - time.monotonic())
        decision = _within(
            lambda: decide(
                self.routing,
                summary,
                round_size=cfg.round_size,
                row_tokens=cfg.max_new_tokens,
                strategy=cfg.strategy,
            ),
            wait,
        )
        if decision is not None:
            return decision
        if deadline is not None:
            return Decision(
                "stop", "time: the routing policy did not answer within the budget", budget=True
            )
        raise StrategyError(
            f"{cfg.strategy}: the routing policy did not answer within {ROUTING_TIMEOUT_S:g} s; "
            "it should be a quick function of the round summary. Fix it, or pass "
            "routing=PosteriorRouting() (the default).",
            strategy=cfg.strategy,
            iteration=summary.round,
            node="route",
        )

    def reserve(self, decision: Decision, cfg: SearchConfig) -> tuple[Decision, int]:
        if decision.route == "stop":
            return decision, 0
        want = decision.rows * cfg.max_new_tokens
        if self.pool is None:
            return decision, want
        reserved = self.pool.reserve(want)
        if reserved >= want:
            return decision, reserved
        # Another question took part of the pool meanwhile: a smaller round.
        rows = reserved // cfg.max_new_tokens
        self.pool.settle(reserved - rows * cfg.max_new_tokens, 0)
        if not rows:
            return Decision("stop", "budget: the shared pool is spent", budget=True), 0
        return replace(decision, rows=rows), rows * cfg.max_new_tokens

    def tokens_left(self, cfg: SearchConfig, spent: int) -> int | None:
        """Tokens this question may still spend: its budget and the shared pool."""
        left = [cfg.budget_tokens - spent] if cfg.budget_tokens is not None else []
        if self.pool is not None:
            left.append(self.pool.available())
        return max(0, min(left)) if left else None


def _deadline(state: SearchState, cfg: SearchConfig) -> float | None:
    if cfg.budget_seconds is None:
        return None
    return time.monotonic() + max(0.0, cfg.budget_seconds - state["usage"]["seconds"])


def _within(call: Any, seconds: float) -> Decision | None:
    """``call()`` on a daemon thread, its result if it returns within ``seconds``, else
    ``None`` (the thread is left to finish; nothing waits for it). Its errors are raised."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="ttc-graph-routing", daemon=True).start()
    if not done.wait(seconds):
        return None
    if "error" in box:
        raise box["error"]
    value: Decision = box["value"]
    return value


def make_round(policy: Policy, rule: Rule) -> Any:
    """Node: sample one round of full solutions from the question."""

    def generate(state: SearchState, cfg: SearchConfig) -> PolicyWork:
        usage = empty_usage()
        update: dict[str, Any] = {}
        with timed(usage):
            routes = state.get("routes", [])
            finished = state.get("finished", [])
            if routes:
                rows, reserved = routes[-1]["rows"], routes[-1]["reserved"]
            else:
                rows, reserved = rule.first_round(cfg)
            params, deadline = rule.row_params(state, cfg, rows)
            # The seed of best-of-N's one call, and the candidate numbering continued
            # across rounds: candidate k is best-of-N's candidate k.
            params = replace(params, seed=call_seed({**state, "iteration": 0}))
            request = base_request(state, cfg)
            (completions,) = yield SampleCall(
                [request], rows, params, first_index=len(finished), deadline=deadline
            )
            usage["policy_calls"] += 1
            expansion = Expansion(request, rows, None)
            trace: dict[str, TraceNode] = {}
            pending: list[Beam] = []
            for c in completions:
                beam = new_beam(expansion, c, cfg, len(routes), len(pending), True, trace)
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
            rule.after_round(reserved, usage["completion_tokens"])
            if cut_by_budget(completions, params, cfg, deadline):
                update["budget_limited"] = True
        return {"pending": pending, "trace": trace, "usage": usage, **update}

    return policy_node(policy, generate, "generate")


def make_route(rule: Rule, *, announce: bool) -> Any:
    """Node: the round's candidates join the finished pool; the rule stops or goes on.

    ``announce``: emit a ``route_decided`` event for every decision (adaptive)."""

    def route(state: SearchState, config: RunnableConfig) -> dict[str, Any]:
        cfg = config_of(state)
        usage = empty_usage()
        with timed(usage):
            beams = [*state.get("finished", []), *state.get("pending", [])]
            candidates = [to_candidate(b) for b in beams]
            spent = state["usage"]["completion_tokens"]
            routes = list(state.get("routes", []))
            tokens_left = rule.tokens_left(cfg, spent)
            scores = [c["score"] for c in candidates] if rule.weighted else None
            summary = summarize(
                [c["answer"] for c in candidates],
                scores,
                spent,
                round_=len(routes) + 1,
                samples_left=cfg.n - len(candidates),
                tokens_left=tokens_left,
            )
            decision, reserved = rule.reserve(rule.next(summary, state, cfg), cfg)
            prior = getattr(getattr(rule, "routing", None), "prior", defaults.ADAPTIVE_PRIOR)
            record = {
                **asdict(decision),
                "round": summary.round,
                "samples": summary.samples,
                "tokens": spent,
                "posterior": summary.posterior(prior),
                "leading_answer": summary.leading_answer,
                "tokens_left": summary.tokens_left,
                "reserved": reserved,
            }
            if announce:
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


def build_rounds(
    policy: Policy,
    verifier: Verifier | None,
    schema: type[RunOptions],
    rule: Rule,
    *,
    retry: RetryPolicy | None,
    checkpointer: Checkpointer,
    announce: bool = False,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The rounds loop over ``rule``; without a verifier there is no score node."""
    builder = new_builder(schema)
    prepare = make_prepare(schema)

    def start(state: SearchState, runtime: Runtime[Any]) -> dict[str, Any]:
        return {**prepare(state, runtime), "routes": []}

    builder.add_node("prepare", start)
    builder.add_node("generate", make_round(policy, rule), retry_policy=retry)
    builder.add_node("route", make_route(rule, announce=announce))
    # The rule already decided to stop: nothing is left that more budget would do.
    builder.add_node("select", make_select(more=lambda state, cfg: False))
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "generate")
    if verifier is not None:
        builder.add_node("score", make_score(verifier), retry_policy=retry)
        builder.add_edge("generate", "score")
        builder.add_edge("score", "route")
    else:
        builder.add_edge("generate", "route")
    builder.add_conditional_edges(
        "route",
        lambda state: "generate" if state["routes"][-1]["route"] == "sample" else "select",
        ["generate", "select"],
    )
    builder.add_edge("select", END)
    # At worst one candidate a round: MAX_N rounds of generate, score and route.
    return compile_graph(
        builder, name=schema.strategy, supersteps=3 * MAX_N + 4, checkpointer=checkpointer
    )
