"""Chat messages of a question: read, cleaned, given the system prompt (policy-side, so
that verifiers reading the policy's hidden states build the same prompt)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, convert_to_messages

from ttc_graph.errors import InputError

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Replace lone surrogates (undecodable bytes smuggled into a ``str``) with U+FFFD.

    They come from decoding non-UTF-8 input with ``errors="surrogateescape"``; no
    tokenizer can encode them. The replacement is announced with a warning.
    """
    cleaned, count = _LONE_SURROGATE.subn("\ufffd", text)
    if count:
        warnings.warn(
            f"The question held {count} undecodable character(s) (not valid UTF-8); "
            "each was replaced by U+FFFD.",
            stacklevel=3,
        )
    return cleaned


def _clean_message(message: BaseMessage) -> BaseMessage:
    if isinstance(message.content, str) and _LONE_SURROGATE.search(message.content):
        return message.model_copy(update={"content": clean_text(message.content)})
    return message


def to_messages(question: Any) -> list[BaseMessage]:
    """Normalise a question (string, chat messages, or message dicts) to messages.

    Raises ``ValueError`` for an empty question, one with no user message, or
    bytes (decode them first). Undecodable characters become U+FFFD (see
    :func:`clean_text`); control characters are kept as written.
    """
    if isinstance(question, bytes | bytearray):
        raise InputError(
            "The question is bytes; decode it to text first, e.g. "
            "data.decode('utf-8', errors='replace')."
        )
    if isinstance(question, str):
        if not question.strip():
            raise InputError("The question is empty; pass {'question': 'your problem text'}.")
        return [HumanMessage(clean_text(question))]
    if not isinstance(question, Sequence) or not question:
        raise InputError(
            "question must be a non-empty string or a non-empty list of chat messages, "
            f"got {type(question).__name__}."
        )
    try:
        messages = convert_to_messages(question)
    except (ValueError, NotImplementedError) as exc:
        raise InputError(f"Could not read the question messages: {exc}") from exc
    messages = [_clean_message(m) for m in messages]
    if not question_text(messages).strip():
        raise InputError("The messages contain no non-empty user message to answer.")
    return messages


def question_text(messages: Sequence[BaseMessage]) -> str:
    """The last user message: the problem the verifier scores solutions against."""
    for message in reversed(messages):
        if message.type == "human":
            return message.text
    return ""


def with_system_prompt(
    messages: Sequence[BaseMessage], system_prompt: str | None
) -> tuple[BaseMessage, ...]:
    """Prepend the system prompt unless the user brought their own."""
    if system_prompt and not any(m.type == "system" for m in messages):
        return (SystemMessage(system_prompt), *messages)
    return tuple(messages)
