"""A LangChain LLM over a local transformers model that serves search.

:class:`HuggingFacePolicy` is a plain LangChain ``BaseLLM`` (so ``invoke``,
``batch``, ``ainvoke`` and callbacks behave as in any LangChain LLM) holding a
transformers model and its tokenizer; its ``_generate`` is one batched
``model.generate`` that returns N candidates per prompt, stops at step delimiters
and reports finish reasons, token counts and logprobs.

Reliability: a prompt longer than the model's context is refused with
:class:`~ttc_graph.errors.InputTooLongError` or, with ``on_long_input="truncate"``,
shortened in the middle of the question with a warning. Cancelling an awaiting
``asample``/``ainvoke`` stops its rows after the current token, and a deadline set
with :func:`ttc_graph.reliability.deadline_scope` stops them when it passes.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.outputs import Generation, LLMResult
from langchain_core.runnables import RunnableConfig, ensure_config
from pydantic import ConfigDict, PrivateAttr, field_validator, model_validator

from ttc_graph.errors import InputError, InputTooLongError
from ttc_graph.policy.base import (
    Completion,
    GenerationRequest,
    SamplingParams,
    check_first_index,
    check_n,
)
from ttc_graph.policy.batching import Coalescer
from ttc_graph.policy.chat_template import render_chat
from ttc_graph.policy.generation import default_max_batch_size, generate_candidates
from ttc_graph.policy.prefix_cache import PrefixCache
from ttc_graph.reliability import StopSignal, current_deadline

_CALL_KWARGS = {"n", "temperature", "top_p", "max_new_tokens", "seed", "logprobs", "first_index"}
_ELLIPSIS = "\n[…]\n"


class HuggingFacePolicy(BaseLLM):
    """Local causal LM as a LangChain LLM that returns many candidates per prompt.

    Create it with :func:`ttc_graph.load_policy`, the one loading path (embedded
    GGUF, local directory, ``.gguf`` file or hub id; device and dtype). As an LLM,
    ``invoke(text)`` continues raw text; strategies call :meth:`sample`, which
    applies the chat template and continues a partial assistant answer.

    Layering: a plain ``BaseLLM`` that holds the model and tokenizer, not a
    ``langchain_huggingface.HuggingFacePipeline``. Every generation goes through
    our own batched ``generate`` (per-row seeding, step stops, prefix cache), so a
    transformers pipeline, its ``batch_size``, its ``from_model_id`` (which skipped
    the padding set-up) and its token-streaming ``_stream`` (which bypassed all of
    that) had nothing left to do. ``stream()`` yields the whole completion as one
    chunk. To share a loaded model between policies with other settings, build one
    from the parts; the tokenizer is set to pad on the left on construction::

        policy = load_policy()
        plain = HuggingFacePolicy(
            model=policy.model, tokenizer=policy.tokenizer, prefix_cache_mb=0
        )

    langchain-huggingface is the bridge in the other direction: a model you already
    hold as a ``HuggingFacePipeline`` (or a ``ChatHuggingFace`` over one) becomes a
    policy with :meth:`from_langchain`, sharing its weights.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    model: Any
    """The transformers causal LM (already on its device, in eval mode)."""
    tokenizer: Any
    """Its tokenizer; padding is set to the left (generation appends on the right)."""
    model_id: str | None = None
    """A readable name; default the model's ``name_or_path``."""
    temperature: float = 0.0
    """Default sampling temperature for plain ``invoke`` (0 = greedy)."""
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int | None = None
    max_batch_size: int = default_max_batch_size()
    """Rows per ``generate`` call; larger requests run in chunks to bound memory."""
    cache: bool | None = False
    coalesce_window_s: float = 0.01
    """How long the first of several concurrent calls waits for others to batch with."""
    on_long_input: Literal["error", "truncate"] = "error"
    """A prompt that does not fit the context: refuse it, or cut the question's middle."""
    max_input_tokens: int | None = None
    """Prompt token limit; default the model's context minus ``max_new_tokens``."""
    prefix_cache_mb: float = 256.0
    """Memory for reusing the KV cache of prompt prefixes (the question, kept beams)
    across calls, so search does not re-encode them every step; 0 turns reuse off."""

    _coalescer: Coalescer | None = PrivateAttr(default=None)
    _prefix_cache: PrefixCache | None = PrivateAttr(default=None)
    _init_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="before")
    @classmethod
    def _no_pipeline(cls, values: Any) -> Any:
        if isinstance(values, dict) and "pipeline" in values:
            raise InputError(
                "HuggingFacePolicy takes model= and tokenizer=, not a pipeline: "
                "HuggingFacePolicy(model=pipe.model, tokenizer=pipe.tokenizer), or load_policy()."
            )
        return values

    @model_validator(mode="after")
    def _prepare_tokenizer(self) -> HuggingFacePolicy:
        # Batched generation pads on the left so that every row ends where it
        # continues; a tokenizer without a pad token pads with EOS (masked anyway).
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.model_id is None:
            self.model_id = getattr(self.model, "name_or_path", None)
        return self

    @classmethod
    def from_langchain(cls, llm: Any, **policy_kwargs: Any) -> HuggingFacePolicy:
        """A policy over the model and tokenizer of a langchain-huggingface LLM.

        ``llm`` is a ``langchain_huggingface.HuggingFacePipeline`` or a
        ``ChatHuggingFace`` whose ``llm`` is one; the weights are shared, not copied.
        ``policy_kwargs`` are fields of this class (``temperature``, ...).

        Example:
            >>> from langchain_huggingface import HuggingFacePipeline
            >>> hf = HuggingFacePipeline.from_model_id(
            ...     "Qwen/Qwen2.5-0.5B-Instruct", task="text-generation"
            ... )  # doctest: +SKIP
            >>> policy = HuggingFacePolicy.from_langchain(hf)  # doctest: +SKIP
        """
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline

        inner = llm.llm if isinstance(llm, ChatHuggingFace) else llm
        if not isinstance(inner, HuggingFacePipeline):
            raise InputError(
                f"from_langchain takes a langchain_huggingface HuggingFacePipeline (or a "
                f"ChatHuggingFace over one), got {type(llm).__name__}; a served chat model "
                "goes through ttc_graph.policy.ChatModelPolicy instead."
            )
        pipe = inner.pipeline
        if getattr(pipe, "task", None) != "text-generation":
            raise InputError(
                f"from_langchain needs a text-generation pipeline, got task "
                f"{getattr(pipe, 'task', None)!r}."
            )
        policy_kwargs.setdefault("model_id", inner.model_id)
        return cls(model=pipe.model, tokenizer=pipe.tokenizer, **policy_kwargs)

    @property
    def _llm_type(self) -> str:
        return "ttc_graph_huggingface"

    @property
    def _identifying_params(self) -> Mapping[str, Any]:
        return {
            "model_id": self.model_id,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
        }

    @field_validator("prefix_cache_mb")
    @classmethod
    def _check_prefix_cache_mb(cls, value: float) -> float:
        if value < 0:
            raise InputError(f"prefix_cache_mb must be >= 0 (0 turns reuse off), got {value}.")
        return value

    @property
    def prefix_cache(self) -> PrefixCache | None:
        """The prompt-prefix KV cache (with its prefill statistics); None when turned off."""
        with self._init_lock:
            if self.prefix_cache_mb == 0:
                self._prefix_cache = None
            elif self._prefix_cache is None:
                self._prefix_cache = PrefixCache(max_bytes=int(self.prefix_cache_mb * 2**20))
            return self._prefix_cache

    def _batcher(self) -> Coalescer:
        # One model, one generate at a time: concurrent callers (graph.batch, agents
        # on several threads) are merged into a shared batch instead of queueing.
        with self._init_lock:
            if self._coalescer is None:
                self._coalescer = Coalescer(self._run_batch, window_s=self.coalesce_window_s)
            return self._coalescer

    def _run_batch(
        self,
        prompts: list[str],
        counts: list[int],
        seeds: list[int | None],
        params: SamplingParams,
        *,
        first_index: list[int],
        stops: list[StopSignal | None],
    ) -> list[list[Completion]]:
        return generate_candidates(
            self.model,
            self.tokenizer,
            prompts,
            n=counts,
            seeds=seeds,
            params=params,
            max_batch_size=self.max_batch_size,
            prefix_cache=self.prefix_cache,
            first_index=first_index,
            stops=stops,
        )

    # -- prompts -------------------------------------------------------------

    def render(self, request: GenerationRequest) -> str:
        """The exact text the model sees: chat template up to the assistant turn + prefix."""
        return render_chat(self.tokenizer, request)

    def fit(self, request: GenerationRequest, max_new_tokens: int) -> str:
        """:meth:`render`, checked against the context left after ``max_new_tokens``.

        Raises :class:`InputTooLongError` when the prompt does not fit, unless
        ``on_long_input="truncate"``: then the middle of the last user message is
        replaced by ``[…]`` until it fits, with a warning.
        """
        if self.on_long_input not in ("error", "truncate"):
            raise InputError(
                f"on_long_input must be 'error' or 'truncate', got {self.on_long_input!r}."
            )
        text = self.render(request)
        limit = self._input_limit(max_new_tokens)
        if limit is not None and limit < 1:
            context = getattr(self.model.config, "max_position_embeddings", None)
            raise InputTooLongError(
                f"max_new_tokens={max_new_tokens} leaves no room for the prompt: "
                f"{self.model_id or 'the model'} has a context of {context} tokens"
                + (
                    f" and max_input_tokens={self.max_input_tokens}"
                    if self.max_input_tokens
                    else ""
                )
                + ". Lower max_new_tokens (--max-new-tokens) well below the context."
            )
        # A token spans at least one character: short prompts need no tokenizing.
        if limit is None or len(text) <= limit:
            return text
        length = self._count(text)
        if length <= limit:
            return text
        if self.on_long_input == "error":
            raise InputTooLongError(
                f"The prompt is {length} tokens but at most {limit} fit (the model's context "
                f"minus max_new_tokens={max_new_tokens}). Shorten the question, lower "
                "max_new_tokens, or load the policy with on_long_input='truncate' (on the "
                "command line: --on-long-input truncate)."
            )
        for _ in range(4):  # token boundaries shift a little when text is cut
            request = self._shorten(request, length - limit)
            text = self.render(request)
            length = self._count(text)
            if length <= limit:
                warnings.warn(
                    f"The question was cut to fit the model's context ({limit} prompt tokens); "
                    "its middle was replaced by '[…]'.",
                    stacklevel=2,
                )
                return text
        raise InputTooLongError(
            f"The prompt is still {length} tokens after cutting the question, but at most "
            f"{limit} fit: the system prompt or the partial answer alone is too long. "
            "Lower max_new_tokens or max_steps, or use a model with a longer context."
        )

    def _input_limit(self, max_new_tokens: int) -> int | None:
        context = getattr(self.model.config, "max_position_embeddings", None)
        limits = [x for x in (self.max_input_tokens,) if x is not None]
        if isinstance(context, int):
            limits.append(context - max_new_tokens)
        return min(limits) if limits else None

    def _count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _shorten(self, request: GenerationRequest, excess: int) -> GenerationRequest:
        """Drop ``excess`` tokens (plus room for the marker) from the last user message."""
        messages = list(request.messages)
        index = max((i for i, m in enumerate(messages) if m.type == "human"), default=None)
        if index is None:
            return request
        ids = self.tokenizer(messages[index].text, add_special_tokens=False)["input_ids"]
        keep = max(0, len(ids) - excess - self._count(_ELLIPSIS) - 2)
        head = ids[: keep // 2]
        tail = ids[len(ids) - (keep - keep // 2) :] if keep else []
        text = self.tokenizer.decode(head) + _ELLIPSIS + self.tokenizer.decode(tail)
        messages[index] = messages[index].model_copy(update={"content": text})
        return replace(request, messages=tuple(messages))

    # -- LangChain LLM -------------------------------------------------------

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> SamplingParams:
        unknown = set(kwargs) - _CALL_KWARGS
        if unknown:
            raise InputError(
                f"Unsupported generation argument(s) {sorted(unknown)}; "
                f"HuggingFacePolicy accepts {sorted(_CALL_KWARGS)} and stop=[...]."
            )
        return SamplingParams(
            temperature=kwargs.get("temperature", self.temperature),
            top_p=kwargs.get("top_p", self.top_p),
            max_new_tokens=kwargs.get("max_new_tokens", self.max_new_tokens),
            stop=tuple(stop or ()),
            seed=kwargs.get("seed", self.seed),
            logprobs=kwargs.get("logprobs", False),
        )

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        return self._submit(prompts, stop, kwargs, StopSignal(deadline=current_deadline()))

    def _submit(
        self, prompts: list[str], stop: list[str] | None, kwargs: dict[str, Any], signal: StopSignal
    ) -> LLMResult:
        n = check_n(kwargs.get("n", 1))
        params = self._params(stop, kwargs)
        first = check_first_index(kwargs.get("first_index", 0))
        batches = self._batcher().submit(prompts, n, params, first_index=first, stop=signal)
        generations = [[_to_generation(c) for c in cands] for cands in batches]
        usage = {
            "prompt_tokens": sum(c.prompt_tokens for cands in batches for c in cands),
            "completion_tokens": sum(c.completion_tokens for cands in batches for c in cands),
        }
        return LLMResult(generations=generations, llm_output={"token_usage": usage})

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> LLMResult:
        # The worker thread cannot be interrupted, but its rows can: on cancellation
        # the signal stops them after their current token.
        signal = StopSignal(deadline=current_deadline())
        try:
            return await asyncio.to_thread(self._submit, prompts, stop, kwargs, signal)
        except asyncio.CancelledError:
            signal.cancel()
            raise

    # -- Policy protocol -----------------------------------------------------

    def _call_args(
        self,
        requests: Sequence[GenerationRequest],
        n: int,
        params: SamplingParams | None,
        first_index: int,
    ) -> tuple[list[str], dict[str, Any]]:
        check_n(n)
        p = params or SamplingParams(temperature=self.temperature, top_p=self.top_p)
        kwargs = {
            "first_index": first_index,
            "stop": list(p.stop) or None,
            "n": n,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "max_new_tokens": p.max_new_tokens,
            "seed": p.seed,
            "logprobs": p.logprobs,
        }
        return [self.fit(r, p.max_new_tokens) for r in requests], kwargs

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        """Return ``n`` completions per request from one batched generation.

        ``first_index`` numbers the candidates from there: ``n=4, first_index=4``
        returns exactly candidates 4-7 of an ``n=8`` call with the same seed.
        """
        prompts, kwargs = self._call_args(requests, n, params, first_index)
        if not prompts:
            return []
        cfg = ensure_config(config)
        result = self.generate(
            prompts,
            callbacks=cfg.get("callbacks"),
            tags=cfg.get("tags"),
            metadata=cfg.get("metadata"),
            **kwargs,
        )
        return [[_from_generation(g) for g in gens] for gens in result.generations]

    async def asample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        """Async twin of :meth:`sample` (generation runs in a worker thread).

        Cancelling the awaiting task stops this call's rows after their current token.
        """
        prompts, kwargs = self._call_args(requests, n, params, first_index)
        if not prompts:
            return []
        cfg = ensure_config(config)
        result = await self.agenerate(
            prompts,
            callbacks=cfg.get("callbacks"),
            tags=cfg.get("tags"),
            metadata=cfg.get("metadata"),
            **kwargs,
        )
        return [[_from_generation(g) for g in gens] for gens in result.generations]


def _to_generation(c: Completion) -> Generation:
    return Generation(
        text=c.text,
        generation_info={
            "finish_reason": c.finish_reason,
            "completion_tokens": c.completion_tokens,
            "prompt_tokens": c.prompt_tokens,
            "logprobs": list(c.logprobs) if c.logprobs is not None else None,
        },
    )


def _from_generation(g: Generation) -> Completion:
    info = g.generation_info or {}
    logprobs = info.get("logprobs")
    return Completion(
        text=g.text,
        finish_reason=info.get("finish_reason", "eos"),
        completion_tokens=int(info.get("completion_tokens", 0)),
        prompt_tokens=int(info.get("prompt_tokens", 0)),
        logprobs=tuple(logprobs) if logprobs is not None else None,
    )
