"""Batched candidate generation with transformers: N candidates for many prompts per call.

Sampling is done as *argmax of Gumbel-perturbed logits* with one random generator
per candidate row, seeded from (seed, prompt, candidate index). This is exactly
sampling from the temperature/top-p distribution, but a row's randomness no longer
depends on which other rows share its batch: the same question gives the same
candidates alone or inside ``graph.batch``, and chunking a huge N changes nothing.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    StopStringCriteria,
)

from ttc_graph.errors import InputError
from ttc_graph.policy.base import Completion, FinishReason, SamplingParams, check_n
from ttc_graph.policy.prefix_cache import PrefixCache
from ttc_graph.reliability import StopSignal


def row_seed(seed: int, prompt: str, index: int) -> int:
    """A 63-bit seed for one candidate row; stable across processes and platforms."""
    digest = hashlib.blake2b(f"{seed}\x00{index}\x00{prompt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


# Weakly keyed by tokenizer: a matcher lives as long as its tokenizer (the matcher
# itself keeps no reference to it), so unloading a policy frees both.
_STOP_MATCHERS: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], StopStringCriteria]] = (
    weakref.WeakKeyDictionary()
)
_STOP_MATCHERS_LOCK = threading.Lock()


def stop_string_criteria(tokenizer: Any, stops: tuple[str, ...]) -> StopStringCriteria:
    """One stop-string matcher per tokenizer and stop strings, built once.

    Building it reads and sorts the whole vocabulary (about 40 ms for a 49k
    vocabulary), which ``generate(stop_strings=...)`` does on every call: a step
    search makes one call per step. The matcher keeps no state between calls.
    """
    with _STOP_MATCHERS_LOCK:
        per_tokenizer = _STOP_MATCHERS.setdefault(tokenizer, {})
        if stops not in per_tokenizer:
            per_tokenizer[stops] = StopStringCriteria(tokenizer, list(stops))
        return per_tokenizer[stops]


class StopRows(StoppingCriteria):
    """Stops each batch row whose :class:`~ttc_graph.reliability.StopSignal` fired;
    other rows go on."""

    def __init__(self, signals: Sequence[StopSignal | None]) -> None:
        self.signals = list(signals)

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        now = time.monotonic()
        flags = [s is not None and s.should_stop(now) for s in self.signals]
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


class GumbelSampler(LogitsProcessor):
    """Temperature + top-p, then per-row Gumbel noise; greedy decoding then samples."""

    def __init__(self, temperature: float, top_p: float, seeds: Sequence[int]) -> None:
        self.temperature = temperature
        self.top_p = top_p
        self.seeds = list(seeds)
        self._generators: list[torch.Generator] | None = None

    def _rows(self, device: torch.device) -> list[torch.Generator]:
        if self._generators is None:
            self._generators = [torch.Generator(device=device).manual_seed(s) for s in self.seeds]
        return self._generators

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        logits = scores.float() / self.temperature
        if self.top_p < 1.0:
            sorted_scores, order = torch.sort(logits, descending=True, dim=-1)
            cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
            # Drop tokens once the mass before them already reaches top_p; always keep one.
            drop_sorted = (cumulative - sorted_scores.softmax(dim=-1)) >= self.top_p
            drop = drop_sorted.scatter(-1, order, drop_sorted)
            logits = logits.masked_fill(drop, -math.inf)
        vocab = logits.shape[-1]
        uniform = torch.stack(
            [
                torch.rand(vocab, generator=g, device=logits.device)
                for g in self._rows(logits.device)
            ]
        )
        gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1.0 - 1e-7)))
        return logits + gumbel  # type: ignore[return-value]


@dataclass
class _Row:
    prompt_index: int
    sample_index: int


def row_chunks(counts: Sequence[int], firsts: Sequence[int], max_rows: int) -> Iterator[list[_Row]]:
    """The candidate rows of every prompt, ``max_rows`` at a time, built as they are needed.

    Only one chunk of rows exists at a time, so the bookkeeping before the first
    ``generate`` call is the same for any N (it used to be one object per row, all
    built up front).
    """
    if max_rows < 1:
        raise InputError(f"max_batch_size must be >= 1, got {max_rows}.")
    chunk: list[_Row] = []
    for p, (count, first) in enumerate(zip(counts, firsts, strict=True)):
        for i in range(count):
            chunk.append(_Row(p, first + i))
            if len(chunk) == max_rows:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def default_max_batch_size() -> int:
    """Sequences per ``generate`` call; larger N is split into chunks of this size."""
    return int(os.environ.get("TTC_GRAPH_MAX_BATCH", "64"))


def generate_candidates(
    model: torch.nn.Module,
    tokenizer: object,
    prompts: Sequence[str],
    *,
    n: int | Sequence[int],
    params: SamplingParams,
    seeds: Sequence[int | None] | None = None,
    max_batch_size: int | None = None,
    prefix_cache: PrefixCache | None = None,
    first_index: int | Sequence[int] = 0,
    stops: Sequence[StopSignal | None] | None = None,
) -> list[list[Completion]]:
    """Generate ``n`` completions for each prompt with ``model.generate``.

    Prompts are raw text (chat template already applied). All rows of a chunk run
    in one left-padded batch; a row stops at its first stop string (kept in the
    text), at EOS, or at ``params.max_new_tokens``. ``n`` and ``seeds`` may be
    given per prompt, which lets unrelated callers share one batch. With a
    ``prefix_cache``, prompt prefixes encoded by earlier calls are not encoded again.

    Candidate ``i`` of a prompt is the row seeded with index ``first_index + i``,
    so sampling candidates 0-3 and then 4-7 gives exactly candidates 0-7 of one
    call. A prompt's rows stop early when its ``stops`` signal fires (cancelled
    caller, passed deadline); a chunk whose callers all cancelled is not run.
    """
    counts = [n] * len(prompts) if isinstance(n, int) else list(n)
    for count in counts:
        check_n(count)
    if not prompts:
        return []
    if len(counts) != len(prompts):
        raise ValueError(f"Got {len(counts)} counts for {len(prompts)} prompts.")
    max_rows = max_batch_size or default_max_batch_size()
    fresh = int.from_bytes(os.urandom(7), "little")
    bases = [
        s if s is not None else (params.seed if params.seed is not None else fresh)
        for s in (seeds or [None] * len(prompts))
    ]
    firsts = [first_index] * len(prompts) if isinstance(first_index, int) else list(first_index)
    signals = list(stops) if stops is not None else [None] * len(prompts)
    if len(firsts) != len(prompts) or len(signals) != len(prompts):
        raise ValueError("first_index and stops must have one entry per prompt.")
    results: list[list[Completion]] = [[] for _ in prompts]
    for chunk in row_chunks(counts, firsts, max_rows):
        chunk_prompts = [prompts[r.prompt_index] for r in chunk]
        row_seeds = [
            row_seed(bases[r.prompt_index], prompts[r.prompt_index], r.sample_index) for r in chunk
        ]
        chunk_signals = [signals[r.prompt_index] for r in chunk]
        if all(s is not None and s.cancelled.is_set() for s in chunk_signals):
            # Nobody waits for these rows any more.
            completions = [Completion("", "length", 0) for _ in chunk]
        else:
            completions = _generate_chunk(
                model, tokenizer, chunk_prompts, row_seeds, params, prefix_cache, chunk_signals
            )
        for row, completion in zip(chunk, completions, strict=True):
            results[row.prompt_index].append(completion)
    return results


def _eos_ids(model: torch.nn.Module, tokenizer: object) -> list[int]:
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(i) for i in configured)
    tok_eos = getattr(tokenizer, "eos_token_id", None)
    if tok_eos is not None:
        ids.add(int(tok_eos))
    return sorted(ids)


def _generate_chunk(
    model: torch.nn.Module,
    tokenizer: object,
    prompts: list[str],
    seeds: list[int],
    params: SamplingParams,
    prefix_cache: PrefixCache | None = None,
    signals: Sequence[StopSignal | None] = (),
) -> list[Completion]:
    tok = tokenizer
    eos_ids = _eos_ids(model, tok)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else eos_ids[0]  # type: ignore[attr-defined]
    cached: dict[str, object] = {}
    if prefix_cache is not None and prefix_cache.usable(model):
        ids = tok(prompts, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
        batch = prefix_cache.prepare(model, ids, pad_id)
        input_ids, attention_mask = batch.input_ids, batch.attention_mask
        if batch.cache is not None:
            cached[batch.cache_kwarg] = batch.cache
    else:
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)  # type: ignore[operator]
        device = next(model.parameters()).device
        input_ids = enc["input_ids"].to(device)
        attention_mask = enc["attention_mask"].to(device)
    config = GenerationConfig(
        max_new_tokens=params.max_new_tokens,
        do_sample=False,
        num_beams=1,
        eos_token_id=eos_ids,
        pad_token_id=pad_id,
        return_dict_in_generate=True,
        output_logits=params.logprobs,
    )
    processors = LogitsProcessorList()
    if params.temperature > 0:
        processors.append(GumbelSampler(params.temperature, params.top_p, seeds))
    stopping = StoppingCriteriaList()
    if params.stop:
        stopping.append(stop_string_criteria(tok, tuple(params.stop)))
    if any(s is not None for s in signals):
        stopping.append(StopRows(signals))
    with torch.inference_mode():
        out = model.generate(  # type: ignore[operator]
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=config,
            logits_processor=processors,
            stopping_criteria=stopping,
            **cached,
        )
    new_tokens = out.sequences[:, input_ids.shape[1] :].tolist()
    prompt_lengths = attention_mask.sum(dim=1).tolist()
    logprob_rows = (
        torch.stack(out.logits, dim=1).float().log_softmax(dim=-1) if params.logprobs else None
    )
    eos_set = set(eos_ids)
    completions = []
    for r, tokens in enumerate(new_tokens):
        # Finished rows are padded, and many models pad with EOS, so the first EOS
        # ends the row either way; the text decides whether a stop string came first.
        first_eos = next((i for i, t in enumerate(tokens) if t in eos_set), None)
        body = tokens if first_eos is None else tokens[:first_eos]
        text = tok.decode(body, skip_special_tokens=True)  # type: ignore[attr-defined]
        cut = _first_stop(text, params.stop)
        reason: FinishReason
        if cut is not None:
            text, reason, length = text[:cut], "stop", len(body)
        elif first_eos is not None:
            reason, length = "eos", first_eos + 1
        else:
            reason, length = "length", len(tokens)
        logprobs = None
        if logprob_rows is not None:
            picked = logprob_rows[r, :length].gather(
                -1, torch.tensor(tokens[:length]).unsqueeze(-1)
            )
            logprobs = tuple(float(x) for x in picked.squeeze(-1))
        completions.append(
            Completion(
                text=text,
                finish_reason=reason,
                completion_tokens=length,
                prompt_tokens=int(prompt_lengths[r]),
                logprobs=logprobs,
            )
        )
    return completions


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index just past the earliest stop string in ``text``, or None."""
    best: int | None = None
    for s in stops:
        i = text.find(s)
        if i >= 0 and (best is None or i + len(s) < best):
            best = i + len(s)
    return best
