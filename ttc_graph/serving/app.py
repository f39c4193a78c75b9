"""The FastAPI application: OpenAI's chat-completions and models endpoints over ttc-graph.

Routes: ``GET /health`` (no key needed), ``GET /v1/models``, ``POST /v1/chat/completions``.
Every refusal is an OpenAI-style JSON error; no single request can stop the server.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

try:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response, StreamingResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as exc:  # the `serve` extra is optional
    from ttc_graph.errors import TTCGraphError

    raise TTCGraphError(
        f"ttc-graph serve needs FastAPI and uvicorn ({exc}); install them with "
        "pip install 'ttc-graph[serve]'."
    ) from exc

from ttc_graph.errors import InputError
from ttc_graph.policy.base import Policy
from ttc_graph.serving.engine import Search, SearchEngine
from ttc_graph.serving.errors import APIError, bad_request, from_exception
from ttc_graph.serving.options import (
    ParsedRequest,
    ServeLimits,
    parse_request,
    served_verifiers,
)
from ttc_graph.serving.responses import ChunkWriter, completion_body
from ttc_graph.strategies.registry import SPECS
from ttc_graph.verifiers.base import Verifier

DISCONNECT_POLL_S = 0.25
"""How often a non-streamed request checks whether its client is still there."""


def create_app(
    *,
    policy: Policy,
    verifier: str | Verifier | None = None,
    api_key: str | None = None,
    limits: ServeLimits | None = None,
    defaults: Mapping[str, Any] | None = None,
    verifier_options: dict[str, Any] | None = None,
) -> FastAPI:
    """An OpenAI-compatible app serving every strategy over ``policy`` and ``verifier``.

    Args:
        policy: The policy model (e.g. :func:`ttc_graph.load_policy`); shared by all requests,
            whose generations are merged into its batches.
        verifier: A verifier spec (``"auto"``, ``"grounded"``, a trained-verifier or PRM
            directory, a hub id) or a loaded verifier; ``None`` gives strategies that need
            one ``"auto"``, as ``ttc-graph solve`` does.
        api_key: When set, every ``/v1`` request needs ``Authorization: Bearer <api_key>``.
        limits: Per-request and per-server limits (:class:`ServeLimits`).
        defaults: Run options every strategy that takes them defaults to, e.g.
            ``{"n": 8, "max_new_tokens": 192}``; otherwise each strategy's own defaults.
        verifier_options: Passed to :func:`ttc_graph.verifiers.load_verifier`.

    Example:
        >>> from ttc_graph import load_policy
        >>> from ttc_graph.serving import create_app, serve
        >>> app = create_app(policy=load_policy(), verifier="grounded")  # doctest: +SKIP
        >>> serve(app, port=8000)  # doctest: +SKIP
    """
    if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
        raise InputError("api_key must be a non-empty string, or None for no key.")
    engine = SearchEngine(
        policy=policy,
        verifier=verifier,
        limits=limits,
        defaults=defaults,
        verifier_options=verifier_options,
    )
    verifiers = served_verifiers(engine.default_verifier)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await engine.open()
        try:
            yield
        finally:
            await engine.close()

    app = FastAPI(
        title="ttc-graph",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.engine = engine

    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else None
        return error_response(APIError(exc.status_code, str(exc.detail), code=code))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        return error_response(from_exception(exc))

    def authorize(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, space, given = header.partition(" ")
        # Compared exactly: a key with a space or an NBSP added is another key.
        if (
            scheme.lower() != "bearer"
            or not space
            or not hmac.compare_digest(given.encode(), api_key.encode())
        ):
            raise APIError(
                401,
                "Missing or wrong API key: send 'Authorization: Bearer <key>' with the key the "
                "server was started with (--api-key or TTC_GRAPH_API_KEY).",
                type="authentication_error",
                code="invalid_api_key",
            )

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": getattr(policy, "model_id", None) or type(policy).__name__,
            "running": engine.running,
            "waiting": engine.waiting,
            "finished": dict(engine.finished),
        }

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        authorize(request)
        created = int(time.time())
        return {
            "object": "list",
            "data": [
                {
                    "id": name,
                    "object": "model",
                    "created": created,
                    "owned_by": "ttc-graph",
                    "ttc": {
                        "summary": spec.summary,
                        "needs_verifier": spec.needs_verifier,
                        "takes_n": spec.takes_n,
                        "options": {
                            k: engine.defaults.get(k, v) for k, v in spec.option_defaults().items()
                        },
                    },
                }
                for name, spec in SPECS.items()
            ],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> Response:
        authorize(request)
        body = await read_json(request, engine.limits.max_body_bytes, engine.limits.timeout_s)
        parsed = parse_request(body, limits=engine.limits, verifiers=verifiers)
        graph, options = await engine.prepare(parsed)
        search = engine.start(parsed, graph, options)
        if parsed.stream:
            return StreamingResponse(
                stream_chunks(search, parsed),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        result = await until_done(search, request)
        return JSONResponse(completion_body(result, parsed))

    return app


def error_response(error: APIError) -> JSONResponse:
    """The JSON response of an error. A search that timed out or failed says
    ``x-should-retry: false``: OpenAI's clients retry 408 and 5xx by default, and would
    silently run the same long search again."""
    headers = {"x-should-retry": "false"} if error.code in NO_RETRY else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


NO_RETRY = frozenset({"timeout", "search_failed", "internal_error"})
"""Error codes of searches that ran and failed: retrying repeats the whole search."""


async def read_json(request: Request, limit: int, timeout_s: float) -> Any:
    """The request body as JSON; 413 past ``limit`` bytes (counted as it arrives), 408 if it
    has not all arrived within ``timeout_s``, 400 if not JSON."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    data = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                data += chunk
                if len(data) > limit:
                    raise _too_large(limit)
    except TimeoutError:
        raise APIError(
            408,
            f"The request body did not arrive within the server's timeout of {timeout_s:g} s "
            f"({len(data):,} bytes came); send it whole.",
            type="timeout",
            code="body_timeout",
        ) from None
    except asyncio.CancelledError:
        # The server is shutting down and its grace period ran out while the body was
        # still arriving: answer as docs/serving.md says (503), not with a bare 500.
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        raise APIError(
            503,
            "The server is shutting down; the request body had not all arrived. Retry later.",
            type="server_error",
            code="shutting_down",
        ) from None
    if not data.strip():
        raise bad_request("The request body is empty; send a JSON object.", code="invalid_json")
    try:
        return json.loads(bytes(data), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(
            f"The request body is not valid JSON: {exc}.", code="invalid_json"
        ) from None
    except RecursionError:
        raise bad_request(
            "The request body nests JSON too deeply to read.", code="invalid_json"
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"The request body is over the server's limit of {limit:,} bytes (--max-body-bytes).",
        code="body_too_large",
    )


async def until_done(search: Search, request: Request) -> dict[str, Any]:
    """The search's result; cancels the search if the client disconnects while it runs."""
    waiter = asyncio.ensure_future(search.result())
    try:
        while True:
            done, _ = await asyncio.wait({waiter}, timeout=DISCONNECT_POLL_S)
            if done:
                try:
                    return waiter.result()
                except Exception as exc:
                    raise from_exception(exc) from exc
            if await request.is_disconnected():
                search.cancel()
                raise APIError(499, "The client disconnected.", code="client_disconnected")
    finally:
        if not waiter.done():
            waiter.cancel()
            with suppress(asyncio.CancelledError):
                await waiter


async def stream_chunks(search: Search, request: ParsedRequest) -> AsyncIterator[str]:
    """Search events as they happen, then the answer as content deltas, then ``[DONE]``.

    The search is cancelled when this generator is closed early (the client went away).
    """
    writer = ChunkWriter(request)
    async for kind, item in search.items():
        if kind == "event":
            yield writer.event(*item)
        elif kind == "result":
            for chunk in writer.answer(item):
                yield chunk
        else:
            yield writer.error(from_exception(item).body())
    yield writer.done()
