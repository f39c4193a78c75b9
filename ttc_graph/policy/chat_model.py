"""Any LangChain chat model as a policy: scale out to a served model (vLLM, llama.cpp).

``ChatModelPolicy(ChatOpenAI(base_url=...))`` asks the server for ``n`` candidates
in one request where the model supports ``n`` and falls back to concurrent calls
where it does not (or where the server returned fewer). Stop strings are passed
through; since OpenAI-style servers drop the matched stop string from the text,
the step delimiter is put back so steps look the same as with a local model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration
from langchain_core.runnables import RunnableConfig, ensure_config

from ttc_graph.policy.base import (
    Completion,
    FinishReason,
    GenerationRequest,
    SamplingParams,
    check_n,
)

# Fields of a chat model that carry sampling settings, by our name; forwarded as
# call keyword arguments only when the model declares them.
_FORWARDED = {"temperature": "temperature", "top_p": "top_p", "seed": "seed"}
_MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens", "max_new_tokens", "num_predict")


class ChatModelPolicy:
    """Adapts a ``BaseChatModel`` to the :class:`~ttc_graph.policy.Policy` protocol.

    Args:
        model: Any LangChain chat model.
        max_concurrency: Most simultaneous calls when ``n`` must be emulated.
        supports_n: Force (``True``/``False``) whether to ask for ``n`` per request;
            by default, models with an ``n`` field (``ChatOpenAI``) are asked.

    A partial answer (``GenerationRequest.prefix``) is sent as a trailing
    ``AIMessage``; vLLM continues it when the request carries
    ``extra_body={"continue_final_message": True, "add_generation_prompt": False}``
    (set it on the ``ChatOpenAI``), other servers may start a new turn instead.
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        max_concurrency: int = 8,
        supports_n: bool | None = None,
    ) -> None:
        if not isinstance(model, BaseChatModel):
            raise ValueError(
                f"ChatModelPolicy needs a LangChain chat model, got {type(model).__name__}; "
                "for a local transformers model use ttc_graph.load_policy()."
            )
        check_n(max_concurrency)
        self.model = model
        self.max_concurrency = max_concurrency
        fields = type(model).model_fields
        self.supports_n = "n" in fields if supports_n is None else supports_n
        self._fields = set(fields)

    @property
    def model_id(self) -> str:
        """A readable name of the wrapped model."""
        for attr in ("model_name", "model", "model_id"):
            value = getattr(self.model, attr, None)
            if isinstance(value, str):
                return value
        return type(self.model).__name__

    def _kwargs(self, params: SamplingParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for ours, theirs in _FORWARDED.items():
            value = getattr(params, ours)
            if theirs in self._fields and value is not None:
                kwargs[theirs] = value
        for name in _MAX_TOKENS_FIELDS:
            if name in self._fields:
                kwargs[name] = params.max_new_tokens
                break
        return kwargs

    @staticmethod
    def _messages(request: GenerationRequest) -> list[BaseMessage]:
        messages = list(request.messages)
        if request.prefix:
            messages.append(AIMessage(request.prefix))
        return messages

    def _completion(self, gen: ChatGeneration, params: SamplingParams) -> Completion:
        info = gen.generation_info or {}
        text: str = str(gen.message.text)
        raw_reason = str(info.get("finish_reason") or "stop")
        matched = info.get("stop_reason")
        reason: FinishReason
        if raw_reason == "length":
            reason = "length"
        elif not text.strip():
            reason = "eos"  # nothing more to say: the answer is complete
        elif params.stop and (isinstance(matched, str) or matched is None):
            # The server stopped on our delimiter (vLLM names it in stop_reason) or
            # could not tell us; either way the step ended there, so restore it.
            delimiter = matched if isinstance(matched, str) else params.stop[0]
            text, reason = text + delimiter, "stop"
        else:
            reason = "eos"
        usage = getattr(gen.message, "usage_metadata", None) or {}
        return Completion(
            text=text,
            finish_reason=reason,
            completion_tokens=int(usage.get("output_tokens", 0)),
            prompt_tokens=int(usage.get("input_tokens", 0)),
        )

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions per request (runs the async path on its own loop)."""
        return asyncio.run(self.asample(requests, n=n, params=params, config=config))

    async def asample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions per request: one ``n``-request each where supported."""
        check_n(n)
        p = params or SamplingParams()
        cfg = ensure_config(config)
        limit = asyncio.Semaphore(self.max_concurrency)

        async def one_call(messages: list[BaseMessage], count: int) -> list[ChatGeneration]:
            kwargs = self._kwargs(p)
            if count > 1:
                kwargs["n"] = count
            async with limit:
                result = await self.model.agenerate(
                    [messages],
                    stop=list(p.stop) or None,
                    callbacks=cfg.get("callbacks"),
                    tags=cfg.get("tags"),
                    metadata=cfg.get("metadata"),
                    **kwargs,
                )
            return [g for g in result.generations[0] if isinstance(g, ChatGeneration)]

        async def for_request(request: GenerationRequest) -> list[Completion]:
            messages = self._messages(request)
            gens: list[ChatGeneration] = []
            if self.supports_n:
                gens = (await one_call(messages, n))[:n]
            missing = n - len(gens)
            if missing > 0:
                # No n support, or the server returned fewer: top up with parallel calls.
                more = await asyncio.gather(*(one_call(messages, 1) for _ in range(missing)))
                gens.extend(g[0] for g in more if g)
            if len(gens) < n:
                raise RuntimeError(f"{self.model_id} returned {len(gens)} of {n} candidates.")
            return [self._completion(g, p) for g in gens]

        return list(await asyncio.gather(*(for_request(r) for r in requests)))
