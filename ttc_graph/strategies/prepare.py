"""How every run starts: its input read as a conversation, its options checked and stored."""

from __future__ import annotations

import random
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from ttc_graph.errors import InputError
from ttc_graph.policy.messages import question_text, to_messages
from ttc_graph.strategies.context import RunOptions
from ttc_graph.strategies.nodes import ROOT, NodeFn, node
from ttc_graph.strategies.state import SearchState, empty_usage


def run_options_of(schema: type[RunOptions], context: Any) -> RunOptions:
    """This graph's options from the run's context: ``None`` (the graph's defaults), its
    options object, or a dict of options (checked). Another graph's context (this graph
    runs inside a graph with a context of its own) leaves the defaults."""
    if context is None or (isinstance(context, RunOptions) and not isinstance(context, schema)):
        return schema()
    if isinstance(context, schema):
        return context
    if isinstance(context, dict):
        return schema(**context)
    return schema()


def conversation_of(state: SearchState) -> tuple[list[BaseMessage], list[BaseMessage]]:
    """This run's conversation, and the messages to add to the thread's ``messages``.

    A ``question`` is this run's input (its messages join the thread); otherwise the
    thread's ``messages`` are the conversation and must end with a user message.
    """
    question = state.get("question")
    if question is not None:
        conversation = to_messages(question)
        return conversation, conversation
    messages = list(state.get("messages") or [])
    if not messages:
        raise InputError(
            "Invoke the graph with {'question': 'your problem text'} or "
            "{'messages': [{'role': 'user', 'content': 'your problem text'}]}."
        )
    last = next((m for m in reversed(messages) if m.type != "system"), None)
    if last is None or last.type != "human":
        raise InputError(
            "The last message is not a user message, so there is no new question to answer; "
            "add one, e.g. {'messages': [{'role': 'user', 'content': '...'}]}."
        )
    return to_messages(messages), []


def make_prepare(schema: type[RunOptions]) -> NodeFn:
    """Node: check the input and the run's options, and start a fresh search state.

    Usage and trace are overwritten, not added to: a second question on a thread
    starts from nothing. The resolved options are stored in the state, so every
    later node (and a resumed run) reads the options the run started with.
    """

    def prepare(state: SearchState, runtime: Runtime[Any]) -> dict[str, Any]:
        cfg = run_options_of(schema, runtime.context).config()
        conversation, added = conversation_of(state)
        text = question_text(conversation)
        seed = cfg.seed if cfg.seed is not None else random.SystemRandom().randrange(2**31)
        root = node(ROOT, None, text, 0, 0)
        root["status"] = "root"
        return {
            "question": None,
            "messages": added,
            "conversation": conversation,
            "options": cfg.to_dict(),
            "question_text": text,
            "seed": seed,
            "iteration": 0,
            "beams": [],
            "pending": [],
            "finished": [],
            "usage": Overwrite(empty_usage()),
            "trace": Overwrite({ROOT: root}),
            "strategy": cfg.strategy,
            "budget_limited": False,
        }

    return prepare
