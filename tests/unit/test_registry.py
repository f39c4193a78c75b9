"""The strategy registry, one set of defaults and one check: no model is loaded here."""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from typing import Any

import pytest

from ttc_graph import create_beam_search, create_best_of_n, create_dvts, create_self_refine
from ttc_graph.cli import build_parser, main
from ttc_graph.cli.options import given_options
from ttc_graph.errors import (
    InputError,
    LimitError,
    ModelLoadError,
    ResultStoreError,
    TTCGraphError,
)
from ttc_graph.evaluation import create_evaluation
from ttc_graph.evaluation.metrics import COVERAGE, eval_mode
from ttc_graph.policy import SamplingParams
from ttc_graph.specs import VerifierSpecError
from ttc_graph.strategies import SPECS, build_strategy, defaults
from ttc_graph.visualization.diagram import DiagramOnlyPolicy, DiagramOnlyVerifier


def _defaults(factory: Any) -> dict[str, Any]:
    return {
        name: p.default
        for name, p in inspect.signature(factory).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_every_strategy_has_one_spec_read_by_eval() -> None:
    assert {eval_mode(name) for name in SPECS} <= {"sample", "per_n", "single", "budgeted"}
    assert eval_mode(COVERAGE) == "sample"
    assert [n for n, s in SPECS.items() if s.eval_mode == "sample"] == [
        "best_of_n",
        "weighted",
        "majority",
    ]
    assert {n: SPECS[n].selection for n in ("best_of_n", "weighted", "majority")} == {
        "best_of_n": "vanilla",
        "weighted": "weighted",
        "majority": "majority",
    }


@pytest.mark.parametrize("name", list(SPECS))
def test_each_specs_defaults_are_its_graphs(name: str) -> None:
    spec = SPECS[name]
    verifier = DiagramOnlyVerifier() if spec.needs_verifier else None
    graph = spec.build(policy=DiagramOnlyPolicy(), verifier=verifier)
    assert graph.context_schema().values() == spec.option_defaults()
    schema = graph.get_context_jsonschema()
    defaults = {k: v.get("default") for k, v in schema["properties"].items()}
    assert defaults == spec.option_defaults()


def test_cli_and_python_share_one_set_of_defaults() -> None:
    beam, dvts, bon = (
        _defaults(create_beam_search),
        _defaults(create_dvts),
        _defaults(create_best_of_n),
    )
    assert beam["n"] == dvts["n"] == SPECS["beam_search"].default("n") == defaults.SEARCH_N
    assert beam["beam_width"] == dvts["beam_width"] == defaults.BEAM_WIDTH
    assert beam["max_steps"] == dvts["max_steps"] == defaults.MAX_STEPS
    assert bon["n"] == SPECS["majority"].default("n") == defaults.N
    assert _defaults(create_self_refine)["max_rounds"] == defaults.MAX_ROUNDS
    for argv in (["solve", "x"], ["eval", "--dataset", "arithmetic"], ["serve"]):
        args = _parse(*argv)
        # Left out, every run option is the strategy's own default.
        assert given_options(args, exclude=("n",) if argv[0] == "eval" else ()) == {}
    sampling = SamplingParams()
    assert _defaults(create_evaluation)["beam_width"] == defaults.BEAM_WIDTH
    assert _defaults(create_evaluation)["max_new_tokens"] == sampling.max_new_tokens


@pytest.mark.parametrize("name", ["beam_search", "dvts"])
def test_a_beam_wider_than_n_is_refused_everywhere(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError, match="beam_width \\(4\\) cannot exceed n \\(2\\)"):
        build_strategy(name, policy=DiagramOnlyPolicy(), verifier=DiagramOnlyVerifier(), n=2)
    assert main(["solve", "x", "--strategy", name, "--n", "2"]) == 2
    assert f"{name}: beam_width (4) cannot exceed n (2)" in capsys.readouterr().err


def test_eval_uses_width_n_below_the_beam_width(tmp_path: Path) -> None:
    ev = create_evaluation(
        dataset="arithmetic",
        strategies="beam_search",
        ns="1,2,4",
        limit=1,
        verifier="arithmetic",
        out=tmp_path,
        trust_remote_code=True,
    )
    try:
        for unit in ev.units():
            graph = ev._graph(unit, DiagramOnlyPolicy(), DiagramOnlyVerifier())
            assert graph.get_name() == "beam_search"
        assert ev._verifier_options == {"trust_remote_code": True}
    finally:
        ev.close()


def test_solve_and_graph_take_the_same_verifier_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--strategy", "self_refine", "--verifier", "arithmetic"]) == 0
    with_score = capsys.readouterr().out
    assert main(["graph", "--strategy", "self_refine", "--no-verifier"]) == 0
    assert "score" in with_score
    assert "score" not in capsys.readouterr().out
    for command in (["graph", "--strategy", "weighted"], ["solve", "x", "--strategy", "weighted"]):
        assert main([*command, "--no-verifier"]) == 2
        assert "needs a verifier; drop --no-verifier" in capsys.readouterr().err
        assert main([*command, "--verifier", "nonsense"]) == 2
        assert "Unknown verifier 'nonsense'" in capsys.readouterr().err
    assert _parse("eval", "--dataset", "arithmetic", "--trust-remote-code").trust_remote_code


@pytest.mark.parametrize(
    "error", [InputError, LimitError, ModelLoadError, ResultStoreError, VerifierSpecError]
)
def test_bad_input_errors_are_project_errors_and_value_errors(error: type[Exception]) -> None:
    assert issubclass(error, TTCGraphError)
    assert issubclass(error, ValueError)
    assert issubclass(error, InputError)
