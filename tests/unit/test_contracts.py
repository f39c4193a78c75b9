"""The contracts between layers, stated once: the Policy protocol's ``first_index``,
whose aggregation a search uses, what step sampling keeps, and which layer imports torch.

Unit tests of pure rules (a scripted policy and verifier), the aggregation rule checked
inside a real graph; a policy built from parts on the embedded model is in
tests/integration/test_contracts_real_model.py.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest

from ttc_graph import create_best_of_n
from ttc_graph.policy import Completion, GenerationRequest, SamplingParams
from ttc_graph.strategies import SPECS, build_strategy
from ttc_graph.strategies.common import aggregation_of
from ttc_graph.strategies.options import SearchConfig
from ttc_graph.verifiers import ArithmeticVerifier, Verifier
from ttc_graph.verifiers.aggregation import aggregate

PACKAGE = Path(__file__).resolve().parents[2] / "ttc_graph"
QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"


class ScriptedPolicy:
    """Answers every request with the same two-step solution (no model)."""

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: Any = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        return [[Completion("7 + 5 = 12.\n\nThe answer is 12.", "eos", 9)] * n for _ in requests]

    async def asample(self, requests: Sequence[GenerationRequest], **kwargs: Any) -> Any:
        return self.sample(requests, **kwargs)


class StepScores(Verifier):
    """Scores the first step 0.2 and every later one 0.9."""

    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        return [[0.2] + [0.9] * (len(steps) - 1) for steps in candidates]


class NoFirstIndex:
    """A policy written against the protocol before ``first_index`` was part of it."""

    def sample(self, requests: Any, *, n: int = 1, params: Any = None, config: Any = None) -> Any:
        raise AssertionError("never called: the factory refuses the policy")

    async def asample(
        self, requests: Any, *, n: int = 1, params: Any = None, config: Any = None
    ) -> Any:
        raise AssertionError("never called: the factory refuses the policy")


# -- step sampling -------------------------------------------------------------------


def test_step_sampling_keeps_every_field_and_adds_the_delimiter_once() -> None:
    # Every run option of sampling set away from its default: one dropped shows up here.
    assert {f.name for f in fields(SamplingParams)} == {
        "temperature",
        "top_p",
        "max_new_tokens",
        "stop",
        "seed",
        "logprobs",
    }, "a new SamplingParams field: give it a run option (strategies/options.py)"
    cfg = SearchConfig(
        strategy="s", temperature=0.3, top_p=0.9, max_new_tokens=7, stop=("END",), step_wise=True
    )
    assert cfg.sampling == SamplingParams(
        temperature=0.3, top_p=0.9, max_new_tokens=7, stop=("END", "\n\n")
    )
    once = replace(cfg, stop=("\n\n",))
    assert once.sampling.stop == ("\n\n",), "the delimiter is added once"
    assert replace(cfg, step_wise=False).sampling.stop == ("END",)
    assert replace(cfg, step_delimiter="###").sampling.stop == ("END", "###")


# -- first_index is part of the Policy protocol -------------------------------------


@pytest.mark.parametrize("name", list(SPECS))
def test_every_factory_refuses_a_policy_without_first_index(name: str) -> None:
    with pytest.raises(ValueError, match=r"NoFirstIndex\.sample\(\) must accept first_index"):
        build_strategy(name, policy=NoFirstIndex(), verifier=ArithmeticVerifier())  # type: ignore[arg-type]


def test_a_policy_taking_any_keyword_is_accepted() -> None:
    graph = create_best_of_n(policy=ScriptedPolicy(), n=2, selection="majority", seed=0)
    assert graph.invoke({"question": QUESTION})["answer"] == "12"


# -- one aggregation rule ----------------------------------------------------------


def test_aggregation_is_the_runs_else_the_verifiers() -> None:
    cfg = SearchConfig(strategy="s")
    assert aggregation_of(cfg, StepScores(aggregation="min")) == "min"
    assert aggregation_of(replace(cfg, aggregation="prod"), StepScores(aggregation="min")) == "prod"
    assert aggregation_of(cfg, StepScores()) == "last"
    assert aggregation_of(cfg, None) == "last"
    graph = create_best_of_n(policy=ScriptedPolicy(), verifier=StepScores(), n=2)
    with pytest.raises(ValueError, match="option 'aggregation' must be one of last, min"):
        graph.invoke({"question": QUESTION}, context={"aggregation": "max"})


@pytest.mark.parametrize(
    ("verifier_aggregation", "strategy_aggregation", "score"),
    [("min", None, 0.2), ("mean", None, 0.55), ("min", "last", 0.9), ("last", None, 0.9)],
)
def test_a_search_scores_candidates_by_that_rule(
    verifier_aggregation: Any, strategy_aggregation: Any, score: float
) -> None:
    graph = create_best_of_n(
        policy=ScriptedPolicy(),
        verifier=StepScores(aggregation=verifier_aggregation),
        aggregation=strategy_aggregation,
        n=2,
        seed=0,
    )
    candidates = graph.invoke({"question": QUESTION})["candidates"]
    assert [c["score"] for c in candidates] == pytest.approx([score, score])
    verifier = StepScores(aggregation=verifier_aggregation)
    for c in candidates:
        fold = strategy_aggregation or verifier_aggregation
        assert c["score"] == pytest.approx(aggregate(c["step_scores"], fold))
    if strategy_aggregation is None:
        steps = [c["steps"] for c in candidates]
        assert [c["score"] for c in candidates] == pytest.approx(verifier.score(QUESTION, steps)), (
            "inside a search as in verifier.score"
        )


# -- layering: the strategies never import torch -------------------------------------


def _module_imports(path: Path) -> set[str]:
    """Modules a file imports when it is loaded (top-level statements only)."""
    found: set[str] = set()
    for stmt in ast.parse(path.read_text()).body:
        if isinstance(stmt, ast.Import):
            found.update(alias.name for alias in stmt.names)
        elif isinstance(stmt, ast.ImportFrom) and stmt.module:
            found.add(stmt.module)
            found.update(f"{stmt.module}.{alias.name}" for alias in stmt.names)
    return found


def _source(module: str) -> Path | None:
    relative = Path(*module.split("."))
    for candidate in (PACKAGE.parent / f"{relative}.py", PACKAGE.parent / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_the_strategy_modules_import_no_torch() -> None:
    """``reliability`` and every strategy module, and the ttc_graph modules they import
    in turn, load without torch or transformers (package ``__init__`` files aside)."""
    start = ["ttc_graph.reliability"] + [
        f"ttc_graph.strategies.{p.stem}"
        for p in (PACKAGE / "strategies").glob("*.py")
        if p.stem != "__init__"
    ]
    seen: dict[str, str] = {}  # module -> who imported it
    todo = [(m, "(start)") for m in start]
    while todo:
        module, parent = todo.pop()
        if module in seen:
            continue
        seen[module] = parent
        path = _source(module) if module.startswith("ttc_graph") else None
        if path is None or path.name == "__init__.py":
            continue
        todo.extend((m, module) for m in _module_imports(path))
    heavy = {m: by for m, by in seen.items() if m.split(".")[0] in ("torch", "transformers")}
    assert not heavy, f"imported by the strategies layer: {heavy}"
