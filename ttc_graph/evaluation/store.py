"""Durable per-problem results in SQLite, so an evaluation survives crashes.

Each finished unit of work (one strategy on one problem, at one N) is written
and committed at once. WAL mode with ``synchronous=FULL`` means a process killed
at any moment loses only the problem it was working on; the next run with the
same configuration hash skips everything already stored.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_NAME = "results.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS configs (
    config_hash TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    config_hash TEXT NOT NULL,
    strategy TEXT NOT NULL,
    n INTEGER NOT NULL,
    problem_id TEXT NOT NULL,
    record TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (config_hash, strategy, n, problem_id)
);
"""


@dataclass(frozen=True)
class StoredResult:
    """One stored unit: ``strategy`` is the unit's name (``samples`` for shared samples)."""

    strategy: str
    n: int
    problem_id: str
    record: dict[str, Any]


class ResultStore:
    """The results database of one output directory.

    One row per (config hash, strategy, N, problem); the record (candidates,
    answers, usage) is JSON. Safe to open from several processes at once.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed problem is on disk before we move on to the next one.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ValueError(
                f"Cannot use results database {self.path}: {exc}. Pick a writable --out "
                "directory, or delete the file if it is not a ttc-graph results database."
            ) from exc

    def close(self) -> None:
        """Close the connection (every write is already committed)."""
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def register_config(self, config_hash: str, config: dict[str, Any]) -> None:
        """Remember what a hash stands for (first registration wins)."""
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO configs VALUES (?, ?, ?)",
                (config_hash, json.dumps(config, sort_keys=True), time.time()),
            )

    def config(self, config_hash: str) -> dict[str, Any] | None:
        """The configuration stored under ``config_hash``."""
        row = self._db.execute(
            "SELECT config FROM configs WHERE config_hash = ?", (config_hash,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def put(
        self, config_hash: str, strategy: str, n: int, problem_id: str, record: dict[str, Any]
    ) -> None:
        """Store one finished unit and commit it immediately."""
        payload = json.dumps(record, default=str)
        with self._db:
            # A concurrent run may have finished the same unit: identical config, same
            # seeds, so keeping the first copy loses nothing.
            self._db.execute(
                "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?)",
                (config_hash, strategy, n, problem_id, payload, time.time()),
            )

    def done(self, config_hash: str) -> set[tuple[str, int, str]]:
        """Keys ``(strategy, n, problem_id)`` already stored for this configuration."""
        rows = self._db.execute(
            "SELECT strategy, n, problem_id FROM results WHERE config_hash = ?", (config_hash,)
        )
        return {(s, int(n), p) for s, n, p in rows}

    def results(self, config_hash: str) -> Iterator[StoredResult]:
        """Every stored unit of one configuration, oldest first."""
        rows = self._db.execute(
            "SELECT strategy, n, problem_id, record FROM results WHERE config_hash = ? "
            "ORDER BY created",
            (config_hash,),
        )
        for strategy, n, problem_id, record in rows:
            yield StoredResult(strategy, int(n), problem_id, json.loads(record))

    def count(self, config_hash: str | None = None) -> int:
        """Number of stored units (of one configuration, or all)."""
        if config_hash is None:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM results WHERE config_hash = ?", (config_hash,)
            ).fetchone()[0]
        )
