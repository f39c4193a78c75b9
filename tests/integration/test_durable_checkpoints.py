"""Durable checkpoints: a search SIGKILLed in one process resumes in another.

``durable_worker.py`` runs a 3-step beam search with a ``SqliteSaver`` on a file.
The first process holds inside its second policy call (the ``expand`` of
iteration 1) and the test SIGKILLs it once the checkpoint saved after iteration
0's ``prune`` is on disk. A second process resumes the thread with
``invoke(None, config)``; it must not generate iteration 0 again and must give
the result of an uninterrupted run with the same seed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

WORKER = Path(__file__).resolve().parents[1] / "durable_worker.py"
REPO_ROOT = WORKER.parents[1]
THREAD = "durable-1"

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    # The worker must import this checkout's ttc_graph, whichever is installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    env["HF_HUB_OFFLINE"] = "1"
    return env


def saved_iteration(db: Path) -> tuple[int | None, list[str]]:
    """The latest checkpoint's iteration and the nodes it is waiting to run."""
    if not db.exists():
        return None, []
    with closing(sqlite3.connect(db)) as conn:
        try:
            latest = SqliteSaver(conn).get_tuple({"configurable": {"thread_id": THREAD}})
        except sqlite3.OperationalError:  # tables not created yet, or a write in progress
            return None, []
    if latest is None:
        return None, []
    values = latest.checkpoint["channel_values"]
    waiting = [k.removeprefix("branch:to:") for k in values if k.startswith("branch:to:")]
    return values.get("iteration"), waiting


def test_a_killed_search_resumes_in_a_new_process(tmp_path: Path) -> None:
    db, status = tmp_path / "checkpoints.sqlite", tmp_path / "status.log"
    common = ["--db", str(db), "--thread", THREAD, "--status", str(status)]
    log_path = tmp_path / "start.log"
    with log_path.open("w") as log:
        first = subprocess.Popen(
            [sys.executable, str(WORKER), "start", *common, "--hold-on-call", "2"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=worker_env(),
        )
        try:
            deadline = time.monotonic() + 300
            state: tuple[int | None, list[str]] = (None, [])
            while time.monotonic() < deadline and first.poll() is None:
                holding = status.exists() and "holding" in status.read_text()
                state = saved_iteration(db)
                # Iteration 0 is done (generated, scored, pruned) and saved, and the
                # process sits in iteration 1's generation.
                if holding and state == (1, ["expand"]):
                    break
                time.sleep(0.2)
            assert first.poll() is None, "the search ended early: " + log_path.read_text()[-2000:]
            assert state == (1, ["expand"]), f"no checkpoint after iteration 0: {state}"
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=30) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(timeout=30)
    assert status.read_text().split() == ["call", "1", "call", "2", "holding"]

    out = tmp_path / "resumed.json"
    second = subprocess.run(
        [sys.executable, str(WORKER), "resume", *common, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=worker_env(),
        check=False,
    )
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.read_text())

    # The new process found the search where the killed one left it ...
    assert report["before"]["next"] == ["expand"]
    assert report["before"]["iteration"] == 1
    assert report["before"]["policy_calls"] == 1, "iteration 0's generation was saved"
    # ... and generated only what was not finished: one call fewer than a full run.
    assert report["straight_calls"] >= 2, "the search must run past the killed iteration"
    assert report["resume_calls"] == report["straight_calls"] - 1, "iteration 0 was redone"
    assert report["resumed"] == report["straight"]
