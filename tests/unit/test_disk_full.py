"""A full disk is not bad input: the error names the file asked for, exits 1 (a failure,
not a usage error) and says what to do; it never advises a backup of a database it just
made. The full disk is simulated by an OSError(ENOSPC) where the write happens."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ttc_graph.cli import main
from ttc_graph.errors import OutputWriteError
from ttc_graph.evaluation.store import ResultStore
from ttc_graph.training import export, writing


def full(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_under_the_results_database_names_it(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results.sqlite")
    store.close()

    class FullDisk:
        """A connection on a disk with no room left (as SQLite reports it)."""

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def execute(self, *args: Any) -> None:
            raise sqlite3.OperationalError("database or disk is full")

    reopened = ResultStore(tmp_path / "results.sqlite")
    reopened._db = FullDisk()  # type: ignore[assignment]
    with pytest.raises(OutputWriteError) as info:
        reopened.put("cfg", "samples", 4, "p1", {"answer": "1"})
    message = str(info.value)
    assert str(tmp_path / "results.sqlite") in message
    assert "no space left on the device" in message
    assert "finished problem is kept" in message
    assert "backup" not in message
    assert not isinstance(info.value, ValueError), "not bad input"


def test_a_full_disk_writing_a_verifier_names_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writing, "write_head", full)
    out = tmp_path / "verifier"
    with pytest.raises(OutputWriteError, match=str(out)) as info:
        writing.write_atomically(out, card=None, head=None)  # type: ignore[arg-type]
    assert "samples are kept" in str(info.value)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [], "no temporary directory is left behind"


def test_a_full_disk_writing_the_trl_export_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export.os, "replace", full)
    target = tmp_path / "trl.jsonl"
    rows = [export.LabelledCandidate("What is 2 + 3?", ["2 + 3 = 5"], [1])]
    with pytest.raises(OutputWriteError, match=str(target)):
        export.write_trl_jsonl(target, rows)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_exits_1_not_2_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ttc_graph.evaluation import store

    def put_on_a_full_disk(self: Any, *args: Any) -> None:
        with self._errors("store a result"):
            raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store.ResultStore, "put", put_on_a_full_disk)
    monkeypatch.setattr(store.ResultStore, "done", lambda self, config: set())
    from scripted import ScriptedPolicy

    monkeypatch.setattr("ttc_graph.policy.load_policy", lambda *a, **k: ScriptedPolicy())
    out = tmp_path / "eval"
    code = main(
        ["eval", "--dataset", "arithmetic", "--strategies", "majority", "--n", "2",
         "--limit", "1", "--out", str(out), "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"Could not write {out / 'results.sqlite'}: no space left on the device" in err
