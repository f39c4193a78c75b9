"""Hostile input that needs a real process (exit status, memory, stdin, a real write
failure) or the real embedded model (an actual search, a too-long row).

The goal (issue 13): no traceback, no silently reinterpreted value, no lost result,
bounded memory. The cases that fail before any model loads are unit tests
(tests/unit/test_hardening.py).
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_output import HOSTILE, assert_terminal_clean, one_error_line, run_cli
from langchain_core.messages import HumanMessage

import ttc_graph
import ttc_graph.policy
from ttc_graph.errors import InputTooLongError
from ttc_graph.evaluation import create_evaluation
from ttc_graph.evaluation.store import DB_NAME
from ttc_graph.limits import MAX_N
from ttc_graph.policy import GenerationRequest, HuggingFacePolicy
from ttc_graph.policy import loading as policy_loading
from ttc_graph.visualization import load_trace
from ttc_graph.visualization.diagram import DiagramOnlyPolicy, DiagramOnlyVerifier


def cli_process(
    *argv: str, stdin: bytes | None = None, timeout: float = 600, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    """``ttc-graph ARGV`` as a real process (bytes in and out)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "ttc_graph", *argv],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=env,
        check=False,
        **kwargs,
    )


@pytest.fixture
def embedded(policy: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The CLI gets the session's embedded policy instead of loading it again.

    Each load is recorded with its options; ``on_long_input`` is honoured by a
    policy over the same pipeline.
    """
    loads: list[dict[str, Any]] = []

    def load(model: Any = None, **options: Any) -> HuggingFacePolicy:
        loads.append({"model": model, **options})
        return HuggingFacePolicy(
            model=policy.model,
            tokenizer=policy.tokenizer,
            model_id=policy.model_id,
            on_long_input=options.get("on_long_input", "error"),
            max_input_tokens=1024,
        )

    monkeypatch.setattr(ttc_graph, "load_policy", load)
    monkeypatch.setattr(ttc_graph.policy, "load_policy", load)
    return loads


# -- 1. memory: absurd N ----------------------------------------------------------------


@pytest.mark.subprocess
def test_absurd_n_is_refused_up_front_in_little_memory(tmp_path: Path) -> None:
    # A wrapper process waits for the CLI and reports the CLI's own peak RSS.
    wrapper = textwrap.dedent(
        """
        import json, resource, subprocess, sys
        done = subprocess.run(
            [
                sys.executable, "-m", "ttc_graph", "solve", "What is 1 + 1?",
                "--strategy", "majority", "--n", "1000000000",
            ],
            capture_output=True, text=True,
        )
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps({"rc": done.returncode, "err": done.stderr, "peak_kib": peak}))
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, env=env, timeout=300
    )
    report = json.loads(done.stdout)
    assert report["rc"] == 2
    line = one_error_line(report["err"], "'n' is 1,000,000,000", f"limit of {MAX_N:,}")
    assert "kept in memory" in line, "the message says why"
    # Only the imports (torch, transformers): no candidate was ever allocated. Before,
    # this grew past 4 GB in 40 s and ended in a MemoryError traceback.
    assert report["peak_kib"] < 1024 * 1024, report["peak_kib"]


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.subprocess
def test_answer_is_printed_before_a_failed_write_and_stdin_is_read(tmp_path: Path) -> None:
    """A real failure after the search: files are capped at 6,000 bytes by the OS.

    The trace (about 1 KB) is written, the viewer (over 9 KB) fails with EFBIG. The
    question comes from stdin and carries terminal escapes.
    """
    policy_loading.resolve_model_source(None)  # converted already: no big write in the child
    out_dir = tmp_path / "views"
    out_dir.mkdir()
    trace, html = out_dir / "t.json", out_dir / "tree.html"
    done = cli_process(
        "solve",
        "-",
        "--max-new-tokens",
        "8",
        "--seed",
        "0",
        "--trace",
        str(trace),
        "--html",
        str(html),
        stdin=HOSTILE.encode("utf-8"),
        preexec_fn=_limit_file_size(6000),
    )
    out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    assert done.returncode == 1, err
    assert "Answer:" in out, "the finished search is reported"
    assert "Usage:" in out
    assert out.index("Answer:") < out.index("Trace written to"), "answer first"
    line = one_error_line(err, str(html), "File too large", "The answer above is complete")
    assert ".tmp" not in line, "the error names the file asked for"
    assert not html.exists()
    assert sorted(p.name for p in out_dir.iterdir()) == ["t.json"], "no temporary file left"
    # The terminal got inert text; the trace file keeps the question as it was.
    assert_terminal_clean(out)
    assert "\\x1b[2J" in out
    assert "\\x1b]52;c;" in out
    assert load_trace(trace)["question"] == HOSTILE


@pytest.mark.subprocess
def test_deeply_nested_json_in_view_is_one_line(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    done = cli_process("view", str(deep), "--terminal", timeout=300)
    assert done.returncode == 2
    one_error_line(done.stderr.decode(), "nests JSON too deeply")
    assert done.stdout == b""


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_failed_eval_unit_is_recorded_and_the_run_goes_on(
    embedded: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A hostile problem id and level (markup and escapes) and a row longer than the context.
    too_long = "Add these: " + " + ".join(str(i % 97) for i in range(1000)) + ". What is 1 + 1?"
    hostile_id = "p1\x1b]0;pwned\x07[bold]x[/]"
    data = _jsonl(
        tmp_path / "data.jsonl",
        [
            {"problem": "What is 2 + 2?", "answer": "4", "unique_id": "ok", "level": "[/]"},
            {"problem": too_long, "answer": "2", "unique_id": hostile_id},
        ],
    )
    out = tmp_path / "out"
    argv = ["eval", "--dataset", str(data), "--strategies", "greedy", "--n", "1"]
    argv += ["--max-new-tokens", "4", "--out", str(out)]
    rc, stdout, err = run_cli(capsys, *argv)
    assert rc == 1, err
    one_error_line(err, "1 unit(s) failed", "Rerun the same command")
    assert "InputTooLongError" in stdout + err
    assert "--on-long-input truncate" in stdout + err
    assert_terminal_clean(stdout + err)
    # The finished problem is stored; the failed one is recorded with its reason.
    db = sqlite3.connect(out / DB_NAME)
    assert db.execute("SELECT problem_id FROM results").fetchall() == [("ok",)]
    ((problem, reason),) = db.execute("SELECT problem_id, error FROM failures").fetchall()
    assert problem == hostile_id
    assert reason.startswith("InputTooLongError:")
    db.close()
    (report,) = out.glob("curve-*.json")
    failed = json.loads(report.read_text())["failed_units"]
    assert [f["problem_id"] for f in failed] == [hostile_id], "raw in the JSON report"
    assert "\\x1b]0;pwned\\x07[bold]x[/]" in stdout + err, "visible on the terminal"
    assert embedded[-1]["on_long_input"] == "error"
    # With truncation the long row runs too (a new configuration, stored beside).
    rc, _, err = run_cli(capsys, *argv, "--on-long-input", "truncate")
    assert rc == 0, err
    assert embedded[-1]["on_long_input"] == "truncate"
    assert len(list(out.glob("curve-*.json"))) == 2, "each configuration keeps its report"


def test_an_eval_stops_cleanly_after_many_failures_in_a_row(policy: Any, tmp_path: Path) -> None:
    from ttc_graph.evaluation.runner import MAX_FAILURES_IN_A_ROW

    long_text = " + ".join(str(i % 97) for i in range(9000))
    count = MAX_FAILURES_IN_A_ROW + 2
    rows = [{"problem": f"{i}: {long_text}", "answer": "1"} for i in range(count)]
    ev = create_evaluation(
        dataset=_jsonl(tmp_path / "d.jsonl", rows),
        strategies="greedy",
        ns="1",
        max_new_tokens=4,
        out=tmp_path / "out",
    )
    try:
        report = ev.run(policy=policy, progress=False)
    finally:
        ev.close()
    assert report.stopped is not None
    assert "all failed" in report.stopped
    assert len(report.failed) == MAX_FAILURES_IN_A_ROW
    assert report.pending_units == count, "the rest is left for a rerun, nothing lost"


def test_solve_json_keeps_raw_text_and_reads_a_bom_file(
    embedded: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    question = tmp_path / "q.txt"
    question.write_bytes(b"\xef\xbb\xbf" + HOSTILE.encode("utf-8"))
    rc, out, err = run_cli(
        capsys, "solve", "--file", str(question), "--json", "--max-new-tokens", "4", "--seed", "0"
    )
    assert rc == 0, err
    assert_terminal_clean(out)  # JSON escapes control characters itself
    result = json.loads(out)
    assert result["question_text"] == HOSTILE, "raw text, BOM removed"


# -- 7. no silently reinterpreted values ------------------------------------------------


P, V = DiagramOnlyPolicy(), DiagramOnlyVerifier()


def test_max_new_tokens_beyond_the_context_says_so(policy: Any) -> None:
    request = GenerationRequest((HumanMessage("What is 1 + 1?"),))
    with pytest.raises(InputTooLongError, match="leaves no room for the prompt") as info:
        policy.fit(request, 100_000)
    assert "-9" not in str(info.value), "no negative token count"


def test_long_input_error_names_the_cli_option(
    embedded: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    long_question = tmp_path / "long.txt"
    long_question.write_text(
        "Add these: " + " + ".join(str(i % 97) for i in range(1000)) + ". What is 1 + 1?"
    )
    argv = ["solve", "--file", str(long_question), "--max-new-tokens", "4", "--seed", "0"]
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2
    one_error_line(err, "on_long_input='truncate'", "--on-long-input truncate")
    # The option it names works: the middle of the question is cut, with a warning.
    with pytest.warns(UserWarning, match="cut to fit"):
        rc, out, err = run_cli(capsys, *argv, "--on-long-input", "truncate")
    assert rc == 0, err
    assert "Answer:" in out
