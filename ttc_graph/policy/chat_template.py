"""The exact prompt text a local engine continues: chat template plus partial answer.

Shared by the transformers policy and the in-process vLLM policy, so both engines
see the same prompt for the same request.
"""

from __future__ import annotations

from typing import Any

from ttc_graph.policy.base import GenerationRequest

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def render_chat(tokenizer: Any, request: GenerationRequest) -> str:
    """The chat template up to the assistant turn, then ``request.prefix``.

    >>> from langchain_core.messages import HumanMessage  # doctest: +SKIP
    >>> render_chat(tokenizer, GenerationRequest((HumanMessage("2+2?"),), "Step 1:"))
    '<|im_start|>user\\n2+2?<|im_end|>\\n<|im_start|>assistant\\nStep 1:'
    """
    specials = [t for t in tokenizer.all_special_tokens if len(t) > 1]
    chat = [
        {"role": _ROLES.get(m.type, m.type), "content": defang(m.text, specials)}
        for m in request.messages
    ]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    else:
        text = "".join(f"{c['role'].capitalize()}: {c['content']}\n" for c in chat)
        text += "Assistant: "
    return str(text) + defang(request.prefix, specials)


def defang(text: str, specials: list[str]) -> str:
    """Break control tokens inside user text so they stay text.

    A question that contains "<|im_end|>" must not end the user turn early: a
    zero-width joiner keeps the text readable but no longer a control token.
    """
    for token in specials:
        if token in text:
            text = text.replace(token, token[0] + "\u200d" + token[1:])
    return text
