"""What a chat-completions request asks for, checked and resolved into a :class:`ParsedRequest`.

``model`` names a strategy with an optional N (``weighted-8``, ``beam_search-16``);
the extension field ``ttc`` (what ``extra_body={"ttc": {...}}`` sends) overrides it,
picks the verifier and may set any run option the strategy takes
(:data:`ttc_graph.strategies.OPTIONS`: ``beam_width``, ``seed``, ``budget_tokens``,
...). OpenAI's own ``max_tokens``, ``temperature``, ``top_p`` and ``seed`` are run
options too. What the server limits is checked here against its
:class:`ServeLimits`; the options themselves are then checked by the strategy's
graph, exactly as for a Python caller, before a search is queued: a bad request
costs no model time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ttc_graph.limits import check_count
from ttc_graph.policy.messages import to_messages
from ttc_graph.serving.errors import APIError, bad_request
from ttc_graph.serving.settings import ServeLimits
from ttc_graph.specs import NAMED_VERIFIERS
from ttc_graph.strategies.context import RunOptions, unknown_option
from ttc_graph.strategies.options import OPTIONS
from ttc_graph.strategies.registry import SPECS, get_spec

_MODEL = re.compile(r"^(?P<strategy>[a-z][a-z0-9_]*)(?:-(?P<n>\d+))?$")
MAX_STEPS = 64
"""Most steps (search iterations) of a step-wise search one request may ask for."""
UNSUPPORTED = ("tools", "tool_choice", "functions", "function_call", "response_format", "stop")
"""Request fields a search cannot honour; refused rather than silently ignored."""


def _no_bool(value: Any) -> Any:
    # JSON true is not the number 1: pydantic's lax mode would take it as one.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


class BudgetOptions(BaseModel):
    """``ttc.budget``: stop the search at this many generated tokens or seconds."""

    model_config = ConfigDict(extra="forbid")
    max_tokens: int | None = None
    max_seconds: float | None = None

    _numbers = field_validator("max_tokens", "max_seconds", mode="before")(_no_bool)


SERVER_FIELDS = ("strategy", "verifier", "budget", "content", "include_candidates")
"""Keys of ``ttc`` that are the server's own; every other key is a run option."""


class TTCOptions(BaseModel):
    """The ``ttc`` extension field of a request: the strategy, its verifier, how to answer,
    and run options (any other key, checked against the strategy's options)."""

    model_config = ConfigDict(extra="allow")
    strategy: str | None = None
    verifier: str | None = None
    budget: BudgetOptions | None = None
    """Shorthand of the run options ``budget_tokens`` and ``budget_seconds``."""
    content: Literal["solution", "answer"] = "solution"
    """What a choice's message holds: the full chosen solution, or only its final answer."""
    include_candidates: bool = False
    """Add every candidate (text, steps, scores, answer) to the response's ``ttc`` field."""


class StreamOptions(BaseModel):
    """OpenAI's ``stream_options``."""

    include_usage: bool = False


class ChatRequest(BaseModel):
    """The fields of an OpenAI chat-completions request that the server reads."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    n: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    ttc: TTCOptions = Field(default_factory=TTCOptions)

    _numbers = field_validator(
        "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "n", mode="before"
    )(_no_bool)


@dataclass(frozen=True)
class ParsedRequest:
    """A checked request: the strategy, its run options, its messages and how to answer."""

    strategy: str
    verifier: str | None
    """A verifier spec the server serves, or None for the server's choice."""
    context: dict[str, Any]
    """The run options the request sets (the graph's defaults fill in the rest)."""
    sources: dict[str, str]
    """The request field each option came from (``model`` for its N)."""
    messages: list[BaseMessage]
    model: str
    choices: int
    stream: bool
    include_usage: bool
    content: Literal["solution", "answer"]
    include_candidates: bool


def parse_model(model: str) -> tuple[str, int | None]:
    """Split a model name into a strategy and an optional N.

    Example:
        >>> parse_model("beam_search-16")
        ('beam_search', 16)
        >>> parse_model("majority")
        ('majority', None)
    """
    match = _MODEL.match(model.strip()) if isinstance(model, str) else None
    if match is None or match["strategy"] not in SPECS:
        raise APIError(
            404,
            f"Unknown model {model!r}: the model names a strategy, optionally with N, e.g. "
            f"'weighted-8' or 'beam_search-16'; served: {', '.join(SPECS)} "
            "(GET /v1/models lists them).",
            param="model",
            code="model_not_found",
        )
    return match["strategy"], int(match["n"]) if match["n"] is not None else None


def validation_error(exc: ValidationError) -> APIError:
    """The first problem pydantic found, as a 400 naming the field."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    if first.get("type") == "missing":
        return bad_request(f"The request has no {where!r} field; it is required.", param=where)
    if first.get("type") == "extra_forbidden":
        return bad_request(f"Unknown field {where!r}.", param=where)
    message = str(first.get("msg", "")).removeprefix("Value error, ")
    return bad_request(f"Field {where!r}: {message}.", param=where)


def parse_request(body: Any, *, limits: ServeLimits, verifiers: frozenset[str]) -> ParsedRequest:
    """Check a decoded JSON body and resolve it into a :class:`ParsedRequest`.

    ``verifiers`` are the specs a request may name in ``ttc.verifier``. Raises
    :class:`APIError` (400, or 404 for an unknown strategy) naming the field at fault.
    """
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    try:
        req = ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc) from None
    for name in UNSUPPORTED:
        if body.get(name) is not None:
            raise bad_request(
                f"{name!r} is not supported: a search returns one chosen solution per choice.",
                param=name,
            )
    if body.get("logprobs"):
        raise bad_request("logprobs are not supported by the search server.", param="logprobs")
    opts = req.ttc
    strategy, model_n = parse_model(opts.strategy or req.model)
    spec = get_spec(strategy)
    context: dict[str, Any] = {}
    params: dict[str, str] = {}

    def put(name: str, value: Any, param: str) -> None:
        if value is None:
            return
        if name not in spec.options.names:
            raise bad_request(unknown_option(strategy, name, spec.options.names), param=param)
        context[name] = value
        params[name] = param

    for name, value in (opts.model_extra or {}).items():
        if name not in OPTIONS:
            raise bad_request(
                f"Unknown field 'ttc.{name}': ttc takes {', '.join(SERVER_FIELDS)} and the run "
                f"options of {strategy}: {', '.join(spec.options.names)}.",
                param=f"ttc.{name}",
            )
        if isinstance(value, bool) and OPTIONS[name].type is not bool:
            raise bad_request(
                f"Field 'ttc.{name}' must be a {OPTIONS[name].type.__name__}, not a boolean.",
                param=f"ttc.{name}",
            )
        put(name, value, f"ttc.{name}")
    if model_n is not None and "n" not in context:
        if not spec.takes_n:
            raise bad_request(f"{strategy} takes no N (got {model_n}); drop it.", param="model")
        put("n", model_n, "model")
    tokens = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
    put("max_new_tokens", tokens, "max_tokens")
    put("temperature", req.temperature, "temperature")
    put("top_p", req.top_p, "top_p")
    if "seed" not in context:
        put("seed", req.seed, "seed")
    if opts.budget is not None:
        put("budget_tokens", opts.budget.max_tokens, "ttc.budget")
        put("budget_seconds", opts.budget.max_seconds, "ttc.budget")
    for name, limit, why in (
        ("n", limits.max_n, "the server's --max-n"),
        ("max_new_tokens", limits.max_tokens, "the server's --max-tokens"),
        ("max_steps", MAX_STEPS, "the server's limit"),
    ):
        if name in context:
            _limit(context[name], params[name], limit, why)
    n = context.get("n", spec.default("n") if spec.takes_n else 1)
    choices = _count(
        req.n,
        "n",
        n if isinstance(n, int) else 1,
        1,
        why="a search returns at most N distinct answers",
    )
    verifier = opts.verifier
    if verifier is not None and verifier not in verifiers:
        raise bad_request(
            f"Verifier {verifier!r} is not served here; choose one of "
            f"{', '.join(sorted(verifiers))}.",
            param="ttc.verifier",
        )
    try:
        messages = to_messages(req.messages)
    except ValueError as exc:
        raise bad_request(str(exc), param="messages") from None
    return ParsedRequest(
        strategy=strategy,
        verifier=verifier,
        context=context,
        sources=params,
        messages=messages,
        model=req.model,
        choices=choices,
        stream=req.stream,
        include_usage=bool(req.stream_options and req.stream_options.include_usage),
        content=opts.content,
        include_candidates=opts.include_candidates,
    )


def checked_options(request: ParsedRequest, schema: type[RunOptions]) -> RunOptions:
    """The request's run options checked by the graph's context ``schema`` (as a Python
    caller's are), or a 400 naming the request field at fault."""
    try:
        return schema(**request.context)
    except ValueError as exc:
        param = next((p for name, p in _fields(request).items() if f"'{name}'" in str(exc)), None)
        raise bad_request(str(exc), param=param) from None


def _fields(request: ParsedRequest) -> dict[str, str]:
    """Where each run option of ``request`` came from: ``ttc.beam_width``, ``max_tokens``..."""
    top = {"max_new_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p"}
    return {
        name: request.sources.get(name, top.get(name, f"ttc.{name}")) for name in request.context
    }


def served_verifiers(default: str | None) -> frozenset[str]:
    """The verifier specs a request may name: the server's own and the built-in ones."""
    return frozenset({*NAMED_VERIFIERS, *([default] if default else [])})


def _limit(value: Any, param: str, limit: int, why: str) -> None:
    # Only the server's limit; the type and range are the strategy's own check.
    if isinstance(value, int) and value > limit:
        raise bad_request(
            f"{param} is {value:,}, above the limit of {limit:,}: {why}.", param=param
        )


def _count(value: int | None, name: str, limit: int, default: int, *, why: str) -> int:
    if value is None:
        return default
    try:
        return check_count(value, name=name, limit=limit, why=why)
    except ValueError as exc:
        raise bad_request(str(exc), param=name) from None
