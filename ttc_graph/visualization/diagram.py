"""Strategy graph diagrams: Mermaid text, and PNG images drawn offline with Graphviz.

LangGraph's own PNG export calls a web service; here the diagram is built from
``graph.get_graph()`` nodes and edges and laid out by the local ``dot`` binary,
so it works without network. Drawing a strategy needs no model: the graph is
built over :class:`DiagramOnlyPolicy` and :class:`DiagramOnlyVerifier`, which
refuse to run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.graph import Graph

from ttc_graph.errors import InputError, TTCGraphError
from ttc_graph.outputs import write_atomic
from ttc_graph.policy.base import Completion, GenerationRequest, SamplingParams
from ttc_graph.strategies import build_strategy
from ttc_graph.strategies.registry import get_spec
from ttc_graph.verifiers.base import Verifier
from ttc_graph.visualization.trace import check_output_path

INSTALL_DOT = (
    "install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS), or scripts/install-test-deps.sh"
)
_STOPPED = "is a stand-in for drawing strategy diagrams and cannot {what}; build the strategy "


class GraphvizNotFoundError(TTCGraphError, FileNotFoundError):
    """The Graphviz ``dot`` program (or the ``graphviz`` Python package) is missing."""


class DiagramOnlyPolicy:
    """A policy for building a strategy graph only to draw it: it refuses to generate."""

    model_id = "diagram-only"

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        """Always raises: this object exists only to draw diagrams."""
        raise RuntimeError(
            "DiagramOnlyPolicy "
            + _STOPPED.format(what="generate")
            + "with ttc_graph.load_policy() to run it."
        )

    async def asample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        """Always raises: this object exists only to draw diagrams."""
        return self.sample(requests, n=n, params=params, config=config, first_index=first_index)


class DiagramOnlyVerifier(Verifier):
    """A verifier for building a strategy graph only to draw it: it refuses to score."""

    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        """Always raises: this object exists only to draw diagrams."""
        raise RuntimeError(
            "DiagramOnlyVerifier "
            + _STOPPED.format(what="score")
            + "with a real verifier to run it."
        )


def strategy_graph(strategy: str, *, with_verifier: bool | None = None) -> Any:
    """The compiled graph of a strategy by CLI name, built without loading any model.

    ``with_verifier`` chooses whether the graph has a scoring node (the optional
    verifier of ``majority``, ``greedy`` and ``self_refine`` changes the graph);
    by default a verifier is used exactly where the strategy requires one.
    """
    use = get_spec(strategy).needs_verifier if with_verifier is None else with_verifier
    return build_strategy(
        strategy, policy=DiagramOnlyPolicy(), verifier=DiagramOnlyVerifier() if use else None
    )


def draw_mermaid(graph: Any) -> str:
    """Mermaid flowchart text of a compiled LangGraph graph (or its ``get_graph()``)."""
    return _drawable(graph).draw_mermaid()


def graphviz_source(graph: Any, *, title: str | None = None) -> Any:
    """A ``graphviz.Digraph`` of the graph: conditional edges dashed, start/end as ovals."""
    try:
        import graphviz
    except ImportError as exc:
        raise GraphvizNotFoundError(
            "Drawing PNG diagrams needs the graphviz Python package: "
            "pip install 'ttc-graph[diagrams]' (and the dot program: " + INSTALL_DOT + ")."
        ) from exc
    drawable = _drawable(graph)
    dot = graphviz.Digraph(name=title or "strategy")
    dot.attr(rankdir="TB", dpi="144", fontname="Helvetica", nodesep="0.5", ranksep="0.45")
    if title:
        dot.attr(label=title, labelloc="t", fontsize="16")
    dot.attr("node", fontname="Helvetica", fontsize="13", margin="0.18,0.07")
    dot.attr("edge", fontname="Helvetica", fontsize="11", color="#555b66")
    for node_id, node in drawable.nodes.items():
        if node_id in ("__start__", "__end__"):
            label = "start" if node_id == "__start__" else "end"
            fill = "#ffffff" if node_id == "__start__" else "#bfb6fc"
            dot.node(node_id, label, shape="oval", style="filled", fillcolor=fill)
        else:
            dot.node(
                node_id,
                node.name,
                shape="box",
                style="rounded,filled",
                fillcolor="#f2f0ff",
                color="#6f5fd6",
            )
    for edge in drawable.edges:
        label = str(edge.data) if edge.data is not None else ""
        dot.edge(
            edge.source, edge.target, label=label, style="dashed" if edge.conditional else "solid"
        )
    return dot


def draw_png(graph: Any, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write a PNG of the graph with the local Graphviz ``dot`` (no network); return the path."""
    target = check_output_path(path, example="graph.png")
    if shutil.which("dot") is None:
        raise GraphvizNotFoundError(f"The Graphviz `dot` program is not on PATH; {INSTALL_DOT}.")
    import graphviz

    try:
        data = graphviz_source(graph, title=title).pipe(format="png")
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizNotFoundError(f"Graphviz `dot` could not be run; {INSTALL_DOT}.") from exc
    return write_atomic(target, data)


def _drawable(graph: Any) -> Graph:
    if isinstance(graph, Graph):
        return graph
    get_graph = getattr(graph, "get_graph", None)
    if not callable(get_graph):
        raise InputError(
            "Expected a compiled LangGraph graph (or its get_graph()), got "
            f"{type(graph).__name__}; for a strategy by name use strategy_graph('beam_search')."
        )
    drawable = get_graph()
    if not isinstance(drawable, Graph):
        raise InputError(f"{type(graph).__name__}.get_graph() did not return a drawable graph.")
    return drawable
