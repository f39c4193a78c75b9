"""Durable per-problem results in SQLite, so an evaluation survives crashes.

Each finished unit of work (one strategy on one problem, at one N) is written
and committed at once; a unit that failed is recorded with its reason (and tried
again on the next run). WAL mode with ``synchronous=FULL`` means a process killed
at any moment loses only the problem it was working on; the next run with the
same configuration hash skips everything already stored.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttc_graph.errors import ResultStoreError
from ttc_graph.outputs import write_failure

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
CREATE TABLE IF NOT EXISTS failures (
    config_hash TEXT NOT NULL,
    strategy TEXT NOT NULL,
    n INTEGER NOT NULL,
    problem_id TEXT NOT NULL,
    error TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (config_hash, strategy, n, problem_id)
);
CREATE TABLE IF NOT EXISTS runs (
    config_hash TEXT NOT NULL,
    provenance TEXT NOT NULL,
    units INTEGER NOT NULL,
    created REAL NOT NULL
);
"""
_SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class StoredResult:
    """One stored unit: ``strategy`` is the unit's name (``samples`` for shared samples)."""

    strategy: str
    n: int
    problem_id: str
    record: dict[str, Any]


@dataclass(frozen=True)
class FailedUnit:
    """A unit whose last attempt failed: what it was and why (one line)."""

    strategy: str
    n: int
    problem_id: str
    error: str


class ResultStore:
    """The results database of one output directory.

    One row per (config hash, strategy, N, problem); the record (candidates,
    answers, usage) is JSON. Safe to open from several processes at once.

    An existing file is checked before use: an empty (0-byte) file, one that is
    not SQLite, or a SQLite database of something else is refused with
    :class:`~ttc_graph.errors.ResultStoreError` and left untouched, never started
    over. A new database is built beside the target and linked into place, so
    ttc-graph itself never leaves an empty or half-made ``results.sqlite``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self._errors("open"):
            if self.path.exists():
                self._check_existing()
            else:
                self._create()
            self._db = sqlite3.connect(self.path, timeout=30.0)
            try:
                # Read-only checks first: a database of something else must not even be
                # switched to WAL mode (that rewrites its header).
                self._check_schema()
                self._db.execute("PRAGMA journal_mode=WAL")
                # FULL: a committed problem is on disk before we move on to the next one.
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
            except BaseException:
                self._db.close()
                raise

    # -- opening -------------------------------------------------------------

    def _check_existing(self) -> None:
        if not self.path.is_file():
            raise ResultStoreError(
                f"Cannot use results database {self.path}: it is not a regular file."
            )
        size = self.path.stat().st_size
        if size == 0:
            raise ResultStoreError(
                f"Cannot use results database {self.path}: the file is empty (0 bytes). "
                "ttc-graph never leaves an empty database, so it was damaged (a full disk, a "
                "copy cut short?) and its results are gone. Nothing was run. Restore it from "
                "a backup, or delete it to start this evaluation over."
            )
        with self.path.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
        if header != _SQLITE_HEADER:
            raise ResultStoreError(
                f"Cannot use results database {self.path}: it is not a SQLite database "
                f"(the file starts with {header[:16]!r}). It is left untouched; move it away "
                "or pick another --out directory."
            )

    def _create(self) -> None:
        """Build an empty database beside the target, then link it into place."""
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise ResultStoreError(
                f"Cannot use results database {self.path}: the file is missing but its "
                f"write-ahead log {wal.name} is there, so results were stored and the "
                "database file was removed. Restore it, or delete the -wal and -shm files "
                "to start over."
            )
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp)
        try:
            db.executescript(_SCHEMA)
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()
        try:
            # link, not replace: a database another process created meanwhile wins.
            os.link(tmp, self.path)
        except FileExistsError:
            pass
        except OSError:
            # No hard links on this filesystem (some network and FUSE mounts): rename.
            if not self.path.exists():
                os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
            for suffix in ("-wal", "-shm"):
                tmp.with_name(tmp.name + suffix).unlink(missing_ok=True)

    def _check_schema(self) -> None:
        tables = {
            name
            for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables and not {"configs", "results"} <= tables:
            raise ResultStoreError(
                f"Cannot use results database {self.path}: it is a SQLite database of "
                f"something else (tables: {', '.join(sorted(tables))}). It is left untouched; "
                "pick another --out directory."
            )

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn SQLite's errors into a clear :class:`ResultStoreError` naming the file."""
        try:
            yield
        except ResultStoreError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise self._error(action, exc) from exc

    def _error(self, action: str, exc: sqlite3.Error | OSError) -> Exception:
        where = f"Cannot use results database {self.path} ({action})"
        if _disk_full(exc):
            # Not bad input (not a ResultStoreError): the database and every finished
            # problem in it are intact, and a rerun resumes there.
            return write_failure(
                self.path,
                OSError(errno.ENOSPC, "No space left on device"),
                kept=" (every finished problem is kept in it; the rerun resumes there)",
            )
        if isinstance(exc, sqlite3.DatabaseError):
            return ResultStoreError(
                f"{where}: {exc}. The file is left untouched: if it is damaged, restore it "
                "from a backup or move it away to start over; if it is locked, wait for the "
                "other run to finish."
            )
        reason = exc.strerror or exc if isinstance(exc, OSError) else exc
        return ResultStoreError(f"{where}: {reason}. Pick a writable --out directory.")

    def close(self) -> None:
        """Close the connection (every write is already committed)."""
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------

    def register_config(self, config_hash: str, config: dict[str, Any]) -> None:
        """Remember what a hash stands for (first registration wins)."""
        with self._errors("register config"), self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO configs VALUES (?, ?, ?)",
                (config_hash, json.dumps(config, sort_keys=True), time.time()),
            )

    def put(
        self, config_hash: str, strategy: str, n: int, problem_id: str, record: dict[str, Any]
    ) -> None:
        """Store one finished unit and commit it immediately (clearing a recorded failure)."""
        payload = json.dumps(record, default=str)
        with self._errors("store a result"), self._db:
            # A concurrent run may have finished the same unit: identical config, same
            # seeds, so keeping the first copy loses nothing.
            self._db.execute(
                "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?)",
                (config_hash, strategy, n, problem_id, payload, time.time()),
            )
            self._db.execute(
                "DELETE FROM failures WHERE config_hash = ? AND strategy = ? AND n = ? "
                "AND problem_id = ?",
                (config_hash, strategy, n, problem_id),
            )

    def put_failure(
        self, config_hash: str, strategy: str, n: int, problem_id: str, error: str
    ) -> None:
        """Record why a unit failed (the latest reason wins); a rerun tries it again."""
        with self._errors("record a failure"), self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?, ?)",
                (config_hash, strategy, n, problem_id, error, time.time()),
            )

    def record_run(self, config_hash: str, provenance: dict[str, Any], units: int) -> None:
        """Log one call that stored ``units`` units: what made them (a resumed evaluation
        is the work of several calls, on other commits or machines)."""
        with self._errors("log a run"), self._db:
            self._db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?)",
                (config_hash, json.dumps(provenance, default=str), units, time.time()),
            )

    # -- reading ---------------------------------------------------------------

    def config(self, config_hash: str) -> dict[str, Any] | None:
        """The configuration stored under ``config_hash``."""
        with self._errors("read a config"):
            row = self._db.execute(
                "SELECT config FROM configs WHERE config_hash = ?", (config_hash,)
            ).fetchone()
        if row is None:
            return None
        try:
            return dict(json.loads(row[0]))
        except (ValueError, TypeError) as exc:
            raise ResultStoreError(
                f"Results database {self.path}: the stored configuration {config_hash} is "
                f"damaged ({exc}). Move the database away to start over."
            ) from exc

    def configs(self) -> list[str]:
        """Hashes of every configuration stored, oldest first."""
        with self._errors("list configs"):
            rows = self._db.execute("SELECT config_hash FROM configs ORDER BY created")
            return [h for (h,) in rows]

    def done(self, config_hash: str) -> set[tuple[str, int, str]]:
        """Keys ``(strategy, n, problem_id)`` already stored for this configuration."""
        with self._errors("read results"):
            rows = self._db.execute(
                "SELECT strategy, n, problem_id FROM results WHERE config_hash = ?",
                (config_hash,),
            )
            return {(s, int(n), p) for s, n, p in rows}

    def damaged(self, config_hash: str) -> list[tuple[str, int, str]]:
        """Keys of stored records of this configuration that are not valid JSON."""
        with self._errors("check results"):
            # SQLite's json_valid is fast but stricter than Python's json, which also
            # wrote (and reads) NaN; only rows Python cannot read either are damaged.
            rows = self._db.execute(
                "SELECT strategy, n, problem_id, record FROM results WHERE config_hash = ? "
                "AND NOT json_valid(record)",
                (config_hash,),
            ).fetchall()
        bad = []
        for s, n, p, record in rows:
            try:
                json.loads(record)
            except (ValueError, TypeError):
                bad.append((s, int(n), p))
        return bad

    def check_records(self, config_hash: str) -> None:
        """Refuse a configuration with damaged records, naming them and how to fix it.

        Run before any work starts, so a damaged record never costs a model load and
        is never silently skipped or redone.
        """
        bad = self.damaged(config_hash)
        if not bad:
            return
        shown = "; ".join(f"{s} N={n} problem {p!r}" for s, n, p in bad[:3])
        raise ResultStoreError(
            f"Results database {self.path}: {len(bad)} stored record(s) of config "
            f"{config_hash} are damaged (not valid JSON): {shown}"
            + (" and more" if len(bad) > 3 else "")
            + ". Nothing was run. Delete those rows of the results table to have them run "
            "again, or restore the database from a backup."
        )

    def results(self, config_hash: str) -> Iterator[StoredResult]:
        """Every stored unit of one configuration, oldest first."""
        with self._errors("read results"):
            cursor = self._db.execute(
                "SELECT strategy, n, problem_id, record FROM results WHERE config_hash = ? "
                "ORDER BY created",
                (config_hash,),
            )
        while True:
            # Fetched in batches, never all at once: a large store's records stay on disk
            # until they are needed.
            with self._errors("read results"):
                rows = cursor.fetchmany(256)
            if not rows:
                return
            yield from self._parsed(rows)

    def _parsed(self, rows: list[Any]) -> Iterator[StoredResult]:
        for strategy, n, problem_id, record in rows:
            try:
                parsed = json.loads(record)
            except ValueError as exc:
                raise ResultStoreError(
                    f"Results database {self.path}: the record of {strategy} N={n} on problem "
                    f"{problem_id!r} is damaged (not valid JSON: {exc}). Delete that row to "
                    "have it run again."
                ) from exc
            yield StoredResult(strategy, int(n), problem_id, parsed)

    def failures(self, config_hash: str) -> list[FailedUnit]:
        """Units of this configuration whose last attempt failed, with the reason."""
        with self._errors("read failures"):
            rows = self._db.execute(
                "SELECT strategy, n, problem_id, error FROM failures WHERE config_hash = ? "
                "ORDER BY created",
                (config_hash,),
            ).fetchall()
        return [FailedUnit(s, int(n), p, e) for s, n, p, e in rows]

    def runs(self, config_hash: str) -> list[dict[str, Any]]:
        """The logged calls that stored units of this configuration, oldest first:
        ``{"units": k, "provenance": {...}}`` each (see :meth:`record_run`)."""
        with self._errors("read the run log"):
            rows = self._db.execute(
                "SELECT provenance, units FROM runs WHERE config_hash = ? ORDER BY created",
                (config_hash,),
            ).fetchall()
        logged = []
        for text, units in rows:
            try:
                logged.append({"units": int(units), "provenance": json.loads(text)})
            except ValueError as exc:
                raise ResultStoreError(
                    f"Results database {self.path}: a logged run of config {config_hash} is "
                    f"damaged (not valid JSON: {exc}). Delete that row of the runs table."
                ) from exc
        return logged

    def count(self, config_hash: str | None = None) -> int:
        """Number of stored units (of one configuration, or all)."""
        with self._errors("count results"):
            if config_hash is None:
                return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM results WHERE config_hash = ?", (config_hash,)
                ).fetchone()[0]
            )


def _disk_full(exc: BaseException) -> bool:
    """A full disk, as the OS or SQLite says it ("database or disk is full")."""
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)
