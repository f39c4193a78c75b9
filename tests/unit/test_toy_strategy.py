"""Adding a strategy is its module and one spec: a toy strategy defined here, and nowhere
else, is found by ``ttc-graph solve --strategy``, by ``eval``, by the OpenAI server's
``/v1/models`` and by the LangGraph app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langgraph.graph import END, START

from scripted import QUESTION, ScriptedPolicy
from ttc_graph.cli import main
from ttc_graph.evaluation import create_evaluation
from ttc_graph.serving import create_app, langgraph_app
from ttc_graph.strategies import SPECS, OptionSet, StrategySpec, register_strategy
from ttc_graph.strategies.common import compile_graph, new_builder, run_options
from ttc_graph.strategies.config import Expansion
from ttc_graph.strategies.context import check_common
from ttc_graph.strategies.nodes import base_request, make_generate, make_select
from ttc_graph.strategies.prepare import make_prepare

# -- the toy strategy: its module ---------------------------------------------------------

TOY_OPTIONS = OptionSet(("n", "seed", "max_new_tokens"), check_common)


def create_toy(
    *, policy: Any, verifier: Any = None, n: int = 3, seed: int | None = None, name: str = "toy"
) -> Any:
    """N samples, the most frequent answer: a majority vote written from the shared nodes."""
    schema = run_options(
        name,
        TOY_OPTIONS,
        policy=policy,
        verifier=verifier,
        retry=None,
        values={"n": n, "seed": seed},
    )
    builder = new_builder(schema)
    builder.add_node("prepare", make_prepare(schema))
    builder.add_node(
        "generate",
        make_generate(
            policy, lambda state, cfg: [Expansion(base_request(state, cfg), cfg.n, None)], full=True
        ),
    )
    builder.add_node("select", make_select(lambda candidates: 0))
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "generate")
    builder.add_edge("generate", "select")
    builder.add_edge("select", END)
    return compile_graph(builder, name=name, supersteps=3)


# -- and its spec ---------------------------------------------------------------------------

TOY = StrategySpec(
    name="toy",
    summary="the first of N samples",
    factory=f"{__name__}:create_toy",
    options=TOY_OPTIONS,
    needs_verifier=False,
    eval_mode="per_n",
    defaults={"n": 3},
)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedPolicy]:
    """The toy strategy registered, and the embedded model replaced by a scripted one."""
    policy = ScriptedPolicy()
    register_strategy(TOY)
    monkeypatch.setattr("ttc_graph.policy.load_policy", lambda *a, **k: policy)
    try:
        yield policy
    finally:
        SPECS.pop("toy")
        langgraph_app.__dict__.pop("toy", None)


def test_solve_runs_it(toy: ScriptedPolicy, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", QUESTION, "--strategy", "toy", "--n", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["strategy"], len(result["candidates"])) == ("toy", 2)
    assert main(["solve", QUESTION, "--strategy", "toy", "--beam-width", "2"]) == 2
    assert "toy takes no --beam-width; its options: --n, --seed" in capsys.readouterr().err


def test_eval_runs_it(toy: ScriptedPolicy, tmp_path: Path) -> None:
    evaluation = create_evaluation(
        dataset="arithmetic", strategies="toy", ns="1,2", limit=2, out=tmp_path
    )
    try:
        report = evaluation.run(policy=toy, progress=False)
    finally:
        evaluation.close()
    assert [(p.strategy, p.n, p.problems) for p in report.overall()] == [
        ("toy", 1, 2),
        ("toy", 2, 2),
    ]
    assert {c.n for c in toy.calls} == {1, 2}


def test_the_openai_server_serves_it(toy: ScriptedPolicy) -> None:
    with TestClient(create_app(policy=toy, verifier="arithmetic")) as client:
        models = client.get("/v1/models").json()["data"]
        entry = next(m for m in models if m["id"] == "toy")
        assert (entry["ttc"]["takes_n"], entry["ttc"]["options"]["n"]) == (True, 3)
        reply = client.post(
            "/v1/chat/completions",
            json={"model": "toy-2", "messages": [{"role": "user", "content": QUESTION}]},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["ttc"]["n"] == 2


def test_the_langgraph_app_serves_it(toy: ScriptedPolicy) -> None:
    assert langgraph_app.langgraph_json()["graphs"]["toy"] == "ttc_graph.serving.langgraph_app:toy"
    assert callable(langgraph_app.toy)  # what langgraph.json's "module:toy" resolves to
    builder = langgraph_app.GraphBuilder(load=lambda: toy)
    factory = langgraph_app.create_graph_factory("toy", builder=builder)
    graph = asyncio.run(factory({"configurable": {}}))
    result = graph.invoke({"messages": [{"role": "user", "content": QUESTION}]}, context={"n": 4})
    assert len(result["candidates"]) == 4
