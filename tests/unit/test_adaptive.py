"""Adaptive (issue 16): routing on scripted scores, the shared token pool, the eval option
and the accuracy-vs-tokens plot. One real search checked against its replay is in
tests/integration/test_adaptive_live.py."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel

from ttc_graph import Budget, PosteriorRouting, TokenPool, create_adaptive
from ttc_graph.errors import InputError, StrategyError
from ttc_graph.evaluation import create_evaluation, write_report
from ttc_graph.evaluation.metrics import CurvePoint, wilson_interval
from ttc_graph.evaluation.plot import plot_compute
from ttc_graph.evaluation.replay import Sample, replay
from ttc_graph.policy import SamplingParams
from ttc_graph.policy.chat_model import ChatModelPolicy
from ttc_graph.strategies import SPECS, rounds
from ttc_graph.strategies.routing import Decision, decide, summarize
from ttc_graph.verifiers import GroundedVerifier


def summary(answers: list[str | None], scores: list[float], **kw: Any) -> Any:
    options = {"round_": 1, "samples_left": 12, "tokens_left": None, **kw}
    return summarize(answers, scores, 64 * len(answers), **options)


# -- routing on scripted verifier scores (no model) -------------------------------------


def test_posterior_routing_stops_when_the_weighted_vote_is_settled() -> None:
    routing = PosteriorRouting(stop_at=0.5, prior=0.25)
    # One well-checked "7" outweighs three unchecked "5"s: the posterior, not agreement.
    s = summary(["7", "5", "5", "5"], [0.6, 0.01, 0.01, 0.01])
    assert s.leading_answer == "7"
    assert s.distinct_answers == 2
    assert s.posterior(0.25) == pytest.approx(0.6 / (0.63 + 0.25))
    d = routing(s)
    assert d.route == "stop"
    assert d.reason.startswith("confident: posterior 0.68")
    # Agreement on low scores is not settled: the prior outweighs it.
    d = routing(summary(["5", "5", "5", "5"], [0.01] * 4))
    assert d.route == "sample"
    assert "0.14 < 0.50" in d.reason
    # No parseable answer at all: posterior 0, keep sampling (the budget ends it).
    assert routing(summary([None] * 4, [0.3] * 4)).route == "sample"


def test_decide_applies_samples_and_tokens_left() -> None:
    always = lambda s: "sample"  # noqa: E731
    d = decide(always, summary(["1"] * 4, [0.1] * 4, tokens_left=150), round_size=4, row_tokens=64)
    assert (d.route, d.rows) == ("sample", 2), "a smaller round where only two rows fit"
    d = decide(always, summary(["1"] * 4, [0.1] * 4, tokens_left=63), round_size=4, row_tokens=64)
    assert d.route == "stop"
    assert d.budget
    assert d.reason.startswith("budget: 63 tokens left")
    d = decide(always, summary(["1"] * 4, [0.1] * 4, samples_left=0), round_size=4, row_tokens=64)
    assert d.route == "stop"
    assert not d.budget
    assert d.reason.startswith("done: 4 samples")
    d = decide(always, summary(["1"] * 4, [0.1] * 4, samples_left=3), round_size=4, row_tokens=64)
    assert d.rows == 3


def test_a_broken_routing_policy_is_a_clear_error_never_a_hang() -> None:
    s = summary(["1"], [0.1])

    def raises(_: Any) -> str:
        raise KeyError("posterior")

    with pytest.raises(StrategyError, match="routing policy raised KeyError"):
        decide(raises, s, round_size=4, row_tokens=64)
    for bad in ("jump", "search", None, 3, Decision("later", "?")):  # type: ignore[arg-type]
        with pytest.raises(InputError, match="return one of stop, sample \\(or a Decision"):
            decide(lambda _, bad=bad: bad, s, round_size=4, row_tokens=64)


def sleeps(_: Any) -> str:
    """A routing policy that never answers in time."""
    threading.Event().wait(600)
    return "stop"


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_a_routing_policy_past_the_deadline_ends_the_search_with_its_best_answer(
    mode: str,
) -> None:
    policy = ChatModelPolicy(FakeListChatModel(responses=["7 + 5 = 12. $\\boxed{12}$"]))
    graph = create_adaptive(
        policy=policy,
        verifier=GroundedVerifier(),
        routing=sleeps,
        budget=Budget(max_seconds=2.0),
        sampling=SamplingParams(max_new_tokens=8),
    )
    started = time.monotonic()
    question = {"question": "Sam has 7 pencils and buys 5 more. How many?"}
    run = graph.invoke if mode == "invoke" else lambda q: asyncio.run(graph.ainvoke(q))
    result = run(question)
    assert time.monotonic() - started < 30, "the deadline, not the policy, ended it"
    assert result["answer"] == "12", "the best answer so far"
    assert result["budget_limited"] is True
    assert result["routes"][-1]["reason"].startswith("time: the routing policy did not answer")


def test_without_a_time_budget_a_stuck_routing_policy_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rounds, "ROUTING_TIMEOUT_S", 0.5)
    policy = ChatModelPolicy(FakeListChatModel(responses=["$\\boxed{12}$"]))
    graph = create_adaptive(policy=policy, verifier=GroundedVerifier(), routing=sleeps)
    with pytest.raises(StrategyError, match=r"did not answer within 0\.5 s"):
        graph.invoke({"question": "What is 7 + 5?"})


def test_a_question_never_answered_ends_with_no_answer_and_says_why() -> None:
    """Every candidate unparseable: the posterior stays 0, sampling goes on until
    max_samples (or the budget) ends it, and the result is answer None, not a hang."""
    policy = ChatModelPolicy(FakeListChatModel(responses=["I cannot tell."]))
    graph = create_adaptive(
        policy=policy,
        verifier=GroundedVerifier(),
        budget=Budget(max_tokens=64),
        sampling=SamplingParams(max_new_tokens=8),
    )
    result = graph.invoke({"question": "What is 2 + 3?"})
    assert result["answer"] is None
    assert len(result["candidates"]) == 16
    routes = result["routes"]
    assert [r["route"] for r in routes] == ["sample"] * 3 + ["stop"]
    assert routes[0]["reason"] == "open: posterior 0.00 < 0.30"
    assert routes[-1]["reason"] == "done: 16 samples, the most allowed"


# -- the token pool and budget sharing across a batch (no model) ---------------------------


def scripted(settled: bool, n: int = 16) -> list[Sample]:
    """A question whose samples settle at once (well-checked "7") or never do."""
    if settled:
        return [Sample("7", 0.6, 10) for _ in range(n)]
    return [Sample(str(i), 0.01, 10) for i in range(n)]


def test_settled_questions_leave_their_share_to_open_ones() -> None:
    pools = [scripted(True), scripted(False), scripted(False)]
    options = {
        "routing": PosteriorRouting(stop_at=0.5, prior=0.25),
        "round_size": 4,
        "row_tokens": 10,
        "tokens_per_question": 80,
    }
    alone = replay(pools, shared=False, **options)  # type: ignore[arg-type]
    shared = replay(pools, shared=True, **options)  # type: ignore[arg-type]
    assert [r.samples for r in alone] == [4, 8, 8], "80 tokens each: two rounds at most"
    assert shared[0].samples == 4
    assert shared[0].decisions[0].route == "stop"
    # The settled question's unspent 40 tokens went to the open ones: served
    # round-robin in whole rounds, the first open question gets the extra round.
    assert [r.samples for r in shared[1:]] == [12, 8]
    assert sum(r.tokens for r in shared) <= 3 * 80
    assert shared[1].decisions[-1].budget, "the pool ended them, and says so"
    assert all(d.route == "sample" for d in shared[1].decisions[:-1])


def test_pool_sets_first_rounds_aside_and_refuses_extra_questions() -> None:
    pool = TokenPool(tokens_per_question=100, questions=3)
    pool.set_first_round(40)
    assert pool.available() == 300 - 3 * 40
    pool.start(40)
    assert pool.reserve(1000) == 180, "never what the other questions' first rounds need"
    assert pool.reserve(10) == 0
    pool.settle(180, 100)
    pool.settle(40, 40)
    assert pool.spent == 140
    assert pool.available() == 300 - 140 - 2 * 40
    pool.start(40)
    pool.start(40)
    with pytest.raises(InputError, match="made for 3 questions"):
        pool.start(40)
    with pytest.raises(InputError, match="fewer than one first round"):
        TokenPool(tokens_per_question=30, questions=2).set_first_round(40)
    with pytest.raises(InputError):
        TokenPool(tokens_per_question=0, questions=2)


def test_pool_is_never_overdrawn_by_concurrent_rounds() -> None:
    pool = TokenPool(tokens_per_question=50, questions=8)
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            got = pool.reserve(7)
            pool.settle(got, got)
            with lock:
                granted.append(got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pool.spent == sum(granted) <= 400


# -- bad input, checked when the graph is built (no model) --------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": Budget(max_tokens=100)}, "smaller than one first round"),
        ({"budget": Budget(max_tokens=math.nan)}, "must be an integer"),  # type: ignore[arg-type]
        ({"budget": 500}, "budget must be ttc_graph.Budget"),
        ({"budget": TokenPool(tokens_per_question=100, questions=2)}, "fewer than one first"),
        ({"routing": "posterior"}, "routing must be a function"),
        ({"round_size": 0}, "option 'round_size' must be >= 1"),
        ({"verifier": None}, "routes by the verifier's scores"),
    ],
)
def test_bad_settings_are_refused_up_front(kwargs: dict[str, Any], message: str) -> None:
    policy = ChatModelPolicy(FakeListChatModel(responses=["x"]))
    options = {"policy": policy, "verifier": GroundedVerifier(), **kwargs}
    with pytest.raises(InputError, match=message):
        create_adaptive(**options)
    with pytest.raises(InputError, match="smaller than one first round"):
        create_adaptive(policy=policy, verifier=GroundedVerifier(), budget=Budget(max_tokens=1))
    with pytest.raises(InputError, match=">= 1"):
        Budget(max_tokens=0)


# -- eval: --budget-tokens-per-problem and the accuracy-vs-tokens plot (no model) ---------


def _record(pid: str, level: str, reference: str, samples: list[Sample]) -> dict[str, Any]:
    return {
        "problem_id": pid,
        "level": level,
        "reference": reference,
        "answer": None,
        "correct": False,
        "candidates": [
            {
                "text": f"... {s.answer}",
                "answer": s.answer,
                "score": s.score,
                "completion_tokens": s.tokens,
            }
            for s in samples
        ],
        "usage": {
            "completion_tokens": 160,
            "policy_calls": 1,
            "verifier_calls": 1,
            "seconds": 16.0,
        },
        "wall_seconds": 16.0,
    }


def test_eval_replays_adaptive_at_each_budget(tmp_path: Path) -> None:
    ev = create_evaluation(
        dataset="arithmetic",
        difficulty=[1, 2],
        limit=4,
        strategies="weighted,adaptive",
        ns="4,16",
        max_new_tokens=10,
        verifier="grounded",
        budgets="40,80,160",
        out=tmp_path,
    )
    problems = ev.problems.problems
    for i, p in enumerate(problems):
        # Problems 0 and 2 settle on the right answer at once; 1 and 3 never settle.
        pool = (
            [Sample(p.answer, 0.6, 10)] * 16
            if i % 2 == 0
            else [Sample(str(k), 0.01, 10) for k in range(15)] + [Sample(p.answer, 0.02, 10)]
        )
        ev.store.put(ev.config_hash, "samples", 16, p.id, _record(p.id, p.level, p.answer, pool))
    report = ev.report()
    got = {(pt.strategy, pt.n): pt for pt in report.overall()}
    assert set(got) == {("weighted", 4), ("weighted", 16), ("adaptive", 40), ("adaptive", 80),
                        ("adaptive", 160)}  # fmt: skip
    assert got[("adaptive", 40)].mean_completion_tokens == 40
    # 320 tokens in the pool: the settled pair takes 40 each, the open pair the rest.
    assert got[("adaptive", 80)].mean_completion_tokens == 80
    assert got[("adaptive", 160)].accuracy == 1.0, "the open pair reaches its 16th sample"
    assert got[("adaptive", 160)].mean_completion_tokens == (40 + 160 + 40 + 160) / 4
    assert got[("adaptive", 80)].accuracy == 0.5
    by_level = {(pt.strategy, pt.n, pt.level): pt for pt in report.by_level()}
    assert by_level[("adaptive", 160, "1")].mean_completion_tokens == 40
    assert by_level[("adaptive", 160, "2")].mean_completion_tokens == 160
    paths = write_report(report, tmp_path)
    assert paths["tokens_plot"].name.startswith("accuracy-tokens-")
    assert (tmp_path / "accuracy-tokens.png").is_file()
    assert "budgets_tokens_per_problem" in paths["json"].read_text()
    ev.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategies": "adaptive"}, "pass --budget-tokens-per-problem"),
        ({"strategies": "adaptive", "budgets": "100"}, "smaller than adaptive's first round"),
        ({"strategies": "weighted", "budgets": "500"}, "applies to adaptive only"),
        ({"strategies": "adaptive", "budgets": "500,400"}, "strictly increasing"),
        ({"strategies": "adaptive", "budgets": "lots"}, "must be comma-separated integers"),
    ],
)
def test_eval_budget_option_is_checked(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        create_evaluation(
            dataset="arithmetic", max_new_tokens=64, verifier="grounded", out=tmp_path, **kwargs
        )


def _point(strategy: str, n: int, acc: float, tokens: float) -> CurvePoint:
    correct = round(acc * 20)
    low, high = wilson_interval(correct, 20)
    return CurvePoint(
        strategy, n, "all", 20, correct, correct / 20, low, high, tokens, 1, 1, 1.0, False
    )


def test_accuracy_against_tokens_plot(tmp_path: Path) -> None:
    points = [
        _point("greedy", 1, 0.10, 60),
        *(_point("weighted", n, a, 62 * n) for n, a in [(1, 0.05), (4, 0.10), (16, 0.25)]),
        *(_point("adaptive", k, a, 0.9 * k) for k, a in [(256, 0.12), (512, 0.2), (1024, 0.25)]),
        *(_point("coverage", n, a, 62 * n) for n, a in [(1, 0.05), (4, 0.17), (16, 0.4)]),
    ]
    fig = plot_compute(points, path=tmp_path / "t.png")
    ax = fig.axes[0]
    lines = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
    assert set(lines) == {"greedy", "weighted", "adaptive", "coverage"}
    assert list(lines["adaptive"].get_xdata()) == pytest.approx([230.4, 460.8, 921.6])
    assert list(lines["weighted"].get_ydata()) == pytest.approx([5, 10, 25])
    assert lines["greedy"].get_linestyle() == "None", "one point, not a line"
    assert ax.get_xscale() == "log"
    assert "tokens" in ax.get_xlabel()
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_registry_lists_adaptive() -> None:
    spec = SPECS["adaptive"]
    assert spec.needs_verifier
    assert spec.eval_mode == "budgeted"
    assert spec.default("n") == 16


def test_viewer_and_terminal_show_each_routing_decision(tmp_path: Path) -> None:
    from rich.console import Console

    from ttc_graph.visualization import load_trace, print_tree, save_trace
    from ttc_graph.visualization.html import html_document

    routes = [
        {"round": 1, "route": "sample", "reason": "open: posterior 0.03 < 0.50", "rows": 4},
        {"round": 2, "route": "stop", "reason": "confident: posterior 0.61 >= 0.50", "rows": 0},
    ]
    root = {"id": "root", "parent": None, "text": "Q?", "score": None, "iteration": 0,
            "status": "root", "chosen": True, "group": 0}  # fmt: skip
    leaf = {**root, "id": "0.0", "parent": "root", "text": "7", "status": "finished"}
    result = {"question_text": "Q?", "answer": "7", "solution": "7", "strategy": "adaptive",
              "trace": {"root": root, "0.0": leaf}, "routes": routes}  # fmt: skip
    trace = load_trace(save_trace(result, tmp_path / "t.json"))
    assert [r["reason"] for r in trace["routes"]] == [r["reason"] for r in routes]
    page = html_document(trace)
    assert '<li data-route="sample">round 1: <b>sample</b> — open: posterior 0.03' in page
    console = Console(record=True, width=120)
    print_tree(trace, console=console)
    assert "round 2: stop — confident: posterior 0.61 >= 0.50" in console.export_text()
    with pytest.raises(InputError, match=r"routes\[0\] has unknown route .jump."):
        save_trace(
            {**result, "routes": [{"round": 1, "route": "jump", "reason": ""}]}, tmp_path / "x.json"
        )
