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
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict, get_args

from ttc_graph.errors import InputError

# check_output_path is re-exported: the viewers import it from here.
from ttc_graph.outputs import check_output_path as check_output_path
from ttc_graph.outputs import write_atomic
from ttc_graph.strategies.state import NodeStatus, TraceNode, Usage, empty_usage

FORMAT = "ttc-graph-trace"
VERSION = 1
MAX_TRACE_BYTES = 256 * 2**20
"""Largest trace file :func:`load_trace` reads (a search at N=4096 writes a few MiB)."""
STATUSES: tuple[str, ...] = get_args(NodeStatus)
_USAGE_KEYS = tuple(empty_usage())
_NODE_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "parent": (str, type(None)),
    "text": (str,),
    "score": (int, float, type(None)),
    "iteration": (int,),
    "status": (str,),
    "chosen": (bool,),
    "group": (int,),
}


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
    routes: list[dict[str, Any]]
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
    """Check a trace dict field by field; return it with nodes ordered parents first.

    Raises ValueError naming the first problem: a missing or mistyped field, an
    unknown status, a dangling parent, a second root or a cycle.
    """
    version = data.get("version")
    if version != VERSION:
        raise InputError(
            f"Unsupported trace version {version!r}; this ttc-graph reads version {VERSION}."
        )
    for key, types in (
        ("strategy", (str,)),
        ("question", (str,)),
        ("answer", (str, type(None))),
        ("solution", (str, type(None))),
        ("budget_limited", (bool,)),
        ("usage", (dict,)),
        ("nodes", (list,)),
    ):
        if key not in data:
            raise InputError(f"Trace is missing {key!r}.")
        if not isinstance(data[key], types):
            raise InputError(
                f"Trace field {key!r} has the wrong type ({type(data[key]).__name__})."
            )
    usage = data["usage"]
    for key in _USAGE_KEYS:
        value = usage.get(key)
        # NaN passes ``< 0``; refused here rather than by the JSON writer's
        # "Out of range float values are not JSON compliant".
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise InputError(f"usage[{key!r}] must be a number >= 0 and finite, got {value!r}.")
    nodes = _check_nodes(data["nodes"])
    routes = _check_routes(data.get("routes", []))
    return SearchTrace(
        format=FORMAT,
        version=VERSION,
        strategy=data["strategy"],
        question=data["question"],
        answer=data["answer"],
        solution=data["solution"],
        usage=Usage(**{k: usage[k] for k in _USAGE_KEYS}),  # type: ignore[typeddict-item]
        budget_limited=data["budget_limited"],
        nodes=nodes,
        routes=routes,
    )


def _check_routes(raw: Any) -> list[dict[str, Any]]:
    """Routing decisions: a list of dicts with an int ``round``, a known ``route``, a ``reason``."""
    from ttc_graph.strategies.routing import ROUTES

    if not isinstance(raw, list):
        raise InputError(f"Trace field 'routes' must be a list, got {type(raw).__name__}.")
    for i, r in enumerate(raw):
        if (
            not isinstance(r, dict)
            or r.get("route") not in ROUTES
            or not isinstance(r.get("reason"), str)
            or isinstance(r.get("round"), bool)
            or not isinstance(r.get("round"), int)
        ):
            raise InputError(
                f"Trace routes[{i}] must be a dict with round (int), route (one of "
                f"{', '.join(ROUTES)}) and reason (text)."
            )
    return [dict(r) for r in raw]


def _check_nodes(raw: list[Any]) -> list[TraceNode]:
    if not raw:
        raise InputError("Trace has no nodes; a search trace holds at least its root.")
    by_id: dict[str, TraceNode] = {}
    for i, node in enumerate(raw):
        if not isinstance(node, dict):
            raise InputError(f"nodes[{i}] must be an object, got {type(node).__name__}.")
        for key, types in _NODE_FIELDS.items():
            if key not in node:
                raise InputError(f"nodes[{i}] is missing {key!r}.")
            value = node[key]
            # bool is an int subclass: a True score or iteration is a mistake, not 1.
            wrong_bool = isinstance(value, bool) and bool not in types
            if wrong_bool or not isinstance(value, types):
                raise InputError(
                    f"nodes[{i}] ({node.get('id')!r}): {key!r} has the wrong type "
                    f"({type(value).__name__})."
                )
        name = node["id"]
        if node["status"] not in STATUSES:
            raise InputError(
                f"Node {name!r} has unknown status {node['status']!r}; "
                f"expected one of {', '.join(STATUSES)}."
            )
        if node["score"] is not None and not math.isfinite(node["score"]):
            raise InputError(f"Node {name!r} has a non-finite score ({node['score']}).")
        if node["iteration"] < 0:
            raise InputError(f"Node {name!r} has a negative iteration ({node['iteration']}).")
        if name in by_id:
            raise InputError(f"Node id {name!r} appears twice; ids must be unique.")
        # Fields beyond TraceNode's are kept: a newer writer's extras survive a round trip.
        by_id[name] = dict(node)  # type: ignore[assignment]
    roots = [n["id"] for n in by_id.values() if n["parent"] is None]
    if len(roots) != 1:
        raise InputError(
            f"A trace has exactly one root (parent null); found {len(roots)}: {roots}."
        )
    for node in by_id.values():
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
