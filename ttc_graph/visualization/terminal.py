"""The search tree in a terminal, as a ``rich`` tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.style import Style
from rich.text import Text
from rich.tree import Tree as RichTree

from ttc_graph.errors import InputError
from ttc_graph.escape import terminal_safe
from ttc_graph.strategies.state import TraceNode
from ttc_graph.visualization.layout import Tree, score_color, usage_items
from ttc_graph.visualization.trace import as_trace

CHOSEN_MARK = "★"


def build_tree(trace_or_result: Mapping[str, Any], *, max_text: int = 80) -> RichTree:
    """A ``rich`` tree of the search: one line per step, coloured by score.

    Chosen steps are bold and starred, dead branches dim. Step text is shown on
    one line, cut to ``max_text`` characters. Text is never read as rich markup,
    so model output such as ``[bold]`` prints literally, and terminal control
    characters are shown as visible escapes (see :func:`terminal_safe`).
    """
    if not isinstance(max_text, int) or max_text < 8:
        raise InputError(f"max_text must be an integer >= 8, got {max_text!r}.")
    trace = as_trace(trace_or_result)
    tree = Tree.of(trace)
    faded = tree.faded()
    root = RichTree(_label(tree.nodes[tree.root], max_text, faded=False), guide_style="grey50")
    branches = {tree.root: root}
    for name, node in tree.nodes.items():
        if node["parent"] is not None:
            parent = branches[node["parent"]]
            guide = "bold blue" if node["chosen"] else ("grey30" if name in faded else "grey50")
            branches[name] = parent.add(
                _label(node, max_text, faded=name in faded), guide_style=guide
            )
    return root


def print_tree(
    trace_or_result: Mapping[str, Any], *, console: Console | None = None, max_text: int = 80
) -> None:
    """Print the strategy, answer and usage, then the search tree (see :func:`build_tree`)."""
    trace = as_trace(trace_or_result)
    header = Text.assemble(
        ("Strategy ", "dim"),
        (terminal_safe(trace["strategy"], newlines=False), "bold"),
        ("   Answer ", "dim"),
        (
            terminal_safe(trace["answer"], newlines=False)
            if trace["answer"] is not None
            else "none",
            "bold blue",
        ),
    )
    usage = Text(" · ".join(text for _, text in usage_items(trace["usage"])), style="dim")
    if trace["budget_limited"]:
        usage.append("  budget limit reached", style="yellow")
    routes = [
        Text(
            f"round {r['round']}: {r['route']} — {terminal_safe(r['reason'], newlines=False)}",
            style="dim",
        )
        for r in trace["routes"]
    ]
    out = console or Console()
    out.print(Group(header, usage, *routes, build_tree(trace, max_text=max_text)))


def _label(node: TraceNode, max_text: int, *, faded: bool) -> Text:
    text = terminal_safe(" ".join(node["text"].split()), newlines=False)
    if len(text) > max_text:
        text = text[: max_text - 1] + "…"
    if node["status"] == "root":
        return Text.assemble(("Q ", "bold"), (text, "bold"))
    score = node["score"]
    label = Text()
    if node["chosen"]:
        label.append(f"{CHOSEN_MARK} ", style="bold blue")
    label.append(
        "  --" if score is None else f"{score:.2f}",
        style=Style(color=score_color(score), bold=True),
    )
    label.append(f" {node['status']:<8} ", style="dim")
    if int(node.get("copies") or 0) > 1:
        label.append(f"×{node['copies']} ", style="bold magenta")
    label.append(text, style=Style(bold=node["chosen"], dim=faded))
    if faded:
        label.stylize("dim")
    return label
