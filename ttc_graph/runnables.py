"""Drop-in wrappers: a strategy graph as an LCEL chat step or as an agent tool."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from ttc_graph.errors import InputError

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _to_graph_input(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"question": value}
    if isinstance(value, PromptValue):
        return {"question": value.to_messages()}
    if isinstance(value, BaseMessage):
        return {"question": [value]}
    if isinstance(value, dict):
        if "question" not in value:
            raise InputError(
                "A dict input needs a 'question' key, e.g. {'question': 'What is 2 + 2?'}."
            )
        return value
    if isinstance(value, Sequence):
        return {"question": list(value)}
    raise InputError(
        f"Cannot use {type(value).__name__} as a question; pass a string, a prompt value, "
        "chat messages or {'question': ...}."
    )


def _to_message(result: dict[str, Any], include_trace: bool) -> AIMessage:
    answer = result.get("answer")
    metadata = {
        key: result.get(key)
        for key in ("answer", "solution", "strategy", "usage", "candidates", "budget_limited")
    }
    if include_trace:
        metadata["trace"] = result.get("trace")
    usage = result.get("usage") or {}
    return AIMessage(
        content=answer if answer is not None else (result.get("solution") or ""),
        response_metadata=metadata,
        usage_metadata={
            "input_tokens": int(usage.get("prompt_tokens", 0)),
            "output_tokens": int(usage.get("completion_tokens", 0)),
            "total_tokens": int(usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)),
        },
    )


def as_chain(graph: Runnable, *, include_trace: bool = False) -> Runnable[Any, AIMessage]:
    """Wrap a strategy graph as a runnable from question to ``AIMessage``.

    Accepts a string, a prompt value, chat messages or ``{"question": ...}``; the
    message content is the final answer (the full solution when no answer could be
    extracted) and ``response_metadata`` holds the solution, candidates, usage and
    strategy, so ``prompt | as_chain(graph) | StrOutputParser()`` yields the answer.
    """
    if not isinstance(graph, Runnable):
        raise InputError("as_chain needs a strategy graph, e.g. create_best_of_n(...).")
    name = getattr(graph, "name", None) or "ttc_graph"
    chain = (
        RunnableLambda(_to_graph_input, name="to_question")
        | graph
        | RunnableLambda(lambda r: _to_message(r, include_trace), name="to_message")
    )
    return chain.with_config(run_name=name)


class _Question(BaseModel):
    question: str = Field(description="The full maths problem to solve, with all numbers.")


def as_tool(graph: Runnable, *, name: str, description: str) -> BaseTool:
    """Wrap a strategy graph as a tool an agent can call with a ``question``.

    The tool's content is the final answer; the full result (solution, candidates,
    usage, trace) is the tool message's ``artifact``.
    """
    if not isinstance(graph, Runnable):
        raise InputError("as_tool needs a strategy graph, e.g. create_best_of_n(...).")
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise InputError(
            f"Tool name {name!r} is invalid: use 1-64 letters, digits, '_' or '-', "
            "e.g. name='solve_math'."
        )
    if not isinstance(description, str) or not description.strip():
        raise InputError("as_tool needs a description telling the agent when to use the tool.")

    def content(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        answer = result.get("answer")
        text = f"Final answer: {answer}" if answer is not None else "No final answer was found."
        return text, result

    def run(question: str) -> tuple[str, dict[str, Any]]:
        return content(graph.invoke({"question": question}))

    async def arun(question: str) -> tuple[str, dict[str, Any]]:
        return content(await graph.ainvoke({"question": question}))

    return StructuredTool.from_function(
        func=run,
        coroutine=arun,
        name=name,
        description=description,
        args_schema=_Question,
        response_format="content_and_artifact",
    )
