"""Search traces as JSON files: the tree of one search plus what it cost.

A saved trace is everything the viewers need, independent of the graph that
produced it::

    {"format": "ttc-graph-trace", "version": 1, "strategy": "beam_search",
     "question": "...", "answer": "12", "solution": "...", "budget_limited": false,
     "usage": {"completion_tokens": ..., ...},
     "nodes": [{"id": "root", "parent": null, "text": "...", "score": null,
                "iteration": 0, "status": "root", "chosen": true, "group": 0}, ...]}

Nodes are listed parents first. Loading validates the whole file and names the
first problem it finds, so a hand-edited or truncated file fails clearly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NotRequired, cast

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config

# Not typing.TypedDict: on Python < 3.12 pydantic cannot validate it.
from typing_extensions import TypedDict

from ttc_graph.errors import InputError

# check_output_path is re-exported: the viewers import it from here.
from ttc_graph.outputs import check_output_path as check_output_path
from ttc_graph.outputs import write_atomic
from ttc_graph.strategies.routing import Route
from ttc_graph.strategies.state import TraceNode, Usage, empty_usage

FORMAT = "ttc-graph-trace"
VERSION = 1
MAX_TRACE_BYTES = 256 * 2**20
"""Largest trace file :func:`load_trace` reads (a search at N=4096 writes a few MiB)."""
_USAGE_KEYS = tuple(empty_usage())


# Strict: no bool where a number belongs, no "3" for 3; NaN and infinity are refused
# (JSON could not write them back); fields beyond the schema are kept, so a newer
# writer's extras survive a round trip. Nested TraceNode and Usage inherit this.
@with_config(ConfigDict(strict=True, allow_inf_nan=False, extra="allow"))
class RouteRecord(TypedDict):
    """One routing decision of ``adaptive`` (more keys, e.g. the posterior, may follow)."""

    round: int
    route: Route
    reason: str


@with_config(ConfigDict(strict=True, allow_inf_nan=False, extra="allow"))
class SearchTrace(TypedDict):
    """One search as saved by :func:`save_trace`: its tree, answer and cost."""

    format: str
    version: int
    strategy: str
    question: str
    answer: str | None
    solution: str | None
    usage: Usage
    budget_limited: bool
    nodes: list[TraceNode]
    """Every node of the search tree, parents before their children."""
    routes: NotRequired[list[RouteRecord]]
    """Adaptive's routing decisions in order (``round``, ``route``, ``reason``, ...); empty
    for other strategies and in older trace files."""


def trace_from_result(result: Mapping[str, Any]) -> SearchTrace:
    """Turn what a strategy graph returned into a validated :class:`SearchTrace`.

    Accepts the result of ``graph.invoke(...)`` or an existing ``SearchTrace``
    (returned checked, as a copy).
    """
    if not isinstance(result, Mapping):
        raise InputError(
            f"Expected the dict a ttc-graph strategy returns (or a loaded trace), "
            f"got {type(result).__name__}."
        )
    if result.get("format") == FORMAT:
        return validate_trace(dict(result))
    if "trace" not in result:
        raise InputError(
            "This dict has no 'trace': pass the result of graph.invoke(...) of a ttc-graph "
            "strategy, or a trace loaded with load_trace(path)."
        )
    nodes = result["trace"]
    if not isinstance(nodes, Mapping):
        raise InputError("result['trace'] must be a dict of trace nodes keyed by id.")
    for key, node in nodes.items():
        if isinstance(node, Mapping) and node.get("id") != key:
            raise InputError(
                f"result['trace'][{key!r}] has id {node.get('id')!r}; they must match."
            )
    question = result.get("question_text")
    if question is None and isinstance(result.get("question"), str):
        question = result["question"]
    data = {
        "format": FORMAT,
        "version": VERSION,
        "strategy": result.get("strategy", "unknown"),
        "question": question if question is not None else _root_text(nodes),
        "answer": result.get("answer"),
        "solution": result.get("solution"),
        "usage": dict(result.get("usage") or empty_usage()),
        "budget_limited": bool(result.get("budget_limited", False)),
        "nodes": [dict(n) if isinstance(n, Mapping) else n for n in nodes.values()],
        "routes": [dict(r) if isinstance(r, Mapping) else r for r in result.get("routes") or []],
    }
    return validate_trace(data)


def save_trace(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a search trace as JSON and return the path written.

    ``result`` is what a strategy graph returned (or a trace from :func:`load_trace`).
    The file is written whole or not at all, so an interrupted save never leaves
    half a trace behind.
    """
    trace = trace_from_result(result)
    target = check_output_path(path, example="trace.json")
    # Raw text: control characters are JSON-escaped (\u001b), never stripped.
    text = json.dumps(trace, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    return write_atomic(target, text)


def load_trace(path: str | os.PathLike[str]) -> SearchTrace:
    """Read and validate a trace written by :func:`save_trace`."""
    source = Path(path)
    if not source.exists():
        raise InputError(f"Trace file {source} does not exist; write one with save_trace().")
    if not source.is_file():
        raise InputError(f"{source} is not a regular file, so not a ttc-graph trace.")
    size = source.stat().st_size
    if size > MAX_TRACE_BYTES:
        raise InputError(
            f"{source} is {size / 2**20:,.0f} MiB, above the {MAX_TRACE_BYTES // 2**20} MiB "
            "limit for a trace (the viewer holds it in memory); is it the right file?"
        )
    try:
        # utf-8-sig: a byte-order mark, as some editors write, is accepted.
        data = json.loads(source.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source} is not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x} at "
            f"offset {exc.start}), so not a ttc-graph trace."
        ) from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "was the file truncated?"
        ) from exc
    except RecursionError as exc:
        # json recurses once per nesting level; a hostile file nests thousands deep.
        raise InputError(
            f"{source} nests JSON too deeply to be a ttc-graph trace (which is two levels deep)."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(
            f'{source} is not a ttc-graph trace (no "format": "{FORMAT}"); write one with '
            "save_trace(result, path) or `ttc-graph solve ... --trace FILE`."
        )
    try:
        return validate_trace(data)
    except ValueError as exc:
        raise InputError(f"{source}: {exc}") from exc


def as_trace(trace_or_result: Mapping[str, Any]) -> SearchTrace:
    """A validated trace from either a loaded trace or a strategy result."""
    return trace_from_result(trace_or_result)


def validate_trace(data: dict[str, Any]) -> SearchTrace:
    """Check a trace against :class:`SearchTrace`; return it with nodes ordered parents first.

    The schema (types, required fields, statuses, finite numbers) is checked by
    pydantic from the TypedDicts themselves; what a schema cannot say is checked
    after it: counts and iterations >= 0, one root, parents that exist, unique ids,
    no cycle. Raises :class:`~ttc_graph.errors.InputError` naming the first problem.
    """
    version = data.get("version") if isinstance(data, dict) else None
    if version != VERSION:
        raise InputError(
            f"Unsupported trace version {version!r}; this ttc-graph reads version {VERSION}."
        )
    try:
        trace = _SCHEMA.validate_python(data)
    except ValidationError as exc:
        raise InputError(_first_problem(exc, data)) from None
    usage = cast(dict[str, float], trace["usage"])
    for key in _USAGE_KEYS:
        if usage[key] < 0:
            raise InputError(f"usage[{key!r}] must be >= 0, got {usage[key]!r}.")
    trace["nodes"] = _check_tree(trace["nodes"])
    trace.setdefault("routes", [])
    return trace


_SCHEMA = TypeAdapter(SearchTrace)


def _first_problem(exc: ValidationError, data: Any) -> str:
    """One line on the first schema error: where, what was found, what was expected."""
    error = exc.errors()[0]
    *parents, field = error["loc"]
    found = error.get("input")
    where = str(parents[0]) + "".join(f"[{p}]" for p in parents[1:]) if parents else "Trace"
    node = ""
    if parents[:1] == ["nodes"] and len(parents) > 1:  # name the node when it has an id
        raw = data["nodes"][parents[1]]
        node = f" (node {raw['id']!r})" if isinstance(raw, dict) and "id" in raw else ""
    kind = error["type"]
    if kind == "missing":
        return f"{where} is missing {field!r}{node}."
    if kind == "finite_number":
        return (
            f"{where}[{field!r}] is not a finite number ({found}){node}: a non-finite {field} "
            "cannot be written as JSON."
        )
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"{where} has unknown {field} {found!r}{node}; expected {expected}."
    subject = f"{where}: {field!r}" if isinstance(field, str) else f"{where}[{field}]"
    return (
        f"{subject} has the wrong type ({type(found).__name__}){node}: "
        f"{error['msg'][0].lower()}{error['msg'][1:]}."
    )


def _check_tree(nodes: list[TraceNode]) -> list[TraceNode]:
    if not nodes:
        raise InputError("Trace has no nodes; a search trace holds at least its root.")
    by_id: dict[str, TraceNode] = {}
    for node in nodes:
        name = node["id"]
        if node["iteration"] < 0:
            raise InputError(f"Node {name!r} has a negative iteration ({node['iteration']}).")
        if name in by_id:
            raise InputError(f"Node id {name!r} appears twice; ids must be unique.")
        by_id[name] = node
    roots = [n["id"] for n in nodes if n["parent"] is None]
    if len(roots) != 1:
        raise InputError(
            f"A trace has exactly one root (parent null); found {len(roots)}: {roots}."
        )
    for node in nodes:
        if node["parent"] is not None and node["parent"] not in by_id:
            raise InputError(
                f"Node {node['id']!r} has parent {node['parent']!r}, which is not in the trace."
            )
    return _parents_first(by_id, roots[0])


def _parents_first(by_id: dict[str, TraceNode], root: str) -> list[TraceNode]:
    """Breadth-first from the root, keeping the original order among siblings."""
    children: dict[str, list[str]] = {}
    for node in by_id.values():
        if node["parent"] is not None:
            children.setdefault(node["parent"], []).append(node["id"])
    order = [root]
    for name in order:  # grows while iterating: a breadth-first walk
        order.extend(children.get(name, []))
    if len(order) != len(by_id):
        stuck = sorted(set(by_id) - set(order))
        raise InputError(f"Nodes {stuck} do not lead back to the root: the parents form a cycle.")
    return [by_id[name] for name in order]


def _root_text(nodes: Mapping[str, Any]) -> str:
    for node in nodes.values():
        if isinstance(node, Mapping) and node.get("parent") is None:
            return str(node.get("text", ""))
    return ""
