"""Run an app with uvicorn: in the foreground (the CLI), or on a background thread."""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from ttc_graph.errors import TTCGraphError
from ttc_graph.serving.settings import DEFAULT_HOST, DEFAULT_PORT


def _config(app: FastAPI, host: str, port: int, shutdown_timeout_s: float, log_level: str) -> Any:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_level=log_level,
        timeout_graceful_shutdown=math.ceil(shutdown_timeout_s),
    )


def serve(
    app: FastAPI,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    shutdown_timeout_s: float = 30.0,
    log_level: str = "info",
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, then shut down gracefully.

    On a signal the server stops accepting connections, lets in-flight requests finish
    for up to ``shutdown_timeout_s`` seconds, then cancels the searches still running.

    Example:
        >>> serve(create_app(policy=load_policy()), port=8000)  # doctest: +SKIP
    """
    server = uvicorn.Server(_config(app, host, port, shutdown_timeout_s, log_level))
    # uvicorn re-raises the signal that stopped it once it has shut down; a SIGTERM
    # that ended in a clean shutdown should end the process normally (exit 0).
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _ignore) if main else None
    try:
        server.run()
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    if not server.started:
        raise TTCGraphError(f"The server could not start on {host}:{port} (see the log above).")


def _ignore(signum: int, frame: Any) -> None:
    """A SIGTERM arriving after uvicorn's own handler is gone (shutdown is done)."""


@contextmanager
def serve_in_thread(
    app: FastAPI,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    shutdown_timeout_s: float = 5.0,
    start_timeout_s: float = 60.0,
    log_level: str = "warning",
) -> Iterator[str]:
    """Serve ``app`` on a background thread; yields its base URL (``http://host:port/v1``).

    ``port=0`` picks a free port. Stops the server (gracefully) when the block ends.

    Example:
        >>> with serve_in_thread(create_app(policy=policy)) as base_url:  # doctest: +SKIP
        ...     OpenAI(base_url=base_url, api_key="none").models.list()
    """
    server = uvicorn.Server(_config(app, host, port, shutdown_timeout_s, log_level))
    thread = threading.Thread(target=server.run, name="ttc-graph-serve", daemon=True)
    thread.start()
    end = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > end:
            server.should_exit = True
            raise TTCGraphError(f"The server did not start on {host}:{port}.")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{bound[0]}:{bound[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=shutdown_timeout_s + 10)
