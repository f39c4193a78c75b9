"""What made a raw result: command, commit, machine, load and date, in one JSON-ready dict.

Every raw result file (``ttc-graph eval``'s ``curve.json``, the benchmark scripts'
JSON) carries a ``provenance`` entry so that a figure in the docs can be traced
to the code and the conditions that produced it::

    record = begin()            # before the work: command, commit, machine, load
    ...                         # the measurement
    payload["provenance"] = finish(record)  # after: load again, finish time

Only the standard library is imported (a benchmark's cold-start figures must not
pay for this), and nothing here raises: a field that cannot be read (no git, no
``/proc/cpuinfo``) is ``None`` rather than a guess.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The checkout this module belongs to: the commit of the code that made the result.
_REPO = Path(__file__).resolve().parents[2]
# Variables that change what a measurement means (threads, devices, the package's knobs).
_ENVIRONMENT = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES")
_ENVIRONMENT_PREFIX = "TTC_GRAPH_"


def begin(command: str | None = None) -> dict[str, Any]:
    """The provenance known before a measurement starts.

    ``command`` defaults to this process's command line as typed (``python
    benchmarks/run.py --quick``, ``ttc-graph eval ...``). The record holds
    ``command``, ``environment`` (thread and device variables that were set),
    ``commit`` and ``dirty`` (tracked files changed; ``None`` outside a git
    checkout), ``machine`` (CPU model, cores, platform, Python), ``load_before``
    (1-, 5- and 15-minute load averages) and ``started`` (UTC, ISO 8601).
    """
    commit, dirty = _git_state()
    return {
        "command": command if command is not None else command_line(),
        "environment": {
            k: v
            for k, v in sorted(os.environ.items())
            if k in _ENVIRONMENT or k.startswith(_ENVIRONMENT_PREFIX)
        },
        "commit": commit,
        "dirty": dirty,
        "machine": machine(),
        "load_before": load_average(),
        "started": _now(),
    }


def finish(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` (from :func:`begin`) with ``load_after`` and ``finished`` added."""
    return {**record, "load_after": load_average(), "finished": _now()}


def command_line(argv: list[str] | None = None) -> str:
    """The command as a person would retype it: a script run by Python is shown as
    ``python <script as given>``, an installed command by its name alone."""
    args = list(sys.argv if argv is None else argv)
    if not args or not args[0]:
        return ""
    head = args[0]
    if head == "-c":  # python -c: the code itself is not kept in sys.argv
        return shlex.join(["python", "-c", "...", *args[1:]])
    shown = ["python", head] if head.endswith(".py") else [Path(head).name]
    return shlex.join(shown + args[1:])


def machine() -> dict[str, Any]:
    """CPU model, logical cores (all, and those this process may use), platform, Python."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def cpu_model() -> str | None:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux), else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip() or None
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, or ``None`` where the OS has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _git_state() -> tuple[str | None, bool | None]:
    """(HEAD's full hash, whether tracked files differ from it) of this checkout."""
    # An installed copy may sit inside someone else's repository (a venv in a checkout):
    # only a checkout whose top level is this package's own counts.
    top = _git("rev-parse", "--show-toplevel")
    commit = _git("rev-parse", "HEAD")
    if top is None or commit is None or Path(top).resolve() != _REPO:
        return None, None
    # Untracked files (runs/, caches) do not change the code that ran; tracked ones do.
    status = _git("status", "--porcelain", "--untracked-files=no")
    return commit, None if status is None else bool(status)


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(_REPO), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
