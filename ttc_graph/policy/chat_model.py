"""Any LangChain chat model as a policy: scale out to a served model (vLLM, llama.cpp).

``ChatModelPolicy(ChatOpenAI(base_url=...))`` asks the server for ``n`` candidates
in one request where the model supports ``n`` and falls back to concurrent calls
where it does not (or where the server returned fewer). Stop strings are passed
through; since OpenAI-style servers drop the matched stop string from the text,
the step delimiter is put back so steps look the same as with a local model.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration
from langchain_core.runnables import RunnableConfig, ensure_config

from ttc_graph.errors import InputError
from ttc_graph.policy.base import (
    Completion,
    FinishReason,
    GenerationRequest,
    SamplingParams,
    check_first_index,
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
        continue_final_message: For vLLM: requests that carry a partial answer also
            send ``continue_final_message=True, add_generation_prompt=False`` in the
            request body, so the server continues the answer instead of starting a
            new turn. Needs a model with ``extra_body`` (``ChatOpenAI``).

    A partial answer (``GenerationRequest.prefix``, the steps so far in a step
    search) is sent as a trailing ``AIMessage``. Without ``continue_final_message``
    (or a server that continues a trailing assistant message by itself) the server
    treats that message as a finished turn and answers afresh.

    Finish reasons: OpenAI-style servers report ``"stop"`` both for a matched stop
    string and for the end of the answer, and ``ChatOpenAI`` does not pass on vLLM's
    ``stop_reason``. A non-empty ``"stop"`` with stop strings set is therefore read
    as a step boundary (the delimiter is re-appended); a finished answer then shows
    up as an empty next step, which counts as ``"eos"``. Where one call returns
    several candidates with the same response-level token usage, the output tokens
    are shared out by text length.
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        max_concurrency: int = 8,
        supports_n: bool | None = None,
        continue_final_message: bool = False,
    ) -> None:
        if not isinstance(model, BaseChatModel):
            raise InputError(
                f"ChatModelPolicy needs a LangChain chat model, got {type(model).__name__}; "
                "for a local transformers model use ttc_graph.load_policy()."
            )
        check_n(max_concurrency)
        self.model = model
        self.max_concurrency = max_concurrency
        fields = type(model).model_fields
        self.supports_n = "n" in fields if supports_n is None else supports_n
        self._fields = set(fields)
        if continue_final_message and "extra_body" not in self._fields:
            raise InputError(
                f"continue_final_message needs a model that sends extra_body (ChatOpenAI); "
                f"{type(model).__name__} has none. Drop the option for this model."
            )
        self.continue_final_message = continue_final_message

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
        if params.logprobs:
            if "logprobs" not in self._fields:
                raise InputError(
                    f"{type(self.model).__name__} cannot return log-probabilities; "
                    "use SamplingParams(logprobs=False) or a model with a logprobs "
                    "option such as ChatOpenAI."
                )
            kwargs["logprobs"] = True
        return kwargs

    @staticmethod
    def _messages(request: GenerationRequest) -> list[BaseMessage]:
        messages = list(request.messages)
        if request.prefix:
            messages.append(AIMessage(request.prefix))
        return messages

    @staticmethod
    def _finish(
        text: str, raw_reason: str, matched: Any, stop: tuple[str, ...]
    ) -> tuple[str, FinishReason]:
        """The step's text (delimiter restored) and why generation ended."""
        reason: FinishReason
        if raw_reason == "length":
            reason = "length"
        elif not text.strip():
            reason = "eos"  # nothing more to say: the answer is complete
        elif stop and (isinstance(matched, str) or matched is None):
            # The server stopped on our delimiter (vLLM names it in stop_reason) or
            # could not tell us; either way the step ended there, so restore it
            # unless the server already kept it (vLLM include_stop_str_in_output).
            delimiter = matched if isinstance(matched, str) else stop[0]
            if not text.endswith(delimiter):
                text += delimiter
            reason = "stop"
        else:
            reason = "eos"
        return text, reason

    def _completions(self, gens: list[ChatGeneration], params: SamplingParams) -> list[Completion]:
        """Map one call's generations, with token usage and log-probabilities."""
        out: list[Completion] = []
        usages = [getattr(g.message, "usage_metadata", None) or {} for g in gens]
        outputs = [int(u.get("output_tokens", 0)) for u in usages]
        if len(gens) > 1 and all(u == usages[0] for u in usages):
            # ChatOpenAI copies the response's total usage onto every choice.
            outputs = _share(
                outputs[0],
                [len(str(g.message.text)) for g in gens],
                full=[(g.generation_info or {}).get("finish_reason") == "length" for g in gens],
                cap=params.max_new_tokens,
            )
        for gen, usage, tokens in zip(gens, usages, outputs, strict=True):
            info = gen.generation_info or {}
            text, reason = self._finish(
                str(gen.message.text),
                str(info.get("finish_reason") or "stop"),
                info.get("stop_reason"),
                params.stop,
            )
            logprobs = _logprobs(info.get("logprobs")) if params.logprobs else None
            out.append(
                Completion(
                    text=text,
                    finish_reason=reason,
                    completion_tokens=len(logprobs) if logprobs is not None else tokens,
                    prompt_tokens=int(usage.get("input_tokens", 0)),
                    logprobs=logprobs,
                )
            )
        return out

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        """``n`` completions per request, run on the policy's own event loop.

        Safe to call from inside a running loop (a notebook, an async node calling
        sync code): the work runs on the policy's loop thread, not the caller's.
        ``first_index`` as in :class:`~ttc_graph.policy.Policy` (see :meth:`_asample`).
        """
        coro = self._asample(requests, n=n, params=params, config=config, first_index=first_index)
        return asyncio.run_coroutine_threadsafe(coro, _shared_loop()).result()

    async def asample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        """Async twin of :meth:`sample`; the calls run on the policy's own loop.

        Cancelling the awaiting task cancels the calls in flight.
        """
        coro = self._asample(requests, n=n, params=params, config=config, first_index=first_index)
        future = asyncio.run_coroutine_threadsafe(coro, _shared_loop())
        return await asyncio.wrap_future(future)

    async def _asample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        """``n`` completions per request: one ``n``-request each where supported.

        A server cannot return candidates ``k..`` of a larger seeded call, so with a
        seed, the call that starts at candidate ``k`` sends ``seed + k``: an ``n``
        request starting at ``first_index`` and each single call of the fallback
        get their own seed, and no call repeats another's samples.
        """
        check_n(n)
        check_first_index(first_index)
        p = params or SamplingParams()
        cfg = ensure_config(config)
        limit = asyncio.Semaphore(self.max_concurrency)

        async def one_call(messages: list[BaseMessage], count: int, row: int) -> list[Completion]:
            seeded = p if p.seed is None or row == 0 else replace(p, seed=p.seed + row)
            kwargs = self._kwargs(seeded)
            if count > 1:
                kwargs["n"] = count
            if self.continue_final_message and isinstance(messages[-1], AIMessage):
                kwargs["extra_body"] = {
                    **(getattr(self.model, "extra_body", None) or {}),
                    "continue_final_message": True,
                    "add_generation_prompt": False,
                }
            async with limit:
                result = await self.model.agenerate(
                    [messages],
                    stop=list(p.stop) or None,
                    callbacks=cfg.get("callbacks"),
                    tags=cfg.get("tags"),
                    metadata=cfg.get("metadata"),
                    **kwargs,
                )
            gens = [g for g in result.generations[0] if isinstance(g, ChatGeneration)]
            return self._completions(gens, p)

        async def for_request(request: GenerationRequest) -> list[Completion]:
            messages = self._messages(request)
            done: list[Completion] = []
            if self.supports_n:
                done = (await one_call(messages, n, first_index))[:n]
            missing = n - len(done)
            if missing > 0:
                # No n support, or the server returned fewer: top up with parallel calls.
                rows = range(first_index + len(done), first_index + n)
                more = await asyncio.gather(*(one_call(messages, 1, row) for row in rows))
                done.extend(c[0] for c in more if c)
            if len(done) < n:
                raise RuntimeError(f"{self.model_id} returned {len(done)} of {n} candidates.")
            return done

        return list(await asyncio.gather(*(for_request(r) for r in requests)))


_LOOP: asyncio.AbstractEventLoop | None = None
_LOOP_LOCK = threading.Lock()


def _shared_loop() -> asyncio.AbstractEventLoop:
    """The one event loop every served-model call runs on, started on first use.

    Async HTTP clients pool keep-alive connections bound to the loop that opened
    them, and ``ChatOpenAI`` even shares one client between all its instances with
    the same endpoint. Running each call under a fresh ``asyncio.run`` closed that
    loop after the first call, and the next one failed on a pooled connection with
    "Event loop is closed". One long-lived loop on a daemon thread, shared by every
    :class:`ChatModelPolicy`, keeps the pool valid for sync and async callers alike.
    """
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None or _LOOP.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="ttc-graph-http", daemon=True).start()
            _LOOP = loop
        return _LOOP


def _share(total: int, weights: list[int], *, full: list[bool], cap: int) -> list[int]:
    """Split a response's ``total`` output tokens over its candidates.

    Candidates cut at the limit (``full``) used exactly ``cap`` tokens; the rest of
    the total goes to the others by text length (largest remainder), none above ``cap``.
    """
    shares = [cap if f else 0 for f in full]
    rest = [i for i, f in enumerate(full) if not f]
    left = max(total - sum(shares), 0)
    while rest and left > 0:
        w = [weights[i] or 1 for i in rest]
        whole = sum(w)
        add = [left * x // whole for x in w]
        order = sorted(range(len(rest)), key=lambda k: -(left * w[k] % whole))
        for k in order[: left - sum(add)]:
            add[k] += 1
        for k, i in enumerate(rest):
            shares[i] += add[k]
        left = sum(max(shares[i] - cap, 0) for i in rest)
        for i in rest:
            shares[i] = min(shares[i], cap)
        rest = [i for i in rest if shares[i] < cap]
    return shares


def _logprobs(raw: Any) -> tuple[float, ...]:
    """Token log-probabilities from an OpenAI-style ``logprobs`` block."""
    content = raw.get("content") if isinstance(raw, dict) else None
    if not isinstance(content, list):
        raise ValueError(
            "Log-probabilities were requested but the server sent none; check that it "
            "supports the logprobs option (vLLM, llama.cpp and OpenAI do)."
        )
    return tuple(float(t["logprob"]) for t in content)
