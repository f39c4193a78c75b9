"""PRMs on vLLM's pooling runner: a real server on loopback and ``load_prm(engine="vllm")``.

The PRMs are tiny random models of real architectures (tests/prm_models.py):
Qwen2ForProcessRewardModel (Qwen2.5-Math-PRM's, which vLLM implements natively)
and Llama causal LMs in the step-tag and chat layouts (vLLM turns them into
two-label token classifiers from their LM head). Their scores on vLLM must equal
the transformers :class:`PRMVerifier`'s on the same weights.

The server tests run in the main environment against a server started from
``.venv-vllm`` (one per module). The in-process tests need vLLM importable; in
the main environment ``test_the_in_process_tests_run_in_the_vllm_environment``
runs this file with ``.venv-vllm/bin/python``, as test_vllm_engine.py does.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from prm_models import VLLM_SIZES, config, save, save_qwen_prm, tokenizer
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from vllm_env import run_in_vllm_env, vllm_python

from ttc_graph import create_beam_search
from ttc_graph.errors import InputError, ModelLoadError, ServerError
from ttc_graph.policy import SamplingParams
from ttc_graph.policy.loading import resolve_model_source
from ttc_graph.policy.vllm_server import free_port, vllm_server
from ttc_graph.verifiers import PRMVerifier, load_prm, load_verifier
from ttc_graph.verifiers.pooling import PoolingPRMVerifier, vllm_prm_args

HAS_VLLM = importlib.util.find_spec("vllm") is not None
in_vllm_env = pytest.mark.skipif(
    not HAS_VLLM,
    reason="vLLM is not importable here; test_the_in_process_tests_run_in_the_vllm_environment "
    "runs these with .venv-vllm/bin/python",
)
main_env_only = pytest.mark.skipif(HAS_VLLM, reason="runs in the main environment")

QUESTION = "Tom has 12 apples and buys 30 more. How many apples does he have?"
CANDIDATES = [
    ["He buys 30 more, so 12 plus 30 is 42.\n\n", "The answer is 42."],
    ["He has 12 apples.\n\n", "He loses 30, so he has none.\n\n", "The answer is 0."],
    ["42"],
    ["Tom starts with 12.\n\n", "Adding gives 40 <extra_0> ки + -.\n\n", "So 40."],
]
SERVED = "tiny-prm"


@pytest.fixture(scope="module")
def prm_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny PRMs vLLM's CPU backend can run (head size 32), one per layout."""
    root = tmp_path_factory.mktemp("vllm-prms")
    base = root / "tokenizer"
    AutoTokenizer.from_pretrained(resolve_model_source(None)).save_pretrained(base)
    dirs = {"classifier": save_qwen_prm(base, root / "qwen-prm", seed=1, **VLLM_SIZES)}
    torch.manual_seed(0)
    tok = tokenizer(base, chat=False, extra=("ки",))
    model = LlamaForCausalLM(config(LlamaConfig, tok, **VLLM_SIZES))
    dirs["step_tag"] = save(model, tok, root / "step-tag")
    tok = tokenizer(base)
    dirs["chat"] = save(
        LlamaForCausalLM(config(LlamaConfig, tok, **VLLM_SIZES)), tok, root / "chat"
    )
    return dirs


def reference(path: Path) -> PRMVerifier:
    """The same PRM on transformers, in float32 as the engines compared with it (bfloat16
    scores differ from float32 ones by about 0.01)."""
    prm = load_prm(path, device="cpu", dtype="float32", trust_remote_code=True)
    assert isinstance(prm, PRMVerifier)
    return prm


def assert_same_scores(got: list[list[float]], want: list[list[float]]) -> None:
    assert [len(row) for row in got] == [len(c) for c in CANDIDATES]
    for a, b in zip(got, want, strict=True):
        assert a == pytest.approx(b, abs=1e-4)
    flat = [x for row in got for x in row]
    assert max(flat) - min(flat) > 0.01, "scores depend on the steps"


# -- a real vLLM server on loopback ---------------------------------------------


@pytest.fixture(scope="module")
def prm_server(
    prm_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``vllm serve`` of the tiny Qwen2.5-Math-PRM-layout model, with vllm_prm_args' flags."""
    python = vllm_python()
    log = tmp_path_factory.mktemp("vllm-prm-server") / "server.log"
    with vllm_server(
        python=python,
        model=str(prm_dirs["classifier"]),
        max_model_len=1024,
        served_name=SERVED,
        extra_args=vllm_prm_args(prm_dirs["classifier"]),
        log_path=log,
    ) as url:
        yield url


@main_env_only
@pytest.mark.model
@pytest.mark.subprocess
def test_served_scores_equal_transformers(prm_dirs: dict[str, Path], prm_server: str) -> None:
    served = load_prm(url=prm_server, batch_size=3)  # two requests for four candidates
    assert isinstance(served, PoolingPRMVerifier)
    assert (served.format, served.served_model, served.max_model_len) == (
        "classifier",
        SERVED,
        1024,
    )
    want = reference(prm_dirs["classifier"]).score_steps(QUESTION, CANDIDATES)
    assert_same_scores(served.score_steps(QUESTION, CANDIDATES), want)
    # The spec form, as the CLI and eval configs give it; /v1 is accepted too.
    spec = load_verifier(prm_server)
    assert isinstance(spec, PoolingPRMVerifier)
    assert_same_scores(spec.invoke({"question": QUESTION, "candidates": CANDIDATES}), want)


@main_env_only
@pytest.mark.model
@pytest.mark.subprocess
def test_a_search_runs_with_the_served_prm(policy: Any, prm_server: str) -> None:
    graph = create_beam_search(
        policy=policy,
        verifier=load_verifier(prm_server),
        n=4,
        beam_width=2,
        max_steps=2,
        sampling=SamplingParams(temperature=0.8, max_new_tokens=16),
        seed=0,
    )
    result = graph.invoke({"question": QUESTION})
    assert result["usage"]["verifier_calls"] >= 1
    assert result["candidates"]
    for candidate in result["candidates"]:
        assert len(candidate["step_scores"]) == len(candidate["steps"])
        assert all(0.0 <= s <= 1.0 for s in candidate["step_scores"])


@main_env_only
@pytest.mark.model
@pytest.mark.subprocess
def test_the_cli_takes_the_served_prm_as_verifier(
    prm_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from ttc_graph.cli import main

    argv = ["solve", QUESTION, "--strategy", "best_of_n", "--n", "2", "--max-new-tokens", "16"]
    rc = main([*argv, "--seed", "0", "--json", "--verifier", prm_server])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert '"step_scores"' in out


@main_env_only
@pytest.mark.model
@pytest.mark.subprocess
def test_server_errors_are_clear(prm_dirs: dict[str, Path], prm_server: str) -> None:
    served = load_prm(url=prm_server)
    assert isinstance(served, PoolingPRMVerifier)
    wrong_name = served.model_copy(update={"served_model": "no-such-model"})
    with pytest.raises(ServerError, match=r"/pooling answered HTTP 404"):
        wrong_name.score_steps(QUESTION, CANDIDATES[:1])
    with pytest.raises(ValueError, match=r"Candidate 1 is \d+ tokens long"):
        served.invoke({"question": QUESTION, "candidates": [["ok"], ["apples " * 1200]]})


@main_env_only
@pytest.mark.model
@pytest.mark.subprocess
def test_a_served_causal_lm_prm_equals_transformers(
    prm_dirs: dict[str, Path], tmp_path: Path
) -> None:
    """A Math-Shepherd-layout Llama, turned into a two-label classifier by the server."""
    with vllm_server(
        python=vllm_python(),
        model=str(prm_dirs["step_tag"]),
        max_model_len=1024,
        served_name=SERVED,
        extra_args=vllm_prm_args(prm_dirs["step_tag"]),
        log_path=tmp_path / "server.log",
    ) as url:
        served = load_prm(url=url)
        assert served.format == "step_tag"
        want = reference(prm_dirs["step_tag"]).score_steps(QUESTION, CANDIDATES)
        assert_same_scores(served.score_steps(QUESTION, CANDIDATES), want)


@pytest.mark.model
def test_no_server_is_one_clear_error(prm_dirs: dict[str, Path]) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerError, match=r"Cannot reach the PRM server at .*/v1/models") as info:
        load_prm(url=down, model=prm_dirs["classifier"])
    assert "\n" not in str(info.value)
    with pytest.raises(ServerError, match="Cannot reach"):
        load_verifier(down)
    with pytest.raises(InputError, match="http:// or https://"):
        load_prm(url="127.0.0.1:8000")
    with pytest.raises(InputError, match="not both"):
        load_prm(url=down, engine="vllm")


@pytest.mark.model
def test_vllm_prm_args_per_layout(prm_dirs: dict[str, Path]) -> None:
    pooling = [
        "--runner",
        "pooling",
        "--pooler-config",
        '{"task": "token_classify", "tok_pooling_type": "ALL"}',
    ]
    assert vllm_prm_args(prm_dirs["classifier"]) == pooling
    convert = ["--convert", "classify", "--hf-overrides"]
    assert vllm_prm_args(prm_dirs["chat"]) == [
        *pooling, *convert, '{"classifier_from_token": ["+", "-"], "method": "no_post_processing"}'
    ]  # fmt: skip
    args = vllm_prm_args(prm_dirs["step_tag"])
    assert args[:7] == [*pooling, *convert]
    assert '"method": "no_post_processing"' in args[7]


# -- in this process: load_prm(engine="vllm") -----------------------------------


@in_vllm_env
@pytest.mark.model
@pytest.mark.parametrize("fmt", ["classifier", "step_tag", "chat"])
def test_in_process_scores_equal_transformers(prm_dirs: dict[str, Path], fmt: str) -> None:
    from ttc_graph.verifiers.pooling import VLLMPRMVerifier

    prm = load_prm(
        prm_dirs[fmt],
        engine="vllm",
        device="cpu",
        dtype="float32",
        engine_options={"max_model_len": 1024},
    )
    try:
        assert isinstance(prm, VLLMPRMVerifier)
        assert prm.format == fmt
        want = reference(prm_dirs[fmt]).score_steps(QUESTION, CANDIDATES)
        assert_same_scores(prm.score_steps(QUESTION, CANDIDATES), want)
    finally:
        del prm  # one engine at a time in this process


@in_vllm_env
@pytest.mark.model
def test_an_architecture_vllm_cannot_pool_is_refused(
    prm_dirs: dict[str, Path], tmp_path: Path
) -> None:
    import json
    import shutil

    odd = shutil.copytree(prm_dirs["classifier"], tmp_path / "odd")
    card = json.loads((odd / "config.json").read_text())
    card["architectures"] = ["TinyForProcessRewardModel"]
    (odd / "config.json").write_text(json.dumps(card))
    with pytest.raises(
        ModelLoadError, match=r"cannot run .*TinyForProcessRewardModel.*transformers"
    ):
        load_prm(odd, engine="vllm", device="cpu")


@main_env_only
@pytest.mark.model
def test_engine_vllm_without_vllm_names_the_extra(prm_dirs: dict[str, Path]) -> None:
    with pytest.raises(InputError, match=r"ttc-graph\[vllm\]") as info:
        load_prm(prm_dirs["classifier"], engine="vllm")
    assert "\n" not in str(info.value), "one line"
    with pytest.raises(InputError, match="Unknown PRM engine"):
        load_prm(prm_dirs["classifier"], engine="tensorrt")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="engine_options"):
        load_prm(prm_dirs["classifier"], engine_options={"max_model_len": 512})


@main_env_only
@pytest.mark.subprocess
@pytest.mark.slow
def test_the_in_process_tests_run_in_the_vllm_environment() -> None:
    # at least: three layouts and the refusal
    run_in_vllm_env(__file__, at_least=4, timeout_s=1200)
