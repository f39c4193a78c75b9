"""A verifier trained on the embedded policy's own samples: training, card, loading, use, errors.

One real training run (6 easy problems, N=4, through the CLI) is shared by the
module; the bad-input tests edit copies of its output or store hand-made
samples, so they sample nothing. Pure-logic tests (labels, folds, AUROC, the
head, the export format) need no model: tests/unit/test_trained_verifier_logic.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from no_sampling import NoSampling

from ttc_graph import create_beam_search, create_best_of_n
from ttc_graph.cli import main
from ttc_graph.errors import ModelLoadError, VerifierTrainingError
from ttc_graph.evaluation import create_evaluation
from ttc_graph.policy import SamplingParams
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.training import train_verifier
from ttc_graph.training.fit import fit_head
from ttc_graph.verifiers import load_verifier
from ttc_graph.verifiers.trained import TrainedVerifier, load_trained_verifier
from ttc_graph.verifiers.trained.card import (
    CARD_NAME,
    WEIGHTS_NAME,
    read_card,
    tokenizer_fingerprint,
    write_card,
    write_head,
)
from ttc_graph.verifiers.trained.readout import read_prefixes

# Easy enough that the 135M model gets some right and some wrong at N=4: a
# verifier needs both (the seeded sample of this set holds both classes).
EASY = [
    ("What is 3 + 4?", "7"),
    ("What is 10 - 6?", "4"),
    ("What is 5 + 5?", "10"),
    ("What is 2 * 6?", "12"),
    ("Sam has 7 apples and buys 5 more. How many apples does Sam have?", "12"),
    ("What is 9 - 2?", "7"),
]


def write_jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w") as fh:
        for i, (question, answer) in enumerate(rows):
            fh.write(json.dumps({"problem": question, "answer": answer, "unique_id": f"p{i}"}))
            fh.write("\n")
    return path


@pytest.fixture(scope="module")
def trained(policy: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real ``ttc-graph train-verifier`` run (the CLI, on the session's policy)."""
    root = tmp_path_factory.mktemp("trained")
    dataset = write_jsonl(root / "easy.jsonl", EASY)
    out = root / "verifier"
    argv = [
        "train-verifier", "--dataset", str(dataset), "--n", "4", "--max-new-tokens", "24",
        "--concurrency", "6", "--export-trl", str(root / "trl.jsonl"), "--out", str(out),
    ]  # fmt: skip
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        # The CLI loads its own policy; hand it the session's instead of a second copy.
        mp.setattr("ttc_graph.policy.load_policy", lambda *a, **k: policy)
        rc = main(argv)
    assert rc == 0, stderr.getvalue()
    return {
        "root": root,
        "dataset": dataset,
        "out": out,
        "samples": root / "verifier.samples",
        "trl": root / "trl.jsonl",
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "argv": argv,
    }


@pytest.fixture
def copy_of(trained: dict[str, Any], tmp_path: Path) -> Path:
    """A private copy of the trained verifier directory, to damage."""
    target = tmp_path / "copy"
    shutil.copytree(trained["out"], target)
    return target


def edit_card(directory: Path, **changes: Any) -> None:
    card = json.loads((directory / CARD_NAME).read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            card[key].update(value)
        else:
            card[key] = value
    (directory / CARD_NAME).write_text(json.dumps(card))


# -- the real training run ------------------------------------------------------------------


def test_training_writes_card_and_small_weights(trained: dict[str, Any], policy: Any) -> None:
    from ttc_graph.verifiers.grounded import CHECKER_FEATURES

    out: Path = trained["out"]
    assert sorted(p.name for p in out.iterdir()) == [WEIGHTS_NAME, CARD_NAME]
    assert (out / WEIGHTS_NAME).stat().st_size < 16_000
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".verifier")]
    assert leftovers == [], "the temporary directory is renamed into place, not left behind"

    card = read_card(out)
    raw = json.loads((out / CARD_NAME).read_text())
    assert raw["format_version"] == 1
    assert card.policy.model_id == policy.model_id
    assert card.policy.hidden_size == policy.model.config.hidden_size
    assert card.policy.tokenizer == tokenizer_fingerprint(policy.tokenizer)
    assert card.feature_groups == ["checker", "confidence"]
    assert card.feature_names == [f"checker.{n}" for n in CHECKER_FEATURES] + [
        "confidence.mean_logprob",
        "confidence.min_logprob",
        "confidence.tokens",
    ]
    assert card.head_kind == "logistic"
    assert len(card.standardization["mean"]) == len(card.feature_names)
    assert all(s > 0 for s in card.standardization["scale"])
    training = card.training
    assert training["dataset"] == str(trained["dataset"])
    assert training["n"] == 4
    assert training["sampling"] == {"temperature": 0.8, "top_p": 1.0, "max_new_tokens": 24}
    assert training["seed"] == 0
    assert card.samples["problems"] == 6
    assert card.samples["candidates"] == 24
    assert 0 < card.samples["right_candidates"] < 24
    assert card.command == "ttc-graph " + " ".join(trained["argv"])
    # What made it, as every raw result records (docs' generated tables cite it).
    assert card.provenance["command"] == card.command
    assert {"commit", "dirty", "machine", "load_before", "load_after"} <= set(card.provenance)
    assert {"torch", "transformers", "ttc-graph", "python"} <= set(card.versions)
    assert card.labels.startswith("outcome:")  # the default rule

    validation = card.validation
    assert validation["problems"] == 6
    assert validation["folds"] == 5
    assert [row["features"] for row in validation["table"]] == [
        "checker",
        "confidence",
        "hidden",
        "checker+confidence",
        "checker+confidence+hidden",
    ]
    hidden_row = validation["table"][2]
    assert hidden_row["n_features"] == 2 * policy.model.config.hidden_size
    for row in validation["table"]:
        assert row["auroc"] is None or 0.0 <= row["auroc"] <= 1.0
        assert 0.0 <= row["weighted"] <= validation["coverage"]
    assert 0.0 < validation["coverage"] <= 1.0

    # The CLI printed the table on stdout and its progress on stderr.
    assert "weighted" in trained["stdout"]
    assert "coverage" in trained["stdout"]
    assert "checker+confidence+hidden" in trained["stdout"]
    assert "validating" in trained["stderr"]


def test_training_sample_is_the_eval_coverage_sample(trained: dict[str, Any]) -> None:
    # Same settings as `ttc-graph eval --strategies coverage --n 4 ...`: same hash, so
    # either command reuses what the other stored.
    ev = create_evaluation(
        dataset=trained["dataset"],
        strategies="coverage",
        ns=(4,),
        max_new_tokens=24,
        out=trained["samples"],
    )
    try:
        assert ev.config_hash == read_card(trained["out"]).training["samples_config_hash"]
        assert ev.pending() == []
    finally:
        ev.close()


def test_trl_export_is_stepwise_supervision(trained: dict[str, Any]) -> None:
    rows = [json.loads(line) for line in trained["trl"].read_text().splitlines()]
    card = read_card(trained["out"])
    assert 0 < len(rows) <= card.samples["candidates"]
    questions = {q for q, _ in EASY}
    for row in rows:
        assert set(row) == {"prompt", "completions", "labels"}
        assert row["prompt"] in questions
        assert row["completions"]
        assert len(row["completions"]) == len(row["labels"])
        assert all(isinstance(s, str) and s == s.strip() and s for s in row["completions"])
        assert all(isinstance(y, bool) for y in row["labels"])
        # Labels are a run of right steps then wrong ones: once wrong, always wrong.
        first_false = row["labels"].index(False) if False in row["labels"] else None
        if first_false is not None:
            assert not any(row["labels"][first_false:])
    all_true = sum(all(r["labels"]) for r in rows)
    assert all_true >= card.samples["right_candidates"]


def test_training_on_a_stored_sample_labels_steps_and_replaces_the_directory(
    trained: dict[str, Any], policy_fp32: Any, tmp_path: Path
) -> None:
    # float32, the precision the hand-made sample is stored under (part of its hash).
    policy = policy_fp32
    # Hand-made samples: each problem has a right candidate, a wrong one whose first
    # step has a wrong calculation, and a wrong one the checker finds no fault in.
    rows, cands = [], []
    for a, b in [(3, 4), (5, 6), (8, 1)]:
        rows.append((f"What is {a} + {b}?", str(a + b)))
        cands.append(
            [
                ([f"{a} + {b} = {a + b}.\n\n", f"The answer is {a + b}."], str(a + b)),
                ([f"{a} + {b} = {a + b + 1}.\n\n", f"The answer is {a + b + 1}."],
                 str(a + b + 1)),
                ([f"I think it is {a + b + 2}.\n\n", f"The answer is {a + b + 2}."],
                 str(a + b + 2)),
            ]
        )  # fmt: skip
    dataset = store_samples(tmp_path, rows, cands)
    out = tmp_path / "v"
    shutil.copytree(trained["out"], out)  # an earlier verifier, to be replaced
    result = train_verifier(
        dataset=dataset,
        n=3,
        max_new_tokens=8,
        samples=tmp_path / "samples",
        out=out,
        features="checker",
        labels="steps",
        export_trl=tmp_path / "trl.jsonl",
        policy=NoSampling(policy),  # the stored sample is reused: sampling would fail
        progress=False,
    )
    assert result.directory == out
    card = read_card(out)
    assert card.feature_groups == ["checker"]
    assert card.samples["candidates"] == 9
    assert card.samples["right_candidates"] == 3
    assert card.validation["folds"] == 3
    assert card.command.startswith("train_verifier(dataset=")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "samples", "trl.jsonl", "v"]
    labels = [
        json.loads(line)["labels"] for line in (tmp_path / "trl.jsonl").read_text().splitlines()
    ]
    # Steps rule: a wrong calculation faults its step; no fault found faults the last step.
    assert labels == [[True, True], [False, False], [True, False]] * 3
    assert card.labels.startswith("steps:")
    # The outcome rule labels every prefix with its candidate's outcome.
    train_verifier(
        dataset=dataset,
        n=3,
        max_new_tokens=8,
        samples=tmp_path / "samples",
        out=out,
        features="checker",
        labels="outcome",
        compare=False,
        export_trl=tmp_path / "trl.jsonl",
        policy=NoSampling(policy),
        progress=False,
    )
    labels = [
        json.loads(line)["labels"] for line in (tmp_path / "trl.jsonl").read_text().splitlines()
    ]
    assert labels == [[True, True], [False, False], [False, False]] * 3
    card = read_card(out)
    assert card.labels.startswith("outcome:")
    # compare=False validates the chosen groups only.
    assert [row["features"] for row in card.validation["table"]] == ["checker"]
    # Checker features need no policy: none is held, and none is needed to load it.
    verifier = load_verifier(str(out))
    assert isinstance(verifier, TrainedVerifier)
    assert verifier.policy is None
    right, wrong = verifier.score(
        "What is 2 + 7?",
        [["2 + 7 = 9.\n\n", "The answer is 9."], ["2 + 7 = 10.\n\n", "The answer is 10."]],
    )
    assert right > wrong


# -- loading and using it -------------------------------------------------------------------


def test_load_verifier_scores_every_step_batched(trained: dict[str, Any], policy_fp32: Any) -> None:
    policy = policy_fp32
    verifier = load_verifier(str(trained["out"]), policy=policy)
    assert isinstance(verifier, TrainedVerifier)
    assert verifier.policy is policy
    by_card = load_verifier(str(trained["out"] / CARD_NAME), policy=policy)
    question = "Tom has 12 apples and buys 30 more. How many apples does he have?"
    candidates = [
        ["12 + 30 = 42 apples.\n\n", "The final answer is $\\boxed{42}$."],
        ["12 + 14 = 27.\n\n", "He has 27.\n\n", "The final answer is $\\boxed{27}$."],
        ["He has many apples."],
    ]
    scores = verifier.invoke({"question": question, "candidates": candidates})
    assert [len(s) for s in scores] == [2, 3, 1]
    assert all(0.0 <= x <= 1.0 for row in scores for x in row)
    assert isinstance(by_card, TrainedVerifier)
    assert by_card.card == verifier.card
    # A candidate scores the same alone as in a batch (right padding, shared prompt).
    alone = verifier.score_steps(question, [candidates[1]])[0]
    assert alone == pytest.approx(scores[1], abs=1e-5)
    assert verifier.score(question, candidates) == [row[-1] for row in scores]


def test_trained_verifier_drives_weighted_best_of_n(trained: dict[str, Any], policy: Any) -> None:
    verifier = load_trained_verifier(trained["out"], policy=policy)
    graph = create_best_of_n(
        policy=policy,
        verifier=verifier,
        n=4,
        selection="weighted",
        sampling=SamplingParams(max_new_tokens=12),
        seed=3,
    )
    result = graph.invoke({"question": "What is 6 + 2?"})
    question = "What is 6 + 2?"
    assert result["usage"]["verifier_calls"] == 1
    candidates = result["candidates"]
    again = verifier.score_steps(question, [c["steps"] for c in candidates])
    for c, scores in zip(candidates, again, strict=True):
        assert len(c["step_scores"]) == len(c["steps"])
        assert c["score"] == c["step_scores"][-1]
        assert c["step_scores"] == pytest.approx(scores, abs=1e-5)


def test_trained_step_scores_steer_beam_search(trained: dict[str, Any], policy: Any) -> None:
    verifier = load_trained_verifier(trained["out"], policy=policy)
    graph = create_beam_search(
        policy=policy,
        verifier=verifier,
        n=4,
        beam_width=2,
        max_steps=2,
        sampling=SamplingParams(max_new_tokens=8),
        seed=1,
    )
    events = list(graph.stream({"question": "What is 3 + 5?"}, stream_mode="custom"))
    scored = {e["id"]: e["score"] for e in events if e["event"] == "step_scored"}
    prunes = [e for e in events if e["event"] == "beam_pruned"]
    assert scored
    assert prunes
    first = prunes[0]
    assert first["kept"], "with 4 open beams and width 2, two are kept"
    if first["pruned"]:
        assert min(scored[i] for i in first["kept"]) >= max(scored[i] for i in first["pruned"])


def test_mlp_head_loads_and_scores(copy_of: Path, policy: Any) -> None:
    card = read_card(copy_of)
    width = len(card.feature_names)
    x = torch.randn(40, width, generator=torch.Generator().manual_seed(0))
    head = fit_head(x, (x[:, 0] > 0).float(), kind="mlp", hidden_units=8, seed=0)
    card.head_kind = "mlp"
    card.head_options = {**card.head_options, "hidden_units": 8}
    card.standardization = {
        "mean": head.standardizer.mean.tolist(),
        "scale": head.standardizer.scale.tolist(),
    }
    write_card(card, copy_of)
    write_head(head, copy_of)
    verifier = load_trained_verifier(copy_of, policy=policy)
    assert verifier.head.kind == "mlp"
    for key, value in head.weights().items():
        assert torch.equal(verifier.head.weights()[key], value)
    (scores,) = verifier.score_steps("What is 3 + 4?", [["3 + 4 = 7.\n\n", "So 7."]])
    assert len(scores) == 2


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hidden_size": 999}, "hidden size 999, not 576"),
        ({"tokenizer": "sha256:" + "0" * 64}, "a different tokenizer"),
    ],
)
def test_verifier_for_another_policy_is_refused(
    copy_of: Path, policy: Any, change: dict[str, Any], message: str
) -> None:
    edit_card(copy_of, policy={"model_id": "SomeOther-1B", **change})
    with pytest.raises(ModelLoadError) as err:
        load_verifier(str(copy_of), policy=policy)
    text = str(err.value)
    assert message in text
    assert str(copy_of) in text
    assert "'SomeOther-1B'" in text
    assert repr(policy.model_id) in text
    assert "train-verifier" in text


def test_other_model_id_with_same_tokenizer_and_size_only_warns(copy_of: Path, policy: Any) -> None:
    edit_card(copy_of, policy={"model_id": "SmolLM2-135M-Instruct (a local copy)"})
    with pytest.warns(UserWarning, match="trained for policy"):
        verifier = load_trained_verifier(copy_of, policy=policy)
    assert isinstance(verifier, TrainedVerifier)


def test_policy_features_need_the_policy(copy_of: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"pass policy=load_policy\("):
        load_verifier(str(copy_of))


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated"])
def test_damaged_weights_name_the_file(copy_of: Path, policy: Any, damage: str) -> None:
    weights = copy_of / WEIGHTS_NAME
    if damage == "missing":
        weights.unlink()
    elif damage == "garbage":
        weights.write_bytes(b"not a safetensors file at all")
    else:
        weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelLoadError) as err:
        load_verifier(str(copy_of), policy=policy)
    assert str(weights) in str(err.value)
    assert "\n" not in str(err.value)


def test_weights_of_another_shape_are_refused(copy_of: Path, policy: Any) -> None:
    edit_card(copy_of, head_kind="mlp")
    with pytest.raises(ModelLoadError, match="does not fit its card"):
        load_verifier(str(copy_of), policy=policy)


def test_unknown_feature_in_card_is_refused(copy_of: Path, policy: Any) -> None:
    names = read_card(copy_of).feature_names
    edit_card(copy_of, feature_names=["checker.no_such_signal", *names[1:]])
    with pytest.raises(ModelLoadError, match=r"'checker\.no_such_signal'") as err:
        load_verifier(str(copy_of), policy=policy)
    assert str(copy_of / CARD_NAME) in str(err.value)
    edit_card(copy_of, feature_names=names, feature_groups=["checker", "vibes"])
    with pytest.raises(ModelLoadError, match="Unknown feature group 'vibes'"):
        load_verifier(str(copy_of), policy=policy)


def test_card_that_is_not_json_names_the_file(copy_of: Path, policy: Any) -> None:
    (copy_of / CARD_NAME).write_text('{"format_version": 1, "policy": ')
    with pytest.raises(ModelLoadError, match="is not valid JSON") as err:
        load_verifier(str(copy_of), policy=policy)
    assert str(copy_of / CARD_NAME) in str(err.value)
    (copy_of / CARD_NAME).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ModelLoadError, match="format version 99"):
        load_verifier(str(copy_of), policy=policy)


def store_samples(
    root: Path, rows: list[tuple[str, str]], candidates: list[list[tuple[list[str], str]]]
) -> Path:
    """Hand-made samples (steps, answer) in the store, as a coverage run with these settings."""
    dataset = write_jsonl(root / "data.jsonl", rows)
    n = len(candidates[0])
    ev = create_evaluation(
        dataset=dataset, strategies="coverage", ns=(n,), max_new_tokens=8, out=root / "samples"
    )
    for problem, cands in zip(ev.problems.problems, candidates, strict=True):
        record = {
            "problem_id": problem.id,
            "level": None,
            "subject": None,
            "reference": problem.answer,
            "answer": cands[0][1],
            "correct": cands[0][1] == problem.answer,
            "candidates": [
                {
                    "id": f"0.{i}",
                    "text": "".join(steps),
                    "steps": steps,
                    "step_scores": [],
                    "score": None,
                    "answer": answer,
                    "finish_reason": "eos",
                    "completion_tokens": 4,
                    "group": 0,
                }
                for i, (steps, answer) in enumerate(cands)
            ],
            "usage": {
                "completion_tokens": 8,
                "prompt_tokens": 100,
                "policy_calls": 1,
                "verifier_calls": 0,
                "seconds": 0.1,
            },
            "wall_seconds": 0.1,
            "budget_limited": False,
        }
        ev.store.put(ev.config_hash, "samples", n, problem.id, record)
    ev.close()
    return dataset


@pytest.mark.parametrize(("answer", "message"), [("4", "are right"), ("5", "are wrong")])
def test_one_class_sample_is_refused(
    tmp_path: Path, policy_fp32: Any, answer: str, message: str
) -> None:
    policy = policy_fp32  # the hand-made sample is stored as a float32 run
    rows = [("What is 2 + 2?", "4"), ("What is 1 + 3?", "4")]
    cands = [[([f"So {answer}."], answer), ([f"It is {answer}."], answer)]] * 2
    dataset = store_samples(tmp_path, rows, cands)
    with pytest.raises(VerifierTrainingError, match=message) as err:
        train_verifier(
            dataset=dataset,
            n=2,
            max_new_tokens=8,
            samples=tmp_path / "samples",
            out=tmp_path / "v",
            policy=NoSampling(policy),
            progress=False,
        )
    assert "All 4 samples of the 2 problems" in str(err.value)
    assert "--n" in str(err.value)
    assert "--limit" in str(err.value)
    assert not (tmp_path / "v").exists()


# -- the policy readout ---------------------------------------------------------------------


def test_readout_matches_a_plain_forward_pass(policy_fp32: Any) -> None:
    policy = policy_fp32
    from ttc_graph.verifiers.trained.readout import _prompt

    question = "What is 2 + 3?"
    steps = ["2 + 3 = 5.\n\n", "The final answer is $\\boxed{5}$."]
    other = ["Let me think about this for a while.\n\n", "It is 6."]
    together = read_prefixes(policy, question, [other, steps, [""]], batch_size=2)
    alone = read_prefixes(policy, question, [steps])[0]
    for field in ("mean_logprob", "min_logprob", "tokens", "hidden_last", "hidden_mean"):
        assert torch.allclose(getattr(together[1], field), getattr(alone, field), atol=1e-4)

    prompt = _prompt(policy, question, DEFAULT_SYSTEM_PROMPT)
    text = prompt + "".join(steps)
    enc = policy.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    start = len(policy.tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert offsets[start][0] == len(prompt), "the prompt tokenizes the same inside the text"
    # A step's prefix holds the tokens that start before the step's last character.
    step_ends = [len(prompt) + len(steps[0]), len(text)]
    ends = [sum(1 for s, _ in offsets if s < end) for end in step_ends]
    with torch.no_grad():
        out = policy.model(torch.tensor([ids]), output_hidden_states=True)
    logprobs = torch.log_softmax(out.logits[0, :-1].float(), -1)
    token_lp = logprobs.gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    hidden = out.hidden_states[-1][0]
    for k, end in enumerate(ends):
        lp = token_lp[start - 1 : end - 1]
        assert alone.tokens[k] == end - start
        assert alone.mean_logprob[k] == pytest.approx(float(lp.mean()), abs=1e-4)
        assert alone.min_logprob[k] == pytest.approx(float(lp.min()), abs=1e-4)
        assert torch.allclose(alone.hidden_last[k], hidden[end - 1], atol=1e-3)
        assert torch.allclose(alone.hidden_mean[k], hidden[start:end].mean(0), atol=1e-3)
    # An empty candidate reads as no tokens, not as an error.
    assert together[2].tokens.tolist() == [0.0]


def test_card_round_trip_and_fingerprint(trained: dict[str, Any], tmp_path: Path) -> None:
    card = read_card(trained["out"])
    write_card(card, tmp_path)
    assert read_card(tmp_path) == card

    class Tok:
        def __init__(self, vocab: dict[str, int]) -> None:
            self.vocab = vocab

        def get_vocab(self) -> dict[str, int]:
            return dict(self.vocab)

    a = tokenizer_fingerprint(Tok({"a": 0, "b": 1}))
    assert a == tokenizer_fingerprint(Tok({"b": 1, "a": 0}))
    assert a != tokenizer_fingerprint(Tok({"a": 1, "b": 0}))
