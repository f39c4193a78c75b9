"""Every strategy as a graph for a LangGraph server (``langgraph dev``, ``langgraph up``).

``langgraph.json`` at the repository root names one factory per strategy of
:data:`~ttc_graph.strategies.registry.SPECS` from this module
(``ttc_graph.serving.langgraph_app:beam_search``, ...; :func:`langgraph_json` writes
it, and a test checks it against the specs). Each strategy is compiled once, over
the embedded model loaded on the first run; a run's options are its ``context``
(``n``, ``seed``, ``max_new_tokens``, ... — the graph's context schema, which
LangGraph Studio shows), and ``configurable.verifier`` picks one of
:data:`SERVED_VERIFIERS`. Graphs take ``{"question": ...}`` or ``{"messages": [...]}``
(Studio's chat) and append the answer to ``messages``. The server adds its own
checkpointer, so runs on a thread are persisted and resumable.

Example (a client of ``langgraph dev``)::

    from langgraph_sdk import get_sync_client

    client = get_sync_client(url="http://127.0.0.1:2024")
    thread = client.threads.create()
    result = client.runs.wait(
        thread["thread_id"], "weighted",
        input={"messages": [{"role": "user", "content": "What is 17 + 25?"}]},
        context={"n": 8, "seed": 0},
    )
    result["answer"]
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from ttc_graph.errors import LimitError
from ttc_graph.policy.base import Policy
from ttc_graph.strategies.registry import SPECS, get_spec
from ttc_graph.verifiers.base import Verifier

SERVED_VERIFIERS = ("auto", "grounded", "arithmetic", "judge")
"""Verifiers a run may name. A run cannot load a model from a path it sends; serve
your own verifier from your own graph module instead (docs/serving.md)."""

GraphFactory = Callable[[RunnableConfig], Awaitable[CompiledStateGraph[Any, Any, Any, Any]]]


class GraphBuilder:
    """Loads the policy once and compiles each strategy once (per verifier it is run with).

    Thread-safe: the factories call it from worker threads, never on the server's
    event loop (loading a model there would stall every other request).
    """

    def __init__(self, *, load: Callable[[], Policy] | None = None) -> None:
        self._load = load
        self._policy: Policy | None = None
        self._verifiers: dict[str, Verifier] = {}
        self._graphs: dict[tuple[str, str | None], CompiledStateGraph[Any, Any, Any, Any]] = {}
        self._lock = threading.Lock()

    def policy(self) -> Policy:
        """The policy, loaded on first use (the embedded model unless ``load`` says else)."""
        with self._lock:
            if self._policy is None:
                if self._load is None:
                    from ttc_graph.policy import load_policy

                    self._policy = load_policy()
                else:
                    self._policy = self._load()
            return self._policy

    def verifier(self, spec: str) -> Verifier:
        """A verifier from :data:`SERVED_VERIFIERS`, loaded once."""
        policy = self.policy()
        with self._lock:
            if spec not in self._verifiers:
                from ttc_graph.verifiers import load_verifier

                self._verifiers[spec] = load_verifier(spec, policy=policy)
            return self._verifiers[spec]

    def graph(
        self, strategy: str, verifier: str | None = None
    ) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The compiled graph of ``strategy``; ``verifier`` defaults to ``auto`` where the
        strategy needs one."""
        spec = get_spec(strategy)
        if verifier is not None and verifier not in SERVED_VERIFIERS:
            raise LimitError(
                f"configurable 'verifier' must be one of {', '.join(SERVED_VERIFIERS)}, got "
                f"{verifier!r}; to serve another verifier, build the graph in your own module "
                "and name it in your langgraph.json (docs/serving.md)."
            )
        if verifier is None and spec.needs_verifier:
            verifier = "auto"
        key = (strategy, verifier)
        with self._lock:
            if key in self._graphs:
                return self._graphs[key]
        policy = self.policy()
        loaded = self.verifier(verifier) if verifier else None
        graph = spec.build(policy=policy, verifier=loaded)
        with self._lock:
            return self._graphs.setdefault(key, graph)


def create_graph_factory(strategy: str, *, builder: GraphBuilder | None = None) -> GraphFactory:
    """A LangGraph server graph factory for one strategy.

    Args:
        strategy: A name of :data:`~ttc_graph.strategies.registry.SPECS`.
        builder: Shares one policy among factories; default the module's own
            (the embedded model, loaded on first use).

    Returns:
        ``async (config) -> compiled graph``, which the server calls per run with the
        run's config; the graph is the same for every run (options come in its
        context). Building (and the first model load) runs in a worker thread.

    Example (``my_graphs.py``, named in your ``langgraph.json`` as
    ``"./my_graphs.py:beam_search"``)::

        from ttc_graph import load_policy
        from ttc_graph.serving.langgraph_app import GraphBuilder, create_graph_factory

        builder = GraphBuilder(load=lambda: load_policy("Qwen/Qwen2.5-1.5B-Instruct"))
        beam_search = create_graph_factory("beam_search", builder=builder)
    """
    get_spec(strategy)
    shared = SHARED if builder is None else builder

    async def make_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
        verifier = (config.get("configurable") or {}).get("verifier")
        return await asyncio.to_thread(shared.graph, strategy, verifier)

    make_graph.__name__ = make_graph.__qualname__ = strategy
    return make_graph


def langgraph_json() -> dict[str, Any]:
    """The repository's ``langgraph.json``: one graph per registered strategy."""
    return {
        "dependencies": ["."],
        "graphs": {name: f"{__name__}:{name}" for name in SPECS},
        "env": {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"},
    }


SHARED = GraphBuilder()
"""The builder behind this module's factories: the embedded model, loaded on first use."""


# ``module:weighted`` in langgraph.json: a factory per strategy, as module variables
# (a LangGraph server reads the module's ``__dict__``).
globals().update({name: create_graph_factory(name) for name in SPECS})


def __getattr__(name: str) -> GraphFactory:
    # A strategy registered after this module was imported.
    if name in SPECS:
        factory = create_graph_factory(name)
        globals()[name] = factory
        return factory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
