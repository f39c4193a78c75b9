"""A self-contained HTML viewer of a search tree: one file, no network.

The tree is laid out and drawn as SVG here in Python, so the page shows it even
with scripts off; the inline script (``assets/viewer.js``) adds hover tooltips,
a details panel, zoom and hiding of pruned branches. Every piece of text comes
from model output or user input, so all of it is escaped: HTML-escaped in the
markup, and ``<``/``>``/``&`` written as ``\\u`` escapes in the embedded JSON so
it can never close its ``<script>`` element. The script only ever sets
``textContent``.

DOM hooks (stable, used by the tests): each tree node is ``g.node[data-id]``
with classes ``chosen``, ``faded`` and ``status-<status>``; each edge is
``path.edge[data-from][data-to]``; ``#answer``, ``#usage [data-key]``,
``#details`` and ``#tree`` hold what their names say.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

from ttc_graph.outputs import write_atomic
from ttc_graph.visualization.layout import (
    Position,
    Tree,
    layout,
    score_color,
    status_counts,
    usage_items,
)
from ttc_graph.visualization.trace import SearchTrace, as_trace, check_output_path

SLOT = 64
"""Horizontal pixels per leaf."""
LEVEL = 96
"""Vertical pixels per tree level."""
RADIUS = 17
MARGIN = 44


def render_html(
    trace_or_result: Mapping[str, Any], path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Write the search-tree viewer for a trace (or a strategy's result) to ``path``.

    Returns the path written. Open it in any browser; it needs no network.
    """
    target = check_output_path(path, example="tree.html")
    return write_atomic(target, html_document(trace_or_result, title=title))


def html_document(trace_or_result: Mapping[str, Any], *, title: str | None = None) -> str:
    """The viewer page as a string (see :func:`render_html`)."""
    trace = as_trace(trace_or_result)
    tree = Tree.of(trace)
    heading = title or f"Search tree · {trace['strategy']}"
    assets = files("ttc_graph.visualization") / "assets"
    css = (assets / "viewer.css").read_text(encoding="utf-8")
    js = (assets / "viewer.js").read_text(encoding="utf-8")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{escape(heading)}</title>
<style>
{css}</style>
</head>
<body>
{_header(trace, tree, heading)}
<main>
<div id="tree-box">{_svg(tree)}</div>
<aside id="details" aria-live="polite">
<p class="hint">Click a node to see its step; hover for a preview.</p>
</aside>
</main>
<div id="tooltip" hidden></div>
<script type="application/json" id="trace-data">{_json_for_script(trace)}</script>
<script>
{js}</script>
</body>
</html>
"""


def _header(trace: SearchTrace, tree: Tree, heading: str) -> str:
    answer = trace["answer"]
    answer_html = (
        f'<code id="answer">{escape(answer)}</code>'
        if answer is not None
        else '<span id="answer" class="none">no answer extracted</span>'
    )
    usage = "".join(
        f'<li data-key="{key}">{escape(text)}</li>' for key, text in usage_items(trace["usage"])
    )
    if trace["budget_limited"]:
        usage += '<li data-key="budget_limited" class="warn">budget limit reached</li>'
    routes = "".join(
        f'<li data-route="{escape(r["route"])}">round {r["round"]}: <b>{escape(r["route"])}</b>'
        f" — {escape(r['reason'])}</li>"
        for r in trace["routes"]
    )
    routes_html = (
        f'<details id="routes" open><summary>Routing decisions</summary><ol>{routes}</ol></details>'
        if routes
        else ""
    )
    counts = status_counts(tree)
    summary = ", ".join(
        f"{counts[s]} {s}" for s in ("finished", "kept", "pruned", "active") if s in counts
    )
    count = len(tree.nodes)
    solution = trace["solution"]
    solution_html = (
        f'<details id="solution"><summary>Chosen solution</summary>'
        f"<pre>{escape(solution)}</pre></details>"
        if solution
        else ""
    )
    return f"""<header>
<h1>{escape(heading)}</h1>
<div id="question"><span class="label">Question</span><pre>{escape(trace["question"])}</pre></div>
<div id="result"><span class="label">Answer</span> {answer_html}
<ul id="usage">{usage}</ul></div>
{routes_html}
{solution_html}
<div id="toolbar">
<span id="node-count" data-nodes="{count}">{count} nodes ({escape(summary)})</span>
<label><input type="checkbox" id="hide-faded"> hide pruned branches</label>
<button type="button" id="zoom-out" title="zoom out">−</button>
<button type="button" id="zoom-reset" title="actual size">100%</button>
<button type="button" id="zoom-in" title="zoom in">+</button>
<span class="legend"><span class="ramp"></span> score 0 → 1
<span class="swatch unscored"></span> unscored
<span class="swatch chosen"></span> chosen path
<span class="swatch faded"></span> pruned</span>
</div>
</header>"""


def _svg(tree: Tree) -> str:
    positions = layout(tree)
    faded = tree.faded()
    width = max(p.x for p in positions.values()) * SLOT + 2 * MARGIN
    height = max(p.depth for p in positions.values()) * LEVEL + 2 * MARGIN

    def xy(pos: Position) -> tuple[float, float]:
        return MARGIN + pos.x * SLOT, MARGIN + pos.depth * LEVEL

    edges, nodes = [], []
    for name, node in tree.nodes.items():
        x, y = xy(positions[name])
        if node["parent"] is not None:
            px, py = xy(positions[node["parent"]])
            mid = (py + y) / 2
            classes = _classes("edge", chosen=node["chosen"], faded=name in faded)
            edges.append(
                f'<path class="{classes}" data-from="{escape(node["parent"])}" '
                f'data-to="{escape(name)}" d="M{px:g},{py + RADIUS:g} '
                f'C{px:g},{mid:g} {x:g},{mid:g} {x:g},{y - RADIUS:g}"/>'
            )
        nodes.append(_node_svg(node, x, y, name in faded))
    return (
        f'<svg id="tree" xmlns="http://www.w3.org/2000/svg" width="{width:g}" '
        f'height="{height:g}" viewBox="0 0 {width:g} {height:g}" '
        f'data-width="{width:g}" data-height="{height:g}" role="img" '
        f'aria-label="search tree with {len(tree.nodes)} nodes">'
        f'<g class="edges">{"".join(edges)}</g><g class="nodes">{"".join(nodes)}</g></svg>'
    )


def _node_svg(node: Mapping[str, Any], x: float, y: float, faded: bool) -> str:
    name, score, status = node["id"], node["score"], node["status"]
    classes = _classes("node", f"status-{status}", chosen=node["chosen"], faded=faded)
    label = "Q" if status == "root" else ("–" if score is None else f"{score:.2f}".lstrip("0"))
    if status == "root":
        shape = (
            f'<rect x="{-RADIUS}" y="{-RADIUS}" width="{2 * RADIUS}" height="{2 * RADIUS}" rx="5"/>'
        )
    else:
        shape = f'<circle r="{RADIUS}" fill="{score_color(score)}"/>'
    summary = f"{name} · {status} · score {'none' if score is None else f'{score:.3f}'}"
    copies = int(node.get("copies") or 0)
    if copies > 1:
        # A particle the resampling drew more than once: its copies branch from here.
        summary += f" · resampled ×{copies}"
        shape += f'<text class="copies" x="{RADIUS + 2}" y="{-RADIUS}">×{copies}</text>'
    preview = node["text"] if len(node["text"]) <= 400 else node["text"][:400] + "…"
    return (
        f'<g class="{classes}" data-id="{escape(name)}" data-status="{escape(status)}" '
        f'data-score="{"" if score is None else f"{score:g}"}" '
        f'data-iteration="{node["iteration"]}" data-group="{node["group"]}" '
        f'data-copies="{copies}" '
        f'transform="translate({x:g},{y:g})" tabindex="0" '
        f'role="button" aria-label="{escape(summary)}">'
        f"<title>{escape(summary)}\n{escape(preview)}</title>{shape}"
        f'<text dy="0.35em">{escape(label)}</text></g>'
    )


def _classes(base: str, *extra: str, chosen: bool, faded: bool) -> str:
    out = [base, *extra]
    if chosen:
        out.append("chosen")
    if faded:
        out.append("faded")
    return " ".join(out)


def _json_for_script(trace: SearchTrace) -> str:
    """JSON that is inert inside ``<script>``: no ``<``, ``>`` or ``&`` survive literally."""
    text = json.dumps(trace, ensure_ascii=False, allow_nan=False)
    for char, code in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, code)
    return text
