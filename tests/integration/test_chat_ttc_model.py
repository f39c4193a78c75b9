"""ChatTTC on the embedded model: a chain written for any chat model, with ChatTTC
swapped in; the answer is the graph's; a batch shares the policy's batches; a trace shows
the policy's own calls under the chat model's run."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tracers.base import BaseTracer

from ttc_graph import ChatTTC, GroundedVerifier, create_best_of_n
from ttc_graph.policy import SamplingParams

QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"


def test_a_chain_takes_chattc_in_place_of_its_chat_model(policy: Any) -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "{problem}")])
    chat = ChatTTC(policy=policy, verifier="grounded", n=4, max_tokens=24, seed=3)
    text = (prompt | chat | StrOutputParser()).invoke({"problem": QUESTION})
    graph = create_best_of_n(
        policy=policy,
        verifier=GroundedVerifier(),
        n=4,
        selection="weighted",
        sampling=SamplingParams(max_new_tokens=24),
        seed=3,
    )
    assert text == graph.invoke({"messages": [("human", QUESTION)]})["solution"]


def test_a_batch_shares_the_policys_batches(policy: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[int] = []
    generate = policy.model.generate

    def counted(*args: Any, **kwargs: Any) -> Any:
        rows.append(int(kwargs["input_ids"].shape[0]))
        return generate(*args, **kwargs)

    monkeypatch.setattr(policy.model, "generate", counted)
    chat = ChatTTC(policy=policy, strategy="majority", n=2, max_tokens=8, seed=1)
    answers = chat.batch([QUESTION, "What is 9 + 6?", "What is 2 + 3?"])
    assert len(answers) == 3
    assert len(rows) < 3, f"each question generated alone: {rows}"
    assert sum(rows) == 6


def test_a_trace_shows_the_policy_calls_under_the_chat_model(policy: Any) -> None:
    class Collect(BaseTracer):
        def __init__(self) -> None:
            super().__init__()
            self.roots: list[Any] = []

        def _persist_run(self, run: Any) -> None:
            self.roots.append(run)

    tracer = Collect()
    chat = ChatTTC(policy=policy, strategy="majority", n=2, max_tokens=8, seed=1)
    chat.invoke(QUESTION, config={"callbacks": [tracer]})
    (root,) = tracer.roots

    def runs(run: Any) -> list[tuple[str, str]]:
        return [(run.run_type, run.name), *(r for c in run.child_runs for r in runs(c))]

    below = runs(root)[1:]
    assert ("chain", "majority") in below
    assert any(kind == "llm" for kind, _ in below), f"no policy call traced: {below}"
