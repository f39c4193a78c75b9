"""Typed state of every strategy graph, with explicit reducers.

All strategies share one state schema: a pool of partial solutions (``beams``)
that nodes expand, score and prune; the ``finished`` pool; accumulated ``usage``;
and the search ``trace`` (a dict of nodes keyed by id, so a later node can update
the status of an earlier one).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from langchain_core.messages import AnyMessage, BaseMessage
from langgraph.graph.message import add_messages

# Not typing.TypedDict: on Python < 3.12 pydantic cannot build a JSON schema from it, and
# a LangGraph server (langgraph dev) then shows clients no input or output schema.
from typing_extensions import TypedDict

NodeStatus = Literal["root", "active", "kept", "pruned", "finished"]


class Usage(TypedDict):
    """Compute spent by one search."""

    completion_tokens: int
    prompt_tokens: int
    policy_calls: int
    verifier_calls: int
    seconds: float


def empty_usage() -> Usage:
    """A zero usage record."""
    return Usage(
        completion_tokens=0, prompt_tokens=0, policy_calls=0, verifier_calls=0, seconds=0.0
    )


def add_usage(old: Usage | None, new: Usage | None) -> Usage:
    """Reducer: usage only ever accumulates."""
    total = empty_usage()
    for part in (old, new):
        if part:
            for key in total:
                total[key] += part.get(key, 0)  # type: ignore[literal-required]
    return total


class TraceNode(TypedDict):
    """One node of the search tree: a step (or the question, at the root)."""

    id: str
    parent: str | None
    text: str
    score: float | None
    iteration: int
    status: NodeStatus
    chosen: bool
    """True for every node on the path of the chosen solution."""
    group: int
    """Subtree index (DVTS) or refinement round (self-refine); 0 otherwise."""
    copies: NotRequired[int]
    """How many particles a resampling drew from this one (particle filter; absent: 0 or 1)."""


def merge_trace(
    old: dict[str, TraceNode] | None, new: dict[str, TraceNode] | None
) -> dict[str, TraceNode]:
    """Reducer: add nodes and overwrite the ones whose status changed."""
    return {**(old or {}), **(new or {})}


class Beam(TypedDict):
    """A partial or complete solution: the steps written so far and their scores."""

    id: str
    """Trace id of the last step."""
    node_ids: list[str]
    """Trace id of every step, root side first: the beam's path in the tree."""
    steps: list[str]
    step_scores: list[float]
    score: float | None
    """Aggregated score (None where no verifier scored it)."""
    finished: bool
    finish_reason: str
    completion_tokens: int
    group: int
    lookahead: str
    """Greedy roll-out past the last step, scored but not kept (beam search lookahead)."""
    support: NotRequired[dict[str, float]]
    """Votes its checked work lends to answers (:meth:`~ttc_graph.verifiers.Verifier.support`)."""


class Candidate(TypedDict):
    """A complete solution as reported in the result."""

    id: str
    text: str
    steps: list[str]
    step_scores: list[float]
    score: float | None
    answer: str | None
    finish_reason: str
    completion_tokens: int
    group: int
    support: NotRequired[dict[str, float]]
    """Votes its checked work lends to answers in a weighted vote (absent: none)."""


class InputState(TypedDict, total=False):
    """What a strategy graph is invoked with: a ``question`` (a string or chat messages),
    or ``messages`` as in LangGraph's ``MessagesState`` (the last one a user message)."""

    question: str | list[BaseMessage] | list[dict[str, Any]] | None
    """This run's question; the run consumes it (it is ``None`` afterwards)."""
    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation; each run appends its question (when given as ``question``) and
    its answer as an AI message."""


class OutputState(TypedDict, total=False):
    """What a strategy graph returns."""

    messages: Annotated[list[AnyMessage], add_messages]
    question_text: str
    """The question as plain text (the last user message)."""
    answer: str | None
    solution: str | None
    candidates: list[Candidate]
    usage: Usage
    trace: dict[str, TraceNode]
    strategy: str
    budget_limited: bool
    routes: list[dict[str, Any]]
    """Adaptive only: each routing decision (route, reason, posterior, spend) in order."""
    options: dict[str, Any]
    """The options this run used (its context, resolved with the graph's defaults)."""


class SearchState(InputState, OutputState, total=False):
    """The full working state of a search."""

    conversation: list[BaseMessage]
    """The messages the policy continues (system prompt not yet added)."""
    seed: int
    iteration: int
    beams: list[Beam]
    """Beams still being extended."""
    pending: list[Beam]
    """Candidates generated in this iteration, not yet pruned."""
    finished: list[Beam]
    """Beams that reached EOS, a final answer or the step limit."""
    usage: Annotated[Usage, add_usage]
    trace: Annotated[dict[str, TraceNode], merge_trace]
    critique: str
