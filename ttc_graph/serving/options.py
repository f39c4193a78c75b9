"""What a chat-completions request asks for, checked and resolved into a :class:`SearchSpec`.

``model`` names a strategy with an optional N (``weighted-8``, ``beam_search-16``);
the extension field ``ttc`` (what ``extra_body={"ttc": {...}}`` sends) overrides it
and adds search options. Everything is checked here, before a search is queued,
against the server's :class:`ServeLimits` and the project's own limits
(:mod:`ttc_graph.limits`), so a bad request costs no model time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ttc_graph.limits import (
    check_count,
    check_finite,
)
from ttc_graph.serving.errors import APIError, bad_request
from ttc_graph.serving.settings import Defaults, ServeLimits
from ttc_graph.specs import NAMED_VERIFIERS
from ttc_graph.strategies import STRATEGIES
from ttc_graph.strategies.config import Budget
from ttc_graph.strategies.prompts import to_messages

_MODEL = re.compile(r"^(?P<strategy>[a-z_]+)(?:-(?P<n>\d+))?$")
NO_N = frozenset({"greedy", "self_refine"})
"""Strategies that take no N: one greedy sample; one draft refined in rounds."""
MAX_STEPS = 64
"""Most steps (search iterations) of a step-wise search."""
STEPWISE = frozenset({"beam_search", "dvts"})
UNSUPPORTED = ("tools", "tool_choice", "functions", "function_call", "response_format", "stop")
"""Request fields a search cannot honour; refused rather than silently ignored."""


class BudgetOptions(BaseModel):
    """``ttc.budget``: stop the search at this many generated tokens or seconds."""

    model_config = ConfigDict(extra="forbid")
    max_tokens: int | None = None
    max_seconds: float | None = None


class TTCOptions(BaseModel):
    """The ``ttc`` extension field of a request: search options OpenAI has no field for."""

    model_config = ConfigDict(extra="forbid")
    strategy: str | None = None
    n: int | None = None
    beam_width: int | None = None
    max_steps: int | None = None
    verifier: str | None = None
    seed: int | None = None
    budget: BudgetOptions | None = None
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


@dataclass(frozen=True)
class SearchSpec:
    """One resolved request: the graph to build (hashable, so graphs are cached) and its input."""

    strategy: str
    n: int
    beam_width: int
    max_steps: int
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None
    verifier: str | None
    """A verifier spec the server serves, or None for the server's choice."""
    budget: Budget | None

    def graph_key(self) -> tuple[Any, ...]:
        """Everything that decides the graph (requests with equal keys share one)."""
        return (
            self.strategy,
            self.n,
            self.beam_width,
            self.max_steps,
            self.max_tokens,
            self.temperature,
            self.top_p,
            self.seed,
            self.verifier,
            self.budget,
        )


@dataclass(frozen=True)
class ParsedRequest:
    """A checked request: the search, its messages and how to answer."""

    spec: SearchSpec
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
    if match is None or match["strategy"] not in STRATEGIES:
        raise APIError(
            404,
            f"Unknown model {model!r}: the model names a strategy, optionally with N, e.g. "
            f"'weighted-8' or 'beam_search-16'; served: {', '.join(STRATEGIES)} "
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
        allowed = ", ".join(TTCOptions.model_fields) if where.startswith("ttc.") else ""
        hint = f" (ttc takes: {allowed}, budget: max_tokens, max_seconds)" if allowed else ""
        return bad_request(f"Unknown field {where!r}{hint}.", param=where)
    return bad_request(f"Field {where!r}: {first.get('msg')}.", param=where)


def parse_request(
    body: Any, *, limits: ServeLimits, defaults: Defaults, verifiers: frozenset[str]
) -> ParsedRequest:
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
    n_param = "ttc.n" if opts.n is not None else "model"
    n_value = opts.n if opts.n is not None else model_n
    n = _count(n_value, n_param, limits.max_n, None, why="the server's --max-n")
    if strategy in NO_N and n not in (None, 1):
        raise bad_request(f"{strategy} takes no N (got {n}); drop it.", param=n_param)
    n = n if n is not None else (1 if strategy in NO_N else defaults.n)
    beam_width = _count(
        opts.beam_width, "ttc.beam_width", n, defaults.beam_width, why="a width cannot exceed N"
    )
    if strategy in STEPWISE and n % min(beam_width, n):
        raise bad_request(
            f"n ({n}) must be a multiple of beam_width ({beam_width}) for {strategy}.",
            param="ttc.beam_width",
        )
    max_steps = _count(
        opts.max_steps, "ttc.max_steps", MAX_STEPS, defaults.max_steps, why="the server's limit"
    )
    tokens = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
    max_tokens = _count(
        tokens, "max_tokens", limits.max_tokens, defaults.max_tokens, why="the server's limit"
    )
    temperature = _number(req.temperature, "temperature", defaults.temperature, high=2.0)
    top_p = _number(req.top_p, "top_p", 1.0, high=1.0)
    if top_p <= 0:
        raise bad_request("top_p must be in (0, 1].", param="top_p")
    choices = _count(req.n, "n", n, 1, why="a search returns at most N distinct answers")
    verifier = opts.verifier
    if verifier is not None and verifier not in verifiers:
        raise bad_request(
            f"Verifier {verifier!r} is not served here; choose one of "
            f"{', '.join(sorted(verifiers))}.",
            param="ttc.verifier",
        )
    budget = None
    if opts.budget is not None:
        try:
            budget = Budget(max_tokens=opts.budget.max_tokens, max_seconds=opts.budget.max_seconds)
        except ValueError as exc:
            raise bad_request(str(exc), param="ttc.budget") from None
        if budget.max_seconds is not None and not math.isfinite(budget.max_seconds):
            raise bad_request("ttc.budget.max_seconds must be finite.", param="ttc.budget")
    try:
        messages = to_messages(req.messages)
    except ValueError as exc:
        raise bad_request(str(exc), param="messages") from None
    seed = opts.seed if opts.seed is not None else req.seed
    spec = SearchSpec(
        strategy=strategy,
        n=n,
        beam_width=min(beam_width, n),
        max_steps=max_steps,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        verifier=verifier,
        budget=budget,
    )
    return ParsedRequest(
        spec=spec,
        messages=messages,
        model=req.model,
        choices=choices,
        stream=req.stream,
        include_usage=bool(req.stream_options and req.stream_options.include_usage),
        content=opts.content,
        include_candidates=opts.include_candidates,
    )


def served_verifiers(default: str | None) -> frozenset[str]:
    """The verifier specs a request may name: the server's own and the built-in ones."""
    return frozenset({*NAMED_VERIFIERS, *([default] if default else [])})


def _count(value: int | None, name: str, limit: int, default: int | None, *, why: str) -> Any:
    if value is None:
        return default
    try:
        return check_count(value, name=name, limit=limit, why=why)
    except ValueError as exc:
        raise bad_request(str(exc), param=name) from None


def _number(value: float | None, name: str, default: float, *, high: float) -> float:
    if value is None:
        return default
    try:
        return check_finite(value, name=name, low=0.0, high=high)
    except ValueError as exc:
        raise bad_request(str(exc), param=name) from None
