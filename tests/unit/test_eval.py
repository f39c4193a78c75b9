"""Evaluation harness without a model: datasets, grading, intervals, storage, plot, bad input."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ttc_graph.errors import ResultStoreError
from ttc_graph.evaluation import create_evaluation, load_problems
from ttc_graph.evaluation.arithmetic import generate_problems
from ttc_graph.evaluation.grading import grade, grade_completion
from ttc_graph.evaluation.metrics import CurvePoint, outcomes, subset_outcome, wilson_interval
from ttc_graph.evaluation.options import parse_ns, parse_strategies
from ttc_graph.evaluation.plot import plot_curve
from ttc_graph.evaluation.problems import Problem
from ttc_graph.evaluation.store import ResultStore

# -- arithmetic generator ----------------------------------------------------------


def _solve(question: str) -> int:
    """Recompute a generated problem's answer from its text, independently of the generator."""
    total = int(re.match(r"\w+ has (\d+) ", question).group(1))  # type: ignore[union-attr]
    for sentence in question.split(". ")[1:]:
        if m := re.search(r"(?:buys|finds|gives \w+) (\d+) more", sentence):
            total += int(m.group(1))
        elif m := re.search(r"(?:gives|loses|sells) (\d+) ", sentence):
            total -= int(m.group(1))
        elif "twice as many" in sentence:
            total *= 2
        elif "three times as many" in sentence:
            total *= 3
    return total


@pytest.mark.parametrize("difficulty", [1, 2, 3, 5])
def test_arithmetic_answers_are_right_and_steps_match_difficulty(difficulty: int) -> None:
    problems = generate_problems(60, difficulty=difficulty, seed=3)
    for p in problems:
        assert p.difficulty == difficulty
        assert p.answer == _solve(p.question), p.question
        assert p.answer >= 1
        # One sentence to start, one per operation, one question.
        assert len(re.findall(r"[.?](?:\s|$)", p.question)) == difficulty + 2, p.question
    assert len({p.question for p in problems}) > 50, "problems vary"
    if difficulty == 1:
        assert max(p.answer for p in problems) <= 60, "difficulty 1 keeps numbers small"


def test_arithmetic_set_is_seeded_and_prefix_stable() -> None:
    assert generate_problems(10, seed=1) == generate_problems(30, seed=1)[:10]
    assert generate_problems(10, seed=1) != generate_problems(10, seed=2)
    mixed = load_problems("arithmetic", limit=6, difficulty=[1, 2, 3])
    assert [p.level for p in mixed.problems] == ["1", "2", "3", "1", "2", "3"]
    assert len({p.id for p in mixed.problems}) == 6
    assert load_problems("arithmetic").problems[:5] == load_problems("arithmetic", limit=5).problems


# -- datasets ----------------------------------------------------------------------


def test_math500_and_gsm8k_jsonl(shared_data: Path) -> None:
    math = load_problems(shared_data / "math500.jsonl", limit=5)
    assert len(math.problems) == 5
    assert math.has_levels
    first = json.loads((shared_data / "math500.jsonl").read_text().splitlines()[0])
    assert math.problems[0].question == first["problem"].strip()
    assert math.problems[0].answer == first["answer"]
    assert math.problems[0].id == first["unique_id"]
    assert math.problems[0].level == str(first["level"])
    assert math.problems[0].subject == first["subject"]

    gsm = load_problems(shared_data / "gsm8k_train_500.jsonl", limit=3)
    assert gsm.problems[0].answer == "72", "the number after ####"
    assert gsm.problems[0].id == "line-1"
    assert not gsm.has_levels
    assert math.fingerprint != gsm.fingerprint


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_gsm8k_answers_with_thousands_separators(tmp_path: Path) -> None:
    f = _jsonl(tmp_path / "g.jsonl", [{"question": "q?", "answer": "work\n#### 1,250"}])
    (p,) = load_problems(f).problems
    assert p.answer == "1250"
    assert grade("1250", p.answer)
    assert grade("1,250", p.answer)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"problem": "1+1?", "answer": "2"}, {"problem": "2+2?"}], r"line 2: no reference answer"),
        ([{"problem": "1+1?", "answer": "2"}, {"answer": "4"}], r"line 2: no problem text"),
        (["{not json"], r"line 1: not valid JSON"),
        ([[1, 2]], r"line 1: expected a JSON object"),
        ([{"problem": " ", "answer": "2"}], r"line 1: no problem text"),
        ([{"problem": "a", "answer": "1", "unique_id": "x"}] * 2, r"'x' appears twice"),
    ],
)
def test_bad_rows_name_their_line(tmp_path: Path, rows: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_problems(_jsonl(tmp_path / "bad.jsonl", rows))


def test_missing_or_unknown_datasets(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_problems(tmp_path / "nope.jsonl")
    with pytest.raises(ValueError, match="is a directory"):
        load_problems(tmp_path)
    with pytest.raises(ValueError, match="Unknown dataset"):
        load_problems("not a dataset")
    with pytest.raises(ValueError, match="difficulty must be an integer from 1 to 5"):
        load_problems("arithmetic", difficulty=9)
    with pytest.raises(ValueError, match="limit must be an integer >= 1"):
        load_problems("arithmetic", limit=0)


def test_hub_dataset_offline_gives_a_clear_error() -> None:
    # conftest sets HF_HUB_OFFLINE=1: no network, and this id is not in any cache.
    with pytest.raises(ValueError, match=r"needs network access.*JSONL"):
        load_problems("ttc-graph-tests/no-such-dataset")


# -- grading -----------------------------------------------------------------------

# (unique_id, predicted answer, expected grade) on real MATH-500 references.
MATH500_TABLE = [
    ("test/precalculus/807.json", r"(3, \frac{\pi}{2})", True),
    ("test/precalculus/807.json", r"(3,\pi/2)", True),
    ("test/precalculus/807.json", r"(3, \pi)", False),
    ("test/algebra/2584.json", "14/3", True),
    ("test/algebra/2584.json", r"\dfrac{14}{3}", True),
    ("test/algebra/2584.json", "4.6667", False),
    ("test/algebra/1349.json", "Evelyn", True),
    ("test/algebra/1349.json", "Bob", False),
    ("test/precalculus/927.json", "90", True),
    ("test/precalculus/927.json", r"\pi/2", False),
    ("test/algebra/2036.json", r"\sqrt{117}", True),
    ("test/intermediate_algebra/1994.json", "-q+p", True),
    ("test/intermediate_algebra/1994.json", "q-p", False),
    ("test/precalculus/990.json", "6-5i", True),
    ("test/precalculus/990.json", "6+5i", False),
    ("test/algebra/2193.json", "5", True),
    ("test/intermediate_algebra/607.json", "13,535", True),
    ("test/intermediate_algebra/134.json", "50", False),
    ("test/algebra/2584.json", None, False),
]


def test_grading_on_math500_answers(shared_data: Path) -> None:
    problems = {p.id: p for p in load_problems(shared_data / "math500.jsonl").problems}
    got = [(uid, pred, grade(pred, problems[uid].answer)) for uid, pred, _ in MATH500_TABLE]
    assert got == MATH500_TABLE
    ref = problems["test/algebra/2584.json"].answer
    assert grade_completion("So x = 14/3.\n\nThe final answer is $\\boxed{\\frac{14}{3}}$.", ref)
    assert not grade_completion("I am not sure.", ref)


# -- statistics --------------------------------------------------------------------


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = wilson_interval(0, 10)
    assert (low, round(high, 4)) == (0.0, 0.2775)
    low, high = wilson_interval(10, 10)
    assert (round(low, 4), high) == (0.7225, 1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="between 0 and total"):
        wilson_interval(11, 10)


def _cand(answer: str | None, score: float | None, tokens: int = 10) -> dict[str, Any]:
    return {"text": f"... {answer}", "answer": answer, "score": score, "completion_tokens": tokens}


def test_subset_selection_replays_each_selection_on_a_prefix() -> None:
    problem = Problem(id="p", question="q", answer="7")
    record = {
        "candidates": [
            _cand("3", 0.9, 10),
            _cand("7", 0.4, 20),
            _cand("7", 0.45, 30),
            _cand("5", 0.2, 40),
        ],
        "usage": {"policy_calls": 1, "verifier_calls": 1, "seconds": 10.0},
        "wall_seconds": 10.0,
    }
    at = {  # (strategy, n) -> (answer, tokens)
        ("best_of_n", 1): ("3", 10),
        ("best_of_n", 4): ("3", 100),
        ("weighted", 2): ("3", 30),  # 0.9 > 0.4
        ("weighted", 3): ("3", 60),  # 0.9 > 0.4 + 0.45
        ("weighted", 4): ("3", 100),
        ("majority", 2): ("3", 30),  # a tie goes to the earliest answer
        ("majority", 3): ("7", 60),  # two votes for 7: its best-scored candidate wins
    }
    for (strategy, n), (answer, tokens) in at.items():
        o = subset_outcome(record, problem, strategy, n)
        assert (o.answer, o.completion_tokens) == (answer, tokens), (strategy, n)
        assert o.correct == (answer == "7")
        assert o.verifier_calls == (0 if strategy == "majority" else 1)
        assert o.seconds == pytest.approx(10.0 * tokens / 100)
        assert o.seconds_estimated == (n < 4)
    with pytest.raises(ValueError, match="fewer than N=5"):
        subset_outcome(record, problem, "majority", 5)


def test_subset_replay_counts_only_the_first_n_candidates_votes() -> None:
    # Candidate 3's work supports 7 (a cut-off text whose own answer is 5). At N = 4 that
    # vote lifts 7 to 0.4 + 0.45 + 0.1 = 0.95, over 3's 0.9 + 0.02; without it 0.85 loses.
    problem = Problem(id="p", question="q", answer="7")
    record = {
        "candidates": [
            {**_cand("3", 0.9, 10), "support": {"3": 0.02}},
            _cand("7", 0.4, 20),
            {**_cand("5", 0.2, 30), "support": {"7": 0.1}},
            _cand("7", 0.45, 40),
        ],
        "usage": {"policy_calls": 1, "verifier_calls": 1, "seconds": 10.0},
        "wall_seconds": 10.0,
    }
    got = {n: subset_outcome(record, problem, "weighted", n).answer for n in (1, 2, 3, 4)}
    assert got == {1: "3", 2: "3", 3: "3", 4: "7"}
    without = {**record, "candidates": [{k: v for k, v in c.items() if k != "support"}
                                        for c in record["candidates"]]}  # fmt: skip
    assert subset_outcome(without, problem, "weighted", 4).answer == "3"  # 0.9 > 0.85


def test_coverage_counts_a_problem_once_any_candidate_is_right() -> None:
    problem = Problem(id="p", question="q", answer="7")
    record = {
        "candidates": [_cand(None, 0.9), _cand("3", 0.9), _cand("7.0", 0.1), _cand("5", 0.2)],
        "usage": {"policy_calls": 1, "verifier_calls": 1, "seconds": 4.0},
    }
    got = [subset_outcome(record, problem, "coverage", n) for n in (1, 2, 3, 4)]
    assert [o.correct for o in got] == [False, False, True, True]
    assert [o.answer for o in got] == [None, None, "7.0", "7.0"]
    assert [o.completion_tokens for o in got] == [10, 20, 30, 40]
    assert all(o.verifier_calls == 0 for o in got), "pass@N needs no verifier"
    # The ceiling: no selection from the same candidates is right where coverage is not.
    for strategy in ("best_of_n", "weighted", "majority"):
        for n in (1, 2, 3, 4):
            assert subset_outcome(record, problem, strategy, n).correct <= got[n - 1].correct


# -- storage -----------------------------------------------------------------------


def test_store_commits_each_row_and_survives_reopening(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    store = ResultStore(db)
    store.register_config("h1", {"seed": 1})
    store.put("h1", "greedy", 1, "p1", {"answer": "4"})
    # Another connection (another process, in real life) sees it before we close.
    other = sqlite3.connect(db)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1
    other.close()
    store.put("h1", "greedy", 1, "p1", {"answer": "changed"})  # duplicate: first copy kept
    store.put("h2", "greedy", 1, "p1", {"answer": "5"})
    store.close()
    reopened = ResultStore(db)
    assert reopened.done("h1") == {("greedy", 1, "p1")}
    assert [r.record for r in reopened.results("h1")] == [{"answer": "4"}]
    assert [r.record for r in reopened.results("h2")] == [{"answer": "5"}]
    assert reopened.config("h1") == {"seed": 1}
    assert reopened.config("zzz") is None
    reopened.close()


def test_the_run_log_reads_back_and_names_a_damaged_row(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    store = ResultStore(db)
    store.record_run("h1", {"commit": "abc"}, 3)
    store.record_run("h2", {"commit": "def"}, 1)
    assert store.runs("h1") == [{"units": 3, "provenance": {"commit": "abc"}}]
    with sqlite3.connect(db) as other:
        other.execute("UPDATE runs SET provenance = '{not json' WHERE config_hash = 'h2'")
    with pytest.raises(ResultStoreError, match="logged run of config h2 is damaged"):
        store.runs("h2")
    store.close()
    # A database made before the run log gets the table when it is opened.
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as made:
        made.execute("CREATE TABLE configs (config_hash TEXT, config TEXT, created REAL)")
        made.execute(
            "CREATE TABLE results (config_hash TEXT, strategy TEXT, n INTEGER, "
            "problem_id TEXT, record TEXT, created REAL)"
        )
    reopened = ResultStore(old)
    assert reopened.runs("h1") == []
    reopened.close()


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "results.sqlite"
    bad.write_text("this is not sqlite" * 100)
    with pytest.raises(ValueError, match="Cannot use results database"):
        ResultStore(bad)


def test_config_hash_separates_changed_configs(tmp_path: Path) -> None:
    base = {"dataset": "arithmetic", "strategies": "greedy,majority", "ns": "1,2", "limit": 3}
    ev = create_evaluation(**base, out=tmp_path)
    same = create_evaluation(**base, out=tmp_path)
    assert ev.config_hash == same.config_hash
    changed = [
        create_evaluation(**base, out=tmp_path, seed=1),
        create_evaluation(**base, out=tmp_path, model="some/other-model"),
        create_evaluation(**{**base, "ns": "1,2,4"}, out=tmp_path),
        create_evaluation(**base, out=tmp_path, max_new_tokens=64),
        create_evaluation(**base, out=tmp_path, temperature=0.7),
        create_evaluation(**base, out=tmp_path, difficulty=2),
        create_evaluation(**{**base, "strategies": "greedy,weighted"}, out=tmp_path),
    ]
    hashes = {ev.config_hash, *(c.config_hash for c in changed)}
    assert len(hashes) == len(changed) + 1
    # A stored unit counts for its own configuration only.
    (unit, *_) = ev.units()
    ev.store.put(ev.config_hash, unit.name, unit.n, unit.problem.id, {"answer": None})
    assert len(same.pending()) == len(same.units()) - 1
    assert all(len(c.pending()) == len(c.units()) for c in changed)
    # The verifier only matters where a strategy uses it.
    assert create_evaluation(**base, out=tmp_path, verifier="judge").config_hash == ev.config_hash
    for e in (ev, same, *changed):
        e.close()


def test_units_share_one_sample_and_run_search_per_n(tmp_path: Path) -> None:
    ev = create_evaluation(
        dataset="arithmetic",
        strategies="greedy,majority,weighted,best_of_n,beam_search",
        ns="1,2,4",
        limit=2,
        out=tmp_path,
    )
    kinds = sorted({(u.name, u.n) for u in ev.units()})
    assert kinds == [
        ("beam_search", 1),
        ("beam_search", 2),
        ("beam_search", 4),
        ("greedy", 1),
        ("samples", 4),
    ]
    assert len(ev.units()) == 2 * len(kinds)
    ev.close()
    alone = create_evaluation(
        dataset="arithmetic", strategies="coverage", ns="1,4", limit=1, out=tmp_path / "c"
    )
    assert [(u.name, u.n) for u in alone.units()] == [("samples", 4)]
    assert not alone.uses_verifier
    alone.close()


def test_schedule_groups_alike_units_of_concurrent_problems(tmp_path: Path) -> None:
    from ttc_graph.evaluation.units import schedule

    ev = create_evaluation(
        dataset="arithmetic", strategies="greedy,majority", ns="1,2", limit=3, out=tmp_path
    )
    units = ev.units()
    serial = [(u.name, u.problem.id[-1]) for u in schedule(units, 1)]
    assert serial == [(u.name, u.problem.id[-1]) for u in units]
    assert serial == [
        ("samples", "0"), ("greedy", "0"), ("samples", "1"), ("greedy", "1"),
        ("samples", "2"), ("greedy", "2"),
    ]  # fmt: skip
    assert [(u.name, u.problem.id[-1]) for u in schedule(units, 2)] == [
        ("samples", "0"), ("samples", "1"), ("greedy", "0"), ("greedy", "1"),
        ("samples", "2"), ("greedy", "2"),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="concurrency must be an integer >= 1"):
        ev.run(concurrency=0)
    ev.close()


# -- validation before any model ------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategies": "greedy,best_of_m"}, "Unknown strategy 'best_of_m'"),
        ({"strategies": ""}, "at least one strategy"),
        ({"strategies": "majority,majority"}, "listed twice"),
        ({"ns": "1,4,2"}, "strictly increasing"),
        ({"ns": "1,1,2"}, "strictly increasing"),
        ({"ns": "0,1"}, ">= 1"),
        ({"ns": "1,two"}, "comma-separated integers"),
        (
            {"strategies": "beam_search", "ns": "4,6", "beam_width": 4},
            r"n \(6\) must be a multiple of beam_width.*at N=6",
        ),
        ({"strategies": "weighted", "verifier": None}, "need a verifier"),
        ({"max_new_tokens": 0}, "option 'max_new_tokens' must be >= 1"),
        ({"limit": -1}, "limit must be an integer >= 1"),
    ],
)
def test_bad_settings_are_rejected(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"dataset": "arithmetic", "strategies": "greedy", "ns": "1,2"}
    with pytest.raises(ValueError, match=message):
        create_evaluation(**{**args, **kwargs}, out=tmp_path)


def test_parsers_accept_lists_and_strings() -> None:
    assert parse_ns("1, 2,4") == parse_ns([1, 2, 4]) == (1, 2, 4)
    assert parse_strategies(" greedy , majority") == ("greedy", "majority")


def test_unwritable_out_dir(tmp_path: Path) -> None:
    # /proc refuses new directories even to root; a read-only directory only to others.
    targets = [Path("/proc/ttc-graph-eval-out")]
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() != 0:
        targets.append(locked / "sub")
    try:
        for target in targets:
            with pytest.raises(ValueError, match="Cannot write to output directory"):
                create_evaluation(dataset="arithmetic", strategies="greedy", out=target)
    finally:
        locked.chmod(0o700)
    file_out = tmp_path / "file"
    file_out.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        create_evaluation(dataset="arithmetic", strategies="greedy", out=file_out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "{tmp}/missing.jsonl"], "does not exist"),
        (["--dataset", "{tmp}/bad.jsonl"], "bad.jsonl line 2: no reference answer"),
        (["--dataset", "arithmetic", "--strategies", "greedy,magic"], "Unknown strategy 'magic'"),
        (["--dataset", "arithmetic", "--n", "4,2"], "strictly increasing"),
        (["--dataset", "arithmetic", "--strategies", "adaptive"], "--budget-tokens-per-problem"),
        (
            [
                "--dataset",
                "arithmetic",
                "--strategies",
                "adaptive",
                "--budget-tokens-per-problem",
                "0",
            ],
            "integer >= 1",
        ),
        (["--dataset", "arithmetic", "--out", "{tmp}/file.txt"], "is a file"),
    ],
)
def test_cli_rejects_bad_input_before_loading_a_model(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    import ttc_graph.policy as policy_module
    from ttc_graph.cli import main

    def no_model(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(policy_module, "load_policy", no_model)
    _jsonl(tmp_path / "bad.jsonl", [{"problem": "1+1?", "answer": "2"}, {"problem": "x"}])
    (tmp_path / "file.txt").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    assert main(["eval", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


# -- plot --------------------------------------------------------------------------


def _point(strategy: str, n: int, acc: float, level: str = "all") -> CurvePoint:
    correct = round(acc * 20)
    low, high = wilson_interval(correct, 20)
    return CurvePoint(
        strategy, n, level, 20, correct, correct / 20, low, high, 50.0 * n, 1, 1, 2.0, False
    )


def test_plot_has_one_line_per_strategy_and_a_dashed_greedy_baseline(tmp_path: Path) -> None:
    from PIL import Image

    points = [
        _point("greedy", 1, 0.30),
        *(_point("majority", n, a) for n, a in [(1, 0.25), (2, 0.30), (4, 0.40), (8, 0.50)]),
        *(_point("weighted", n, a) for n, a in [(1, 0.25), (2, 0.35), (4, 0.45), (8, 0.55)]),
        _point("majority", 8, 0.9, level="2"),  # per-level points are not drawn
        *(_point("coverage", n, a) for n, a in [(1, 0.25), (2, 0.45), (4, 0.6), (8, 0.7)]),
    ]
    path = tmp_path / "acc.png"
    fig = plot_curve(points, path=path, title="test")
    ax = fig.axes[0]
    lines = {line.get_gid(): line for line in ax.get_lines()}
    assert set(lines) == {"greedy", "majority", "weighted", "coverage"}
    assert lines["coverage"].get_linestyle() == ":"
    assert list(lines["majority"].get_xdata()) == [1, 2, 4, 8]
    assert list(lines["weighted"].get_ydata()) == pytest.approx([25, 35, 45, 55])
    assert lines["greedy"].get_linestyle() == "--"
    assert list(lines["greedy"].get_ydata()) == [30, 30]
    assert lines["majority"].get_linestyle() == "-"
    assert ax.get_xscale() == "log"
    assert ax.xaxis.get_transform().base == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4", "8"]
    assert {t.get_text().split(" ")[0] for t in ax.get_legend().get_texts()} == set(lines)
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert (img.format, img.size) == ("PNG", (840, 540))
    with pytest.raises(ValueError, match="Nothing to plot"):
        plot_curve([], path=tmp_path / "empty.png")


def test_outcomes_follow_dataset_order_and_skip_unfinished() -> None:
    from ttc_graph.evaluation.store import StoredResult

    problems = [
        Problem(id=f"p{i}", question="q", answer=str(i), level=str(i % 2)) for i in range(3)
    ]
    usage = {"completion_tokens": 5, "policy_calls": 1, "verifier_calls": 0, "seconds": 1.0}
    results = [
        StoredResult("greedy", 1, "p2", {"answer": "2", "usage": usage}),
        StoredResult("greedy", 1, "p0", {"answer": "9", "usage": usage}),
        StoredResult("greedy", 1, "unknown", {"answer": "9", "usage": usage}),
    ]
    by_unit = outcomes(results, problems, ("greedy",), (1, 2))
    assert [(o.problem_id, o.correct) for o in by_unit[("greedy", 1)]] == [
        ("p0", False),
        ("p2", True),
    ]
