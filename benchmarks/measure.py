"""Timing helpers for the benchmarks: model-time clock, medians, machine description."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]


class ModelClock:
    """Wall time spent inside the model's forward passes.

    Everything else in a run (Python, graph, sampling processors, stop-string
    checks, the verifier) is what an orchestration layer adds or removes.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._start = 0.0
        self._handles = [
            model.register_forward_pre_hook(self._enter),
            model.register_forward_hook(self._exit),
        ]

    def _enter(self, *_: Any) -> None:
        self._start = time.perf_counter()

    def _exit(self, *_: Any) -> None:
        self.seconds += time.perf_counter() - self._start
        self.calls += 1

    def close(self) -> None:
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()


@contextmanager
def model_clock(model: torch.nn.Module) -> Iterator[ModelClock]:
    """Count forward-pass time of ``model`` inside the block."""
    clock = ModelClock(model)
    try:
        yield clock
    finally:
        clock.close()


@dataclass
class Timing:
    """Wall seconds, and CPU seconds of this process (all its threads).

    On a shared machine wall time also measures the neighbours; CPU time mostly
    measures our own work, so both are reported.
    """

    wall: float
    cpu: float


def timed(fn: Callable[[], T]) -> tuple[T, Timing]:
    """Run ``fn``; return its result and how long it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, Timing(time.perf_counter() - wall, time.process_time() - cpu)


_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="baseline")


def in_worker(fn: Callable[[], T]) -> T:
    """Run ``fn`` on a worker thread, as LangGraph runs graph nodes.

    Which thread calls torch matters on a busy CPU: we measured the same decode
    step 3-5x slower on the main thread than on a worker thread while other
    processes competed for the cores. Baselines run on a worker thread too, so
    that difference never counts for or against ttc-graph.
    """
    return _WORKER.submit(fn).result()


def median(values: Sequence[float]) -> float:
    """Median, or NaN for no values."""
    return float(statistics.median(values)) if values else float("nan")


def rotated(items: Sequence[T], shift: int) -> list[T]:
    """``items`` rotated by ``shift``: alternates which variant runs first each repeat,
    so drifting machine load does not always favour the same side."""
    k = shift % len(items)
    return [*items[k:], *items[:k]]


def cpu_model() -> str:
    """The CPU's model name as ``lscpu`` reports it."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        found = re.search(r"^Model name:\s*(.+)$", out, re.MULTILINE)
        if found:
            return found.group(1).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def git_commit() -> str | None:
    """The checked-out commit, if this is a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine(device: torch.device) -> dict[str, Any]:
    """Where the figures were measured."""
    import transformers

    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "commit": git_commit(),
        "load_average_start": list(os.getloadavg()),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def machine_slug(info: dict[str, Any]) -> str:
    """A short file-name part such as ``cpu2-amd-epyc``."""
    if "gpu" in info:
        name = str(info["gpu"])
        kind = "cuda"
    else:
        name = str(info["cpu"])
        kind = f"cpu{info['cpu_cores']}"
    words = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return f"{kind}-{words}"[:48].rstrip("-")
