"""Paths users take that no other test walked (issue #15, item 7), on the real model.

``ttc-graph solve`` itself (the ``make demo`` command, ``--trace``, ``--html``,
``--stream``); ``load_policy`` on a local directory and on a user's ``.gguf``;
nucleus sampling (``top_p < 1``). Step-score aggregation ``min``/``prod``/``mean`` and
``lookahead > 0`` in a beam search, self-refine without a verifier, and an answer cut
short by a budget being the top-scored candidate are graph logic, proved on the scripted
policy (tests/unit/test_step_search_graphs.py, test_self_refine_graph.py,
test_budgets_and_events.py).

Every run is small (a few tokens, N = 2 to 4); runs that several assertions read
are made once per module.
"""

from __future__ import annotations

import logging
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from ttc_graph.cli import main
from ttc_graph.policy import GenerationRequest, SamplingParams, load_policy
from ttc_graph.policy import loading as policy_loading
from ttc_graph.visualization import load_trace

QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"
STEP = SamplingParams(temperature=0.8, max_new_tokens=8)


# -- ttc-graph solve ----------------------------------------------------------------


@pytest.fixture
def cli(policy: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``ttc-graph ARGV`` in this process, on the session's policy (no second load)."""
    monkeypatch.setattr("ttc_graph.policy.load_policy", lambda *a, **k: policy)

    def run(*argv: str) -> tuple[str, str]:
        capsys.readouterr()
        assert main(list(argv)) == 0
        return capsys.readouterr()

    return run


def _answer_line(out: str) -> str:
    found = re.search(r"^Answer: (.*)$", out, re.MULTILINE)
    assert found, out
    return found.group(1)


def test_the_demo_command_compares_search_with_greedy(cli: Any) -> None:
    # `make demo` with N and tokens cut down: weighted best-of-N beside one greedy sample.
    out, _ = cli(
        "solve", QUESTION, "--strategy", "weighted", "--n", "2", "--max-new-tokens", "8",
        "--seed", "0", "--compare",
    )  # fmt: skip
    assert out.startswith(f"Question: {QUESTION}\nStrategy: weighted (model: ")
    assert "Usage: " in out
    lines = out.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.split() == ["answer", "tokens", "seconds"])
    rows = [line.split()[0] for line in lines[header + 1 :] if line.strip()]
    assert rows == ["greedy", "weighted"], lines[header:]


def test_solve_writes_the_trace_and_viewer_of_the_search_it_printed(
    cli: Any, tmp_path: Path
) -> None:
    trace, html = tmp_path / "run.json", tmp_path / "run.html"
    out, _ = cli(
        "solve", QUESTION, "--strategy", "beam_search", "--n", "2", "--beam-width", "1",
        "--max-steps", "2", "--max-new-tokens", "8", "--seed", "0",
        "--trace", str(trace), "--html", str(html),
    )  # fmt: skip
    saved = load_trace(trace)  # validates the schema
    assert saved["question"] == QUESTION
    assert str(saved["answer"]) == _answer_line(out) or saved["answer"] is None
    assert f"Trace written to {trace}" in out
    assert f"Search tree written to {html}" in out
    page = html.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "Sam has 7 pencils" in page
    ids = [node["id"] for node in saved["nodes"] if node["status"] != "root"]
    assert ids
    assert all(f'"{node_id}"' in page for node_id in ids), "every node is in the viewer"


def test_solve_stream_prints_events_and_the_same_answer(cli: Any) -> None:
    argv = ["solve", QUESTION, "--strategy", "majority", "--n", "2", "--max-new-tokens", "8"]
    streamed_out, events = cli(*argv, "--seed", "3", "--stream")
    plain_out, quiet = cli(*argv, "--seed", "3")
    names = re.findall(r"^\[(\w+)\] ", events, re.MULTILINE)
    assert names.count("candidate_generated") == 2, events
    assert names[-1] == "answer_chosen"
    assert quiet == "", "no events without --stream"
    assert _answer_line(streamed_out) == _answer_line(plain_out)


# -- load_policy on a local directory and on a user's .gguf -------------------------


def _greedy_text(policy: Any) -> str:
    request = GenerationRequest((HumanMessage("What is 2 + 3?"),))
    params = SamplingParams(temperature=0.0, max_new_tokens=6)
    return str(policy.sample([request], n=1, params=params)[0][0].text)


@pytest.fixture(scope="module")
def greedy_reference(policy: Any) -> str:
    return _greedy_text(policy)


def test_load_policy_from_a_local_transformers_directory(
    greedy_reference: str, tmp_path: Path
) -> None:
    # A directory written by save_pretrained (the converted embedded model, copied).
    source = Path(policy_loading.resolve_model_source(None))
    local = tmp_path / "my-model"
    shutil.copytree(source, local)
    loaded = load_policy(str(local), device="cpu")
    assert loaded.model_id == str(local)
    assert _greedy_text(loaded) == greedy_reference, "same weights, same greedy text"


def test_load_policy_from_a_user_gguf_file(
    greedy_reference: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A user's own GGUF under another name, converted into an empty cache.
    cache = tmp_path / "cache"
    monkeypatch.setenv("TTC_GRAPH_CACHE", str(cache))
    gguf = tmp_path / "downloads" / "my-smollm.gguf"
    gguf.parent.mkdir()
    shutil.copyfile(policy_loading.embedded_gguf_path(), gguf)
    # Two loads at once (as pytest-xdist workers or two servers start): one converts,
    # the other waits for it instead of converting too.
    caplog.set_level(logging.INFO, logger=policy_loading.__name__)
    with ThreadPoolExecutor(max_workers=2) as pool:
        sources = list(pool.map(policy_loading.resolve_model_source, [str(gguf)] * 2))
    assert sources[0] == sources[1]
    conversions = [r for r in caplog.records if r.getMessage().startswith("Converting")]
    assert len(conversions) == 1, [r.getMessage() for r in conversions]
    loaded = load_policy(str(gguf), device="cpu")
    assert loaded.model_id == str(gguf)
    converted = [p.name for p in cache.iterdir() if p.is_dir()]
    assert len(converted) == 1, converted
    assert converted[0].startswith("my-smollm-"), converted
    assert _greedy_text(loaded) == greedy_reference
    # A second load reuses the conversion (keyed by the file's content).
    assert policy_loading.resolve_model_source(str(gguf)) == str(cache / converted[0])


# -- top-p ------------------------------------------------------------------------


def test_a_tiny_top_p_keeps_only_the_most_likely_token(policy_fp32: Any) -> None:
    # With top_p near 0 the nucleus is the single most likely token: sampling at
    # temperature 1 must then write exactly the greedy text. float32: in bfloat16 a
    # one-row and a two-row batch can round a near-tie differently (a CI run saw it).
    policy = policy_fp32
    request = GenerationRequest((HumanMessage("Name three colours."),))
    greedy = policy.sample(
        [request], n=1, params=SamplingParams(temperature=0.0, max_new_tokens=8)
    )[0][0]
    nucleus = policy.sample(
        [request],
        n=2,
        params=SamplingParams(temperature=1.0, top_p=1e-6, max_new_tokens=8, seed=11),
    )[0]
    assert [c.text for c in nucleus] == [greedy.text, greedy.text]
    wide = policy.sample(
        [request],
        n=4,
        params=SamplingParams(temperature=1.0, top_p=1.0, max_new_tokens=8, seed=11),
    )[0]
    assert any(c.text != greedy.text for c in wide), "without the cut, sampling varies"
