"""Hostile input across the CLI, the Python API, the results store and the viewer.

The goal (issue 13): no traceback, no silently reinterpreted value, no lost
result, bounded memory. Every case here fails before any model loads: the CLI is
run in-process with ``load_policy`` replaced by a function that fails the test if
it is ever called, which proves the check came first. The cases that need a real
process (exit status, memory, stdin, a real write failure) or the real embedded
model (an actual search, a too-long row) are in
tests/integration/test_hardening_processes.py.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_output import HOSTILE, assert_terminal_clean, one_error_line, run_cli

import ttc_graph
import ttc_graph.policy
from ttc_graph import Budget, create_beam_search, create_best_of_n, create_dvts, create_self_refine
from ttc_graph.cli import main
from ttc_graph.errors import (
    LimitError,
    ModelLoadError,
    OutputPathError,
    OutputWriteError,
    ResultStoreError,
    StrategyError,
)
from ttc_graph.escape import terminal_safe
from ttc_graph.evaluation import create_evaluation, write_report
from ttc_graph.evaluation.problems import load_problems
from ttc_graph.evaluation.store import DB_NAME, ResultStore
from ttc_graph.limits import MAX_N, MAX_NEW_TOKENS
from ttc_graph.outputs import write_atomic
from ttc_graph.policy import SamplingParams
from ttc_graph.policy import loading as policy_loading
from ttc_graph.policy.generation import row_chunks
from ttc_graph.specs import check_verifier_spec
from ttc_graph.visualization import load_trace, save_trace
from ttc_graph.visualization.diagram import DiagramOnlyPolicy, DiagramOnlyVerifier
from ttc_graph.visualization.html import html_document


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a policy model is loaded."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(ttc_graph, "load_policy", refuse)
    monkeypatch.setattr(ttc_graph.policy, "load_policy", refuse)


def trace_file(path: Path, *, text: str = "7 + 5 = 12.", **fields: Any) -> Path:
    """A small valid trace file (root plus one finished step), with overrides."""
    data: dict[str, Any] = {
        "format": "ttc-graph-trace",
        "version": 1,
        "strategy": "best_of_n",
        "question": "What is 7 + 5?",
        "answer": "12",
        "solution": text,
        "budget_limited": False,
        "usage": {
            "completion_tokens": 5,
            "prompt_tokens": 9,
            "policy_calls": 1,
            "verifier_calls": 1,
            "seconds": 0.5,
        },
        "nodes": [
            {
                "id": "root",
                "parent": None,
                "text": "What is 7 + 5?",
                "score": None,
                "iteration": 0,
                "status": "root",
                "chosen": True,
                "group": 0,
            },
            {
                "id": "0.0",
                "parent": "root",
                "text": text,
                "score": 0.9,
                "iteration": 0,
                "status": "finished",
                "chosen": True,
                "group": 0,
            },
        ],
    }
    data.update(fields)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def greedy_record(problem_id: str, answer: str, correct: bool) -> dict[str, Any]:
    """A stored unit as the runner writes it."""
    return {
        "problem_id": problem_id,
        "level": "1",
        "subject": None,
        "reference": answer,
        "answer": answer,
        "correct": correct,
        "candidates": [],
        "usage": {
            "completion_tokens": 7,
            "prompt_tokens": 30,
            "policy_calls": 1,
            "verifier_calls": 0,
            "seconds": 0.2,
        },
        "wall_seconds": 0.25,
        "budget_limited": False,
    }


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_n_limit_for_solve_eval_factories_and_policies(
    no_model: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    over = str(MAX_N + 1)
    rc, _, err = run_cli(capsys, "solve", "x", "--strategy", "majority", "--n", over)
    assert rc == 2
    one_error_line(err, f"limit of {MAX_N:,}")
    rc, _, err = run_cli(
        capsys, "eval", "--dataset", "arithmetic", "--n", f"1,{over}", "--out", str(tmp_path / "o")
    )
    assert rc == 2
    one_error_line(err, f"limit of {MAX_N:,}")
    assert not (tmp_path / "o").exists()
    policy, verifier = DiagramOnlyPolicy(), DiagramOnlyVerifier()
    builders: list[Callable[[int], Any]] = [
        lambda n: create_best_of_n(policy=policy, n=n, selection="majority"),
        lambda n: create_beam_search(policy=policy, verifier=verifier, n=n, beam_width=4),
        lambda n: create_dvts(policy=policy, verifier=verifier, n=n, beam_width=4),
    ]
    for build in builders:
        with pytest.raises(LimitError, match=f"limit of {MAX_N:,}"):
            build(MAX_N + 4)
        build(MAX_N)  # the limit itself is accepted
    with pytest.raises(LimitError, match=f"limit of {MAX_N:,}"):
        ttc_graph.policy.base.check_n(MAX_N + 1)


def test_candidate_rows_are_built_one_chunk_at_a_time() -> None:
    tracemalloc.start()
    try:
        chunks = row_chunks([10**9, 10**9], [0, 5], 64)
        first, second = next(chunks), next(chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Two chunks of 64 rows, not 2e9 rows (before: one object per row, up front).
    assert peak < 256 * 1024, peak
    assert [r.sample_index for r in first] == list(range(64))
    assert [r.sample_index for r in second] == list(range(64, 128))
    # Small counts: every row once, in prompt order, first_index honoured across chunks.
    rows = [(r.prompt_index, r.sample_index) for c in row_chunks([3, 2], [0, 4], 2) for r in c]
    assert rows == [(0, 0), (0, 1), (0, 2), (1, 4), (1, 5)]
    assert [len(c) for c in row_chunks([3, 2], [0, 4], 2)] == [2, 2, 1]


# -- 2. a content-keyed model cache -----------------------------------------------------


def _fake_gguf(path: Path, body: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"GGUF\x03\x00\x00\x00" + body)
    return path


def test_a_file_that_is_not_gguf_never_runs_as_another_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TTC_GRAPH_CACHE", str(tmp_path / "cache"))
    real = policy_loading.embedded_gguf_path()
    # Zero-filled, with the embedded file's name and size: it used to run as that model.
    fake = tmp_path / "impostor" / real.name
    fake.parent.mkdir()
    with fake.open("wb") as fh:
        fh.truncate(real.stat().st_size)
    with pytest.raises(ModelLoadError, match="is not a GGUF file"):
        policy_loading.resolve_model_source(fake)
    rc, _, err = run_cli(capsys, "solve", "x", "--model", str(fake))
    assert rc == 2
    one_error_line(err, "not a GGUF file", "00 00 00 00")
    assert not (tmp_path / "cache").exists() or not any(
        p.is_dir() for p in (tmp_path / "cache").iterdir()
    ), "nothing was converted or cached"


def test_gguf_cache_is_keyed_by_content_and_hashed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTC_GRAPH_CACHE", str(tmp_path / "cache"))
    # Two different fine-tunes, both model.gguf, same size.
    a = _fake_gguf(tmp_path / "a" / "model.gguf", b"\x01" * 4096)
    b = _fake_gguf(tmp_path / "b" / "model.gguf", b"\x02" * 4096)
    assert a.stat().st_size == b.stat().st_size
    hashed: list[Path] = []
    real_hash = policy_loading._hash_file

    def counting(path: Path) -> str:
        hashed.append(path)
        return real_hash(path)

    monkeypatch.setattr(policy_loading, "_hash_file", counting)
    dir_a, dir_b = policy_loading.gguf_cache_dir(a), policy_loading.gguf_cache_dir(b)
    assert dir_a != dir_b
    assert dir_a.name == f"model-{sha(a)[:16]}"
    assert len(hashed) == 2
    # Remembered by path, size and mtime: a second lookup reads nothing.
    assert policy_loading.gguf_cache_dir(a) == dir_a
    assert len(hashed) == 2
    index = json.loads((tmp_path / "cache" / "gguf-digests.json").read_text())
    assert index[str(a.resolve())]["sha256"] == sha(a)
    # Changed in place (new mtime): hashed again, and a new key.
    _fake_gguf(a, b"\x03" * 4096)
    os.utime(a, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns + 10**9))
    assert policy_loading.gguf_cache_dir(a) not in (dir_a, dir_b)
    assert len(hashed) == 3


def test_a_damaged_gguf_is_a_clear_error_and_caches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTC_GRAPH_CACHE", str(tmp_path / "cache"))
    broken = _fake_gguf(tmp_path / "broken.gguf", os.urandom(2048))
    with pytest.raises(ModelLoadError, match="could not be read as a model"):
        policy_loading.resolve_model_source(broken)
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    assert leftovers == [], "no converted or half-converted directory"


def test_the_embedded_model_is_cached_under_its_digest() -> None:
    source = Path(policy_loading.resolve_model_source(None))
    gguf = policy_loading.embedded_gguf_path()
    assert source.name == f"{gguf.stem}-{sha(gguf)[:16]}"
    assert (source / "config.json").is_file()


# -- 3. outputs checked before the work --------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--trace", "/proc/ttc-graph-x.json"], ["Cannot write files in /proc"]),
        (["--html", "{tmp}/adir"], ["is a directory", "tree.html"]),
        (["--trace", "{tmp}/adir"], ["is a directory", "trace.json"]),
        (["--trace", "{tmp}/same", "--html", "{tmp}/same"], ["--trace and --html both name"]),
        (["--trace", "{tmp}/missing/t.json"], ["does not exist"]),
    ],
)
def test_solve_checks_its_outputs_before_loading_the_model(
    no_model: None,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    args: list[str],
    needles: list[str],
) -> None:
    (tmp_path / "adir").mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    rc, out, err = run_cli(capsys, "solve", "What is 1 + 1?", *argv)
    assert rc == 2
    line = one_error_line(err, *needles)
    assert ".json" not in line or "--html" not in args, "the --html hint names an .html file"
    assert out == ""


def test_view_checks_its_output_before_printing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = trace_file(tmp_path / "t.json")
    (tmp_path / "out").mkdir()
    rc, out, err = run_cli(capsys, "view", str(trace), "--terminal", "-o", str(tmp_path / "out"))
    assert rc == 2
    one_error_line(err, "is a directory", "tree.html")
    assert out == ""


# -- 4. no tracebacks ----------------------------------------------------------------------


def test_a_failing_search_is_one_line_and_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A policy that cannot generate: the graph raises a real StrategyError.
    monkeypatch.setattr("ttc_graph.policy.load_policy", lambda *a, **k: DiagramOnlyPolicy())
    argv = ["solve", "x", "--strategy", "majority", "--n", "2", "--max-new-tokens", "4"]
    rc, _out, err = run_cli(capsys, *argv)
    assert rc == 1
    one_error_line(err, "majority: node 'generate' failed", "cannot generate")
    assert "--debug" not in err, "a known error needs no hint"
    for debug in (["--debug", *argv], [*argv, "--debug"]):
        with pytest.raises(StrategyError):
            main(debug)


def test_an_unexpected_error_is_one_line_that_names_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import ttc_graph.visualization as viz

    def broken(*args: Any, **kwargs: Any) -> Any:
        table: dict[str, int] = {}
        return table["missing"]  # a bug, not bad input

    monkeypatch.setattr(viz, "load_trace", broken)
    rc, _, err = run_cli(capsys, "view", str(trace_file(tmp_path / "t.json")))
    assert rc == 1
    one_error_line(err, "unexpected KeyError", "--debug")


# -- 5. the results store ----------------------------------------------------------------


def test_an_empty_results_database_is_refused_and_left_alone(
    no_model: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / DB_NAME).write_bytes(b"")
    rc, _, err = run_cli(capsys, "eval", "--dataset", "arithmetic", "--out", str(out))
    assert rc == 2
    one_error_line(err, "empty (0 bytes)", "Nothing was run")
    assert (out / DB_NAME).stat().st_size == 0
    assert sorted(p.name for p in out.iterdir()) == [DB_NAME], "no -wal, no report, no rerun"


def _store_with_results(path: Path, rows: int = 200) -> None:
    with ResultStore(path) as store:
        store.register_config("h", {"seed": 0})
        for i in range(rows):
            store.put("h", "greedy", 1, f"p{i}", greedy_record(f"p{i}", "4" * 200, True))


def test_damaged_or_foreign_databases_are_refused_untouched(tmp_path: Path) -> None:
    # Pages after the first overwritten: SQLite opens it, reading results fails.
    damaged = tmp_path / "damaged.sqlite"
    _store_with_results(damaged)
    data = bytearray(damaged.read_bytes())
    assert len(data) > 3 * 4096
    data[4096:] = b"\xa5" * (len(data) - 4096)
    damaged.write_bytes(bytes(data))
    foreign = tmp_path / "foreign.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    text = tmp_path / "text.sqlite"
    text.write_text("not a database " * 100)
    for path, needle in (
        (damaged, "Cannot use results database"),
        (foreign, r"something else \(tables: invoices\)"),
        (text, "not a SQLite database"),
    ):
        before = sha(path)
        with pytest.raises(ResultStoreError, match=needle), ResultStore(path) as store:
            store.check_records("h")
        assert sha(path) == before, f"{path.name} was modified"
    # The database file gone but its log still there: results existed, refuse.
    gone = tmp_path / "gone" / DB_NAME
    gone.parent.mkdir()
    gone.with_name(DB_NAME + "-wal").write_bytes(b"x" * 100)
    with pytest.raises(ResultStoreError, match="write-ahead log"):
        ResultStore(gone)
    assert not gone.exists()


def test_a_damaged_record_is_named_before_any_model_loads(
    no_model: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = ["eval", "--dataset", "arithmetic", "--limit", "2", "--strategies", "greedy"]
    argv += ["--out", str(out)]
    ev = create_evaluation(dataset="arithmetic", limit=2, strategies="greedy", out=out)
    unit = ev.units()[0]
    ev.store.put(ev.config_hash, unit.name, unit.n, unit.problem.id, greedy_record("x", "4", True))
    ev.close()
    db = sqlite3.connect(out / DB_NAME)
    db.execute("UPDATE results SET record = '{\"answer\": 4}}'")  # "Extra data"
    db.commit()
    db.close()
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2
    line = one_error_line(err, "damaged (not valid JSON)", unit.problem.id, "Nothing was run")
    assert "Extra data" not in line


def test_a_new_database_appears_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    create_evaluation(dataset="arithmetic", strategies="greedy", out=out).close()
    db = out / DB_NAME
    assert db.read_bytes()[:16] == b"SQLite format 3\x00"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no build file left"
    # And reopening it (a resume) is accepted.
    create_evaluation(dataset="arithmetic", strategies="greedy", out=out).close()


def test_two_configurations_in_one_out_keep_their_own_reports(tmp_path: Path) -> None:
    reports = []
    for seed, answer in ((0, "4"), (1, "5")):
        ev = create_evaluation(
            dataset="arithmetic", strategies="greedy", limit=1, seed=seed, out=tmp_path
        )
        unit = ev.units()[0]
        record = greedy_record(unit.problem.id, answer, answer == unit.problem.answer)
        ev.store.put(ev.config_hash, unit.name, unit.n, unit.problem.id, record)
        report = ev.report()
        paths = write_report(report, tmp_path, title="t")
        reports.append((report.config_hash, paths))
        ev.close()
    (h1, _p1), (h2, p2) = reports
    assert h1 != h2
    for digest, paths in reports:
        assert set(paths) == {"csv", "json", "plot", "tokens_plot"}
        assert json.loads(paths["json"].read_text())["config_hash"] == digest
        assert digest in paths["csv"].name
        assert digest in paths["tokens_plot"].name
        assert paths["plot"].stat().st_size > 0
    # The unsuffixed files are a copy of the report written last.
    assert json.loads((tmp_path / "curve.json").read_text())["config_hash"] == h2
    assert (tmp_path / "curve.csv").read_bytes() == p2["csv"].read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_an_atomic_write_that_fails_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "curve.json"
    target.mkdir()  # renaming a file onto a non-empty directory fails
    (target / "keep").write_text("x")
    with pytest.raises(OutputWriteError) as info:
        write_atomic(target, "{}")
    assert str(target) in str(info.value)
    assert ".tmp" not in str(info.value)
    assert (target / "keep").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.json"]


# -- 6. terminal-safe output ------------------------------------------------------------


def test_terminal_safe_escapes_every_control_sequence() -> None:
    safe = terminal_safe(HOSTILE)
    assert_terminal_clean(safe)
    assert safe.startswith("What is 2 + 2?\\x1b[2J\\x1b]0;pwned\\x07\\x1b]52;c;")
    assert "\\x9b31m" in safe
    assert "\\r" not in safe
    assert "\\x0d" in safe
    assert "\\u202e" in safe
    assert terminal_safe("a\nb\tc") == "a\nb\tc", "newline and tab are kept"
    assert terminal_safe("a\nb\tc", newlines=False) == "a\\nb\\tc"
    assert terminal_safe("é 汉字 ∑ \u200d") == "é 汉字 ∑ \u200d", "ordinary Unicode untouched"
    assert terminal_safe(safe) == safe, "escaping twice changes nothing"


def test_view_terminal_shows_hostile_trace_text_inert(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = trace_file(
        tmp_path / "t.json", text=HOSTILE, question=HOSTILE, answer="\x1b[2J4", strategy="x\x07"
    )
    rc, out, err = run_cli(capsys, "view", str(trace), "--terminal")
    assert rc == 0, err
    assert_terminal_clean(out)
    assert "\\x1b[2J" in out
    assert load_trace(trace)["nodes"][1]["text"] == HOSTILE, "the file keeps the raw text"


# -- 7. no silently reinterpreted values ------------------------------------------------


P, V = DiagramOnlyPolicy(), DiagramOnlyVerifier()
FACTORIES: dict[str, Callable[..., Any]] = {
    "best_of_n": lambda **kw: create_best_of_n(policy=P, verifier=V, **kw),
    "beam_search": lambda **kw: create_beam_search(policy=P, verifier=V, n=4, beam_width=2, **kw),
    "dvts": lambda **kw: create_dvts(policy=P, verifier=V, n=4, beam_width=2, **kw),
    "self_refine": lambda **kw: create_self_refine(policy=P, **kw),
}
BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"budget": Budget(max_tokens=math.nan)}, "option 'budget_tokens' must be an integer"),  # type: ignore[arg-type]
    ({"budget": Budget(max_tokens=10.5)}, "option 'budget_tokens' must be an integer"),  # type: ignore[arg-type]
    ({"budget": Budget(max_seconds=math.nan)}, "option 'budget_seconds' must be a finite"),
    ({"budget": Budget(max_seconds=math.inf)}, "option 'budget_seconds' must be a finite"),
    ({"step_delimiter": ""}, "option 'step_delimiter' must be a non-empty string"),
    ({"step_delimiter": None}, "option 'step_delimiter' cannot be None"),
    ({"sampling": {"temperature": 0.5}}, "sampling must be"),
    ({"sampling": {}}, "sampling must be"),
    ({"seed": "1"}, "option 'seed' must be an integer"),
    ({"seed": 1.5}, "option 'seed' must be an integer"),
    ({"seed": True}, "option 'seed' must be an integer"),
    ({"system_prompt": 42}, "option 'system_prompt' must be a string"),
]


@pytest.mark.parametrize("factory", sorted(FACTORIES))
@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_factories_refuse_values_they_would_reinterpret(
    factory: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FACTORIES[factory](**options)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": math.nan}, "temperature must be a finite number"),
        ({"temperature": math.inf}, "temperature must be a finite number"),
        ({"temperature": "0.5"}, "temperature must be a number"),
        ({"top_p": math.nan}, "top_p must be a finite number"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"max_new_tokens": 10**9}, f"limit of {MAX_NEW_TOKENS:,}"),
        ({"max_new_tokens": 16.0}, "max_new_tokens must be an integer"),
        ({"max_new_tokens": True}, "max_new_tokens must be an integer"),
        ({"stop": ("\n", 3)}, "stop must hold strings"),
        ({"seed": "7"}, "seed must be an integer"),
    ],
)
def test_sampling_params_refuse_nan_inf_and_wrong_types(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(LimitError, match=message):
        SamplingParams(**kwargs)


def test_sampling_stop_list_is_frozen_to_a_tuple() -> None:
    assert SamplingParams(stop=["\n\n"]).stop == ("\n\n",)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (
            ["solve", "x", "--strategy", "majority", "--temperature", "nan"],
            ["option 'temperature' must be a finite number"],
        ),
        (
            ["solve", "x", "--strategy", "majority", "--temperature", "inf"],
            ["option 'temperature' must be a finite number"],
        ),
        (["solve", "x", "--temperature", "0.5"], ["greedy takes no --temperature"]),
        (["solve", "x", "--max-new-tokens", "1000000000"], [f"limit of {MAX_NEW_TOKENS:,}"]),
        (["solve", "x", "--verifier", "nonsense"], ["Unknown verifier 'nonsense'"]),
        (["solve", "x", "--verifier", "Grounded"], ["did you mean 'grounded'"]),
        (["solve", "x", "--verifier", "./no/such/prm"], ["No such verifier directory"]),
        (["solve", "x", "--verifier", "{tmp}/empty"], ["neither verifier.json"]),
        (["eval", "--dataset", "arithmetic", "--temperature", "nan"], ["temperature"]),
        (["eval", "--dataset", "arithmetic", "--top-p", "nan"], ["top_p"]),
        (["eval", "--dataset", "arithmetic", "--verifier", "nonsense"], ["Unknown verifier"]),
        (["eval", "--dataset", "arithmetic", "--concurrency", "100000"], ["limit of 256"]),
        (["eval", "--dataset", "arithmetic", "--limit", "1000000000"], ["limit of 100,000"]),
    ],
)
def test_cli_refuses_bad_values_before_loading_a_model(
    no_model: None,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    needles: list[str],
) -> None:
    (tmp_path / "empty").mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "eval":
        argv += ["--out", str(tmp_path / "new" / "out")]
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2
    one_error_line(err, *needles)
    assert not (tmp_path / "new").exists(), "refused input leaves no --out directory"


def test_verifier_specs_that_name_something_pass_the_form_check(tmp_path: Path) -> None:
    trained = tmp_path / "trained"
    trained.mkdir()
    (trained / "verifier.json").write_text("{}")
    prm = tmp_path / "prm"
    prm.mkdir()
    (prm / "config.json").write_text("{}")
    names = ("auto", "grounded", "arithmetic", "judge", "trained", "RLHFlow/Llama3.1-8B-PRM")
    served = ("http://127.0.0.1:8001", "https://prm.example/v1", "grounded+http://h:8001")
    for spec in (*names, *served, "grounded+trained", f"grounded + {prm}", None):
        check_verifier_spec(spec)
    for path in (trained, prm, trained / "verifier.json"):
        check_verifier_spec(str(path))
    for spec, message in (("grounded+", "empty part"), ("grounded+gronded", "'gronded'")):
        with pytest.raises(ValueError, match=message):
            check_verifier_spec(spec)


# -- 8. clearer messages ---------------------------------------------------------------


def test_dataset_encoding_errors_name_file_and_line_and_a_bom_is_accepted(
    no_model: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(
        b'{"problem": "1 + 1?", "answer": "2"}\n'
        b'{"problem": "caf\xe9 costs 2 + 3?", "answer": "5"}\n'
    )
    rc, _, err = run_cli(capsys, "eval", "--dataset", str(latin), "--out", str(tmp_path / "o"))
    assert rc == 2
    one_error_line(err, "latin.jsonl line 2", "not UTF-8", "0xe9")
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b'\xef\xbb\xbf{"problem": "1 + 1?", "answer": "2"}\n')
    assert load_problems(bom).problems[0].question == "1 + 1?"
    bom_trace = tmp_path / "bom.json"
    trace_file(bom_trace)
    bom_trace.write_bytes(b"\xef\xbb\xbf" + bom_trace.read_bytes())
    assert load_trace(bom_trace)["answer"] == "12"


def test_nan_in_a_trace_usage_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "nan.json"
    trace_file(trace)
    trace.write_text(trace.read_text().replace('"seconds": 0.5', '"seconds": NaN'))
    rc, _, err = run_cli(capsys, "view", str(trace))
    assert rc == 2
    line = one_error_line(err, "usage['seconds']", "finite")
    assert "JSON compliant" not in line


def test_write_errors_name_the_target_not_a_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(OutputWriteError) as info:
        write_atomic("/proc/ttc-graph-x.json", "{}")
    assert "/proc/ttc-graph-x.json" in str(info.value)
    assert ".tmp" not in str(info.value)
    with pytest.raises(OutputPathError) as path_info:
        save_trace(json.loads(trace_file(tmp_path / "t.json").read_text()), "/proc/x.json")
    assert ".tmp" not in str(path_info.value)


# -- 9. long questions: stdin and files ---------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "content", "needles"),
    [
        (["solve", "x", "--file", "{f}"], b"1 + 1?", ["not two"]),
        (["solve", "-", "--file", "{f}"], b"1 + 1?", ["not two"]),
        (["solve", "--file", "{tmp}/missing.txt"], None, ["does not exist"]),
        (["solve", "--file", "{f}"], b"  \n\t", ["is empty"]),
        (["solve", "--file", "{f}"], b"line one\ncaf\xe9", ["not UTF-8", "line 2"]),
        (["solve", "--file", "{f}"], b"x" * (8 * 2**20 + 1), ["over 8 MiB"]),
    ],
)
def test_question_files_are_checked_before_the_model(
    no_model: None,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    content: bytes | None,
    needles: list[str],
) -> None:
    question = tmp_path / "q.txt"
    if content is not None:
        question.write_bytes(content)
    argv = [a.replace("{f}", str(question)).replace("{tmp}", str(tmp_path)) for a in argv]
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2
    one_error_line(err, *needles)


# -- what already held: the viewer escapes injected markup -----------------------------


def test_html_viewer_escapes_injected_scripts(tmp_path: Path) -> None:
    evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    page = html_document(load_trace(trace_file(tmp_path / "t.json", text=evil, question=evil)))
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert page.count("<script") == 2, "only the page's own data and code blocks"
