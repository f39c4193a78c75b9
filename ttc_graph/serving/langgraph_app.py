"""Every strategy as a graph for a LangGraph server (``langgraph dev``, ``langgraph up``).

``langgraph.json`` at the repository root names one factory per strategy from this
module (``ttc_graph.serving.langgraph_app:beam_search``, ...). A factory is called
by the server for each run with the run's config: its ``configurable`` may set
``n``, ``beam_width``, ``max_steps``, ``max_new_tokens``, ``temperature``,
``seed`` and ``verifier`` (one of :data:`SERVED_VERIFIERS`); the rest are the
defaults of ``ttc-graph serve``. The embedded model is loaded on the first run,
once for all graphs, and each distinct set of options is compiled once. The server
adds its own checkpointer, so runs on a thread are persisted and resumable.

Example (a client of ``langgraph dev``)::

    from langgraph_sdk import get_sync_client

    client = get_sync_client(url="http://127.0.0.1:2024")
    thread = client.threads.create()
    result = client.runs.wait(
        thread["thread_id"], "weighted",
        input={"question": "What is 17 + 25?"},
        config={"configurable": {"n": 8, "seed": 0}},
    )
    result["answer"]
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from ttc_graph.errors import LimitError
from ttc_graph.policy.base import Policy, SamplingParams
from ttc_graph.serving.settings import Defaults
from ttc_graph.strategies import NEEDS_VERIFIER, STRATEGIES, build_strategy
from ttc_graph.verifiers.base import Verifier

SERVED_VERIFIERS = ("auto", "grounded", "arithmetic", "judge")
"""Verifiers a run may name. A run cannot load a model from a path it sends; serve
your own verifier from your own graph module instead (docs/serving.md)."""

_INT_OPTIONS = ("n", "beam_width", "max_steps", "max_new_tokens")
GRAPH_CACHE_SIZE = 32

GraphFactory = Callable[[RunnableConfig], Awaitable[CompiledStateGraph]]


@dataclass(frozen=True)
class GraphOptions:
    """What decides one compiled graph (hashable, so equal options share a graph)."""

    strategy: str
    n: int
    beam_width: int
    max_steps: int
    max_new_tokens: int
    temperature: float
    seed: int | None
    verifier: str | None


def graph_options(
    strategy: str, configurable: Mapping[str, Any], defaults: Defaults
) -> GraphOptions:
    """Read a run's ``configurable`` into :class:`GraphOptions`.

    Other keys are ignored: the server puts its own there (``thread_id``, ...).
    """
    for key in _INT_OPTIONS:
        value = configurable.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise LimitError(f"configurable {key!r} must be an integer, got {value!r}.")
    seed = configurable.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise LimitError(f"configurable 'seed' must be an integer or null, got {seed!r}.")
    temperature = configurable.get("temperature", defaults.temperature)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise LimitError(f"configurable 'temperature' must be a number, got {temperature!r}.")
    verifier = configurable.get("verifier")
    if verifier is not None and verifier not in SERVED_VERIFIERS:
        raise LimitError(
            f"configurable 'verifier' must be one of {', '.join(SERVED_VERIFIERS)}, got "
            f"{verifier!r}; to serve another verifier, build the graph in your own module "
            "and name it in your langgraph.json (docs/serving.md)."
        )
    if verifier is None and strategy in NEEDS_VERIFIER:
        verifier = "auto"
    return GraphOptions(
        strategy=strategy,
        n=configurable.get("n", defaults.n),
        beam_width=configurable.get("beam_width", defaults.beam_width),
        max_steps=configurable.get("max_steps", defaults.max_steps),
        max_new_tokens=configurable.get("max_new_tokens", defaults.max_tokens),
        temperature=float(temperature),
        seed=seed,
        verifier=verifier,
    )


class GraphBuilder:
    """Loads the policy once and compiles each distinct strategy graph once.

    Thread-safe: the factories call it from worker threads, never on the server's
    event loop (loading a model there would stall every other request).
    """

    def __init__(
        self, *, load: Callable[[], Policy] | None = None, defaults: Defaults | None = None
    ) -> None:
        self._load = load
        self.defaults = Defaults() if defaults is None else defaults
        self._policy: Policy | None = None
        self._verifiers: dict[str, Verifier] = {}
        self._graphs: OrderedDict[GraphOptions, CompiledStateGraph] = OrderedDict()
        self._lock = threading.Lock()

    def policy(self) -> Policy:
        """The policy, loaded on first use (the embedded model unless ``load`` says else)."""
        with self._lock:
            if self._policy is None:
                if self._load is None:
                    from ttc_graph.policy.loading import load_policy

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

    def graph(self, options: GraphOptions) -> CompiledStateGraph:
        """The compiled graph for ``options``."""
        with self._lock:
            cached = self._graphs.get(options)
            if cached is not None:
                self._graphs.move_to_end(options)
                return cached
        policy = self.policy()
        verifier = self.verifier(options.verifier) if options.verifier else None
        sampling = SamplingParams(
            temperature=options.temperature, max_new_tokens=options.max_new_tokens
        )
        graph = build_strategy(
            options.strategy,
            policy=policy,
            verifier=verifier,
            n=options.n,
            beam_width=options.beam_width,
            max_steps=options.max_steps,
            sampling=sampling,
            seed=options.seed,
        )
        with self._lock:
            self._graphs[options] = graph
            while len(self._graphs) > GRAPH_CACHE_SIZE:
                self._graphs.popitem(last=False)
        return graph


def create_graph_factory(strategy: str, *, builder: GraphBuilder | None = None) -> GraphFactory:
    """A LangGraph server graph factory for one strategy.

    Args:
        strategy: One of :data:`ttc_graph.strategies.STRATEGIES`.
        builder: Shares one policy among factories; default the module's own
            (the embedded model, loaded on first use).

    Returns:
        ``async (config) -> compiled graph``, which the server calls per run with the
        run's config. Building (and the first model load) runs in a worker thread.

    Example (``my_graphs.py``, named in your ``langgraph.json`` as
    ``"./my_graphs.py:beam_search"``)::

        from ttc_graph import load_policy
        from ttc_graph.serving.langgraph_app import GraphBuilder, create_graph_factory

        builder = GraphBuilder(load=lambda: load_policy("Qwen/Qwen2.5-1.5B-Instruct"))
        beam_search = create_graph_factory("beam_search", builder=builder)
    """
    if strategy not in STRATEGIES:
        raise LimitError(f"Unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    shared = SHARED if builder is None else builder

    async def make_graph(config: RunnableConfig) -> CompiledStateGraph:
        options = graph_options(strategy, config.get("configurable") or {}, shared.defaults)
        return await asyncio.to_thread(shared.graph, options)

    make_graph.__name__ = make_graph.__qualname__ = strategy
    return make_graph


SHARED = GraphBuilder()
"""The builder behind this module's factories: the embedded model, loaded on first use."""

greedy = create_graph_factory("greedy")
best_of_n = create_graph_factory("best_of_n")
weighted = create_graph_factory("weighted")
majority = create_graph_factory("majority")
beam_search = create_graph_factory("beam_search")
dvts = create_graph_factory("dvts")
self_refine = create_graph_factory("self_refine")

__all__ = [
    "SERVED_VERIFIERS",
    "GraphBuilder",
    "GraphOptions",
    "beam_search",
    "best_of_n",
    "create_graph_factory",
    "dvts",
    "graph_options",
    "greedy",
    "majority",
    "self_refine",
    "weighted",
]
