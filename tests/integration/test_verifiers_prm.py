"""PRM verifiers on tiny randomly initialised models of each family (tests/prm_models.py).

Real PRMs are 7-8B and need a GPU; these share their architecture family and
token layout (a Llama causal LM with a chat template or a step tag, a Qwen2
per-token classifier, and a Qwen2 body with its own remote-code reward head) and
use the embedded SmolLM2 tokenizer plus the special tokens each layout needs.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from prm_models import config as _config
from prm_models import save as _save
from prm_models import save_qwen_prm
from prm_models import tokenizer as _tokenizer
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    Qwen2Config,
    Qwen2ForTokenClassification,
)

from ttc_graph import create_best_of_n
from ttc_graph.errors import ModelLoadError
from ttc_graph.policy import SamplingParams
from ttc_graph.verifiers import PRMVerifier, load_prm, load_verifier
from ttc_graph.verifiers.prm import QWEN_PRM_SYSTEM_PROMPT
from ttc_graph.verifiers.prm_source import detect_prm_format

QUESTION = "Tom has 12 apples and buys 30 more. How many apples does he have?"
CANDIDATES = [
    ["He buys 30 more, so 12 plus 30 is 42.\n\n", "The answer is 42."],
    ["He has 12 apples.\n\n", "He loses 30, so he has none.\n\n", "The answer is 0."],
    ["42"],
    ["Tom starts with 12.\n\n", "Adding gives 40.\n\n", "So 40.\n\n", "Done: 40."],
    ["Twelve and thirty make forty-two apples in total, which is the answer."],
]


@pytest.fixture(scope="module")
def base_tokenizer(policy: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the embedded policy's tokenizer on disk (never the policy's own object)."""
    target = tmp_path_factory.mktemp("smollm2-tokenizer")
    policy.tokenizer.save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def prm_dirs(base_tokenizer: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One saved tiny PRM per layout."""
    root = tmp_path_factory.mktemp("tiny-prms")
    torch.manual_seed(0)
    dirs = {}
    tok = _tokenizer(base_tokenizer)
    dirs["chat"] = _save(LlamaForCausalLM(_config(LlamaConfig, tok)), tok, root / "chat")
    tok = _tokenizer(base_tokenizer, chat=False, extra=("ки",))
    dirs["step_tag"] = _save(LlamaForCausalLM(_config(LlamaConfig, tok)), tok, root / "tag")
    tok = _tokenizer(base_tokenizer, extra=("<extra_0>",))
    model = Qwen2ForTokenClassification(_config(Qwen2Config, tok, num_labels=2))
    dirs["classifier"] = _save(model, tok, root / "classifier")
    return dirs


@pytest.fixture(scope="module")
def prms(prm_dirs: dict[str, Path]) -> dict[str, PRMVerifier]:
    # float32: the recipes are compared with unbatched forward passes, which bfloat16
    # (the default on CPUs with native bf16) rounds differently.
    return {fmt: load_prm(path, device="cpu", dtype="float32") for fmt, path in prm_dirs.items()}


@pytest.mark.parametrize("fmt", ["chat", "step_tag", "classifier"])
def test_format_is_detected_and_scores_are_valid(prms: dict[str, PRMVerifier], fmt: str) -> None:
    prm = prms[fmt]
    assert prm.format == fmt
    scores = prm.invoke({"question": QUESTION, "candidates": CANDIDATES})
    assert [len(s) for s in scores] == [len(c) for c in CANDIDATES]
    flat = [x for row in scores for x in row]
    assert all(0.0 <= x <= 1.0 and math.isfinite(x) for x in flat)
    assert max(flat) - min(flat) > 0.05, "scores depend on the steps"


@pytest.mark.parametrize("fmt", ["chat", "step_tag", "classifier"])
def test_batching_and_padding_do_not_leak(prms: dict[str, PRMVerifier], fmt: str) -> None:
    prm = prms[fmt]
    together = prm.score_steps(QUESTION, CANDIDATES)
    alone = [prm.score_steps(QUESTION, [c])[0] for c in CANDIDATES]
    reversed_order = prm.score_steps(QUESTION, CANDIDATES[::-1])[::-1]
    one_per_pass = prm.model_copy(update={"batch_size": 1}).score_steps(QUESTION, CANDIDATES)
    for other in (alone, reversed_order, one_per_pass):
        for a, b in zip(together, other, strict=True):
            assert a == pytest.approx(b, abs=1e-5)


def test_candidates_are_scored_in_few_forward_passes(prms: dict[str, PRMVerifier]) -> None:
    for fmt, prm in prms.items():
        module = prm.model if fmt == "classifier" else prm.model.base_model
        calls: list[int] = []
        handle = module.register_forward_hook(lambda *_, seen=calls: seen.append(1))
        try:
            prm.score_steps(QUESTION, CANDIDATES * 2)  # 10 candidates, batch_size 8
            assert len(calls) == 2, fmt
            calls.clear()
            prm.model_copy(update={"batch_size": 3}).score_steps(QUESTION, CANDIDATES)
            assert len(calls) == 2, fmt
        finally:
            handle.remove()


def _reference_scores(prm: PRMVerifier, fmt: str, steps: list[str]) -> list[float]:
    """The published recipe of each family, written out plainly, one candidate at a time."""
    tok, model = prm.tokenizer, prm.model
    clean = [s.strip() for s in steps]
    if fmt == "chat":
        conversation = []
        for k, step in enumerate(clean):
            conversation.append(
                {"role": "user", "content": f"{QUESTION} {step}" if k == 0 else step}
            )
            conversation.append({"role": "assistant", "content": "+"})
        text = tok.apply_chat_template(conversation, tokenize=False)
        plus, minus = tok.encode("+", add_special_tokens=False)[0], tok.encode("-")[0]
        ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
        logits = model(ids).logits[0, :, [plus, minus]].softmax(-1)[:, 0]
        positions = (ids[0] == plus).nonzero().flatten() - 1
        return logits[positions].tolist()
    if fmt == "step_tag":
        text = f"{QUESTION} " + "\n".join(f"{s} ки" for s in clean)
        good, bad = tok.encode("+ -", add_special_tokens=False)
        ids = torch.tensor([tok(text)["input_ids"]])
        logits = model(ids).logits[0, :, [good, bad]].softmax(-1)[:, 0]
        return logits[ids[0] == tok.convert_tokens_to_ids("ки")].tolist()
    messages = [
        {"role": "system", "content": QWEN_PRM_SYSTEM_PROMPT},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "<extra_0>".join(clean) + "<extra_0>"},
    ]
    text = tok.apply_chat_template(messages, tokenize=False)
    ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
    probs = model(ids).logits[0].softmax(-1)[:, 1]
    return probs[ids[0] == tok.convert_tokens_to_ids("<extra_0>")].tolist()


@pytest.mark.parametrize("fmt", ["chat", "step_tag", "classifier"])
def test_scores_match_each_familys_recipe(prms: dict[str, PRMVerifier], fmt: str) -> None:
    prm = prms[fmt]
    scores = prm.score_steps(QUESTION, CANDIDATES)
    with torch.inference_mode():
        expected = [_reference_scores(prm, fmt, c) for c in CANDIDATES]
    for got, want in zip(scores, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-4)


def test_plus_and_tag_characters_in_the_text_are_not_markers(prms: dict[str, PRMVerifier]) -> None:
    question = "What is 2 + 2 - 1? (Use the ки tag <extra_0> freely.)"
    steps = ["2 + 2 = 4 ки\n\n", "4 - 1 = 3 <extra_0>\n\n", "The answer is +3."]
    for prm in prms.values():
        (scores,) = prm.score_steps(question, [steps])
        assert len(scores) == 3


def test_remote_code_reward_head_needs_trust(base_tokenizer: Path, tmp_path: Path) -> None:
    save_qwen_prm(base_tokenizer, tmp_path, seed=1)
    with pytest.raises(ModelLoadError, match="trust_remote_code=True"):
        load_prm(tmp_path, device="cpu")
    prm = load_prm(tmp_path, device="cpu", trust_remote_code=True)
    assert prm.format == "classifier"
    assert type(prm.model).__name__ == "Qwen2ForProcessRewardModel"
    scores = prm.invoke({"question": QUESTION, "candidates": CANDIDATES[:2]})
    assert [len(s) for s in scores] == [2, 3]
    assert all(0.0 <= x <= 1.0 for row in scores for x in row)


def test_format_can_be_given_and_is_checked(prm_dirs: dict[str, Path]) -> None:
    prm = load_prm(prm_dirs["chat"], format="chat", device="cpu", batch_size=2)
    assert (prm.format, prm.batch_size) == ("chat", 2)
    with pytest.raises(ModelLoadError, match="needs a causal LM"):
        load_prm(prm_dirs["classifier"], format="step_tag", device="cpu")
    with pytest.raises(ModelLoadError, match="per-token classifier"):
        load_prm(prm_dirs["chat"], format="classifier", device="cpu")
    with pytest.raises(ModelLoadError, match="chat template"):
        load_prm(prm_dirs["step_tag"], format="chat", device="cpu")
    with pytest.raises(ValueError, match="Unknown PRM format"):
        load_prm(prm_dirs["chat"], format="orm", device="cpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unknown load_prm option"):
        load_prm(prm_dirs["chat"], device="cpu", step_tags="ки")
    with pytest.raises(ValueError, match="batch_size"):
        load_prm(prm_dirs["chat"], device="cpu", batch_size=0)


def test_models_that_are_not_prms_are_refused(
    base_tokenizer: Path, prm_dirs: dict[str, Path], tmp_path: Path
) -> None:
    torch.manual_seed(2)
    tok = _tokenizer(base_tokenizer, extra=("<extra_0>",))
    three = Qwen2ForTokenClassification(_config(Qwen2Config, tok, num_labels=3))
    with pytest.raises(ModelLoadError, match="gives 3 outputs per token"):
        load_prm(_save(three, tok, tmp_path / "three-labels"), device="cpu")

    plain = _tokenizer(base_tokenizer)
    no_separator = Qwen2ForTokenClassification(_config(Qwen2Config, plain, num_labels=2))
    with pytest.raises(ModelLoadError, match="'<extra_0>' as 5 tokens"):
        load_prm(_save(no_separator, plain, tmp_path / "no-separator"), device="cpu")

    bare = _tokenizer(base_tokenizer, chat=False)
    causal = LlamaForCausalLM(_config(LlamaConfig, bare))
    with pytest.raises(ModelLoadError, match="not a recognisable PRM"):
        load_prm(_save(causal, bare, tmp_path / "plain-lm"), device="cpu")

    orm = LlamaForSequenceClassification(_config(LlamaConfig, plain, num_labels=1))
    with pytest.raises(ModelLoadError, match="not a process reward model"):
        load_prm(_save(orm, plain, tmp_path / "orm"), device="cpu")

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="does not hold a transformers model"):
        load_prm(empty, device="cpu")
    weightless = tmp_path / "weightless"
    shutil.copytree(prm_dirs["chat"], weightless)
    (weightless / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"config\.json and weights"):
        load_prm(weightless, device="cpu")


def test_nan_scores_name_the_model_and_candidate(prm_dirs: dict[str, Path]) -> None:
    prm = load_prm(prm_dirs["step_tag"], device="cpu")
    with torch.no_grad():
        prm.model.get_output_embeddings().weight.fill_(float("nan"))
    with pytest.raises(
        RuntimeError, match=r"PRMVerifier\(.*tag\) produced NaN for step 0 of candidate 0"
    ):
        prm.invoke({"question": QUESTION, "candidates": CANDIDATES[:1]})


def test_overlong_candidates_are_refused(prms: dict[str, PRMVerifier]) -> None:
    long_step = "apples " * 1200
    with pytest.raises(ValueError, match=r"Candidate 1 is \d+ tokens long"):
        prms["classifier"].invoke({"question": QUESTION, "candidates": [["ok"], [long_step]]})


def test_load_verifier_maps_a_path_to_a_prm(prm_dirs: dict[str, Path]) -> None:
    prm = load_verifier(str(prm_dirs["classifier"]))
    assert isinstance(prm, PRMVerifier)
    with pytest.raises(ModelLoadError, match="neither 'arithmetic' nor 'judge'"):
        load_verifier("/no/such/prm")


def test_a_prm_guides_a_real_search(policy: Any, prms: dict[str, PRMVerifier]) -> None:
    graph = create_best_of_n(
        policy=policy,
        verifier=prms["chat"],
        n=2,
        selection="vanilla",
        sampling=SamplingParams(temperature=0.8, max_new_tokens=16),
        seed=3,
    )
    result = graph.invoke({"question": QUESTION})
    assert result["usage"]["verifier_calls"] == 1
    best = max(result["candidates"], key=lambda c: c["score"])
    assert result["solution"] == best["text"]
    for candidate in result["candidates"]:
        assert len(candidate["step_scores"]) == len(candidate["steps"])
        assert all(0.0 <= s <= 1.0 for s in candidate["step_scores"])


def test_known_checkpoints_are_detected_by_name(base_tokenizer: Path) -> None:
    with_template, without = _tokenizer(base_tokenizer), _tokenizer(base_tokenizer, chat=False)
    causal = LlamaConfig(architectures=["LlamaForCausalLM"])
    detect = detect_prm_format
    assert detect("RLHFlow/Llama3.1-8B-PRM-Deepseek-Data", causal, without) == "chat"
    assert detect("RLHFlow/Llama3.1-8B-PRM-Mistral-Data", causal, without) == "chat"
    assert detect("peiyi9979/math-shepherd-mistral-7b-prm", causal, with_template) == "step_tag"
    qwen = Qwen2Config(architectures=["Qwen2ForProcessRewardModel"])
    assert detect("Qwen/Qwen2.5-Math-PRM-7B", qwen, with_template) == "classifier"
