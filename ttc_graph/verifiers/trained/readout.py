"""One forward pass of the policy over its own solutions, read at every step's end.

The policy sees exactly what it saw while sampling: the chat-templated system
prompt and question (rendered by the policy's own :meth:`render`), then the
candidate's text. From that one pass this module reads, for every step prefix:

- the log-probability of each completion token (teacher forcing): their mean,
  their minimum and their count so far;
- the last layer's hidden state at the prefix's last token, and its mean over
  the completion tokens so far.

A token belongs to the prefix of step *k* when it *starts* before the character
where step *k* ends (tokenizer offset mapping), so a token that straddles a step
boundary counts for the step it begins in. Sequences are right-padded so every
token keeps the position it has alone: a candidate reads the same alone or in
any batch. The prompt that all candidates share is run once and its keys and
values reused for every candidate (on CPU it is often longer than a solution): from
the policy's own :class:`~ttc_graph.policy.prefix_cache.PrefixCache`, so a question
the search already encoded to generate is not encoded again to score.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache

from ttc_graph.errors import InputError, InputTooLongError, ModelLoadError
from ttc_graph.policy.base import GenerationRequest
from ttc_graph.policy.messages import to_messages, with_system_prompt
from ttc_graph.policy.prefix_cache import KV, PrefixCache, cache_kwarg
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.verifiers.forward import input_device

_LOGIT_CHUNK = 256
"""Completion positions sent through the LM head at once (bounds vocab-sized memory)."""


@dataclass(frozen=True)
class PrefixReadout:
    """What one candidate's forward pass says about each of its step prefixes.

    Every tensor is float32 on the CPU with one row per step.
    """

    mean_logprob: torch.Tensor
    """(steps,) mean log-probability of the completion tokens up to the step."""
    min_logprob: torch.Tensor
    """(steps,) lowest token log-probability up to the step."""
    tokens: torch.Tensor
    """(steps,) number of completion tokens up to the step."""
    hidden_last: torch.Tensor
    """(steps, hidden) last-layer hidden state at the prefix's last token."""
    hidden_mean: torch.Tensor
    """(steps, hidden) mean last-layer hidden state over the prefix's completion tokens."""


def check_local_policy(policy: Any, what: str) -> None:
    """Raise :class:`ModelLoadError` unless ``policy`` exposes a transformers model.

    ``what`` names who needs it (e.g. "the confidence features").
    """
    missing = [a for a in ("model", "tokenizer", "render") if not hasattr(policy, a)]
    if policy is None or missing:
        kind = "no policy" if policy is None else f"a {type(policy).__name__}"
        raise ModelLoadError(
            f"{what} read the policy's own token probabilities and hidden states, so they need "
            f"a local transformers policy (load_policy(...)); got {kind}."
        )


@dataclass(frozen=True)
class _Row:
    ids: list[int]
    starts: list[int]
    """Character offset where each token starts."""
    completion_start: int
    """Index of the first token that reaches past the prompt."""
    step_tokens: list[int]
    """Completion tokens in each step prefix (cumulative)."""


def _prompt(policy: Any, question: str, system_prompt: str | None, prefix: str = "") -> str:
    # The same request the strategies build (base_request), so the readout is of
    # the distribution the candidates were sampled from.
    request = GenerationRequest(with_system_prompt(to_messages(question), system_prompt), prefix)
    return str(policy.render(request))


def _step_ends(
    policy: Any, question: str, system_prompt: str | None, steps: Sequence[str], prompt: str
) -> tuple[str, list[int]]:
    """The full text and the character offset where each step ends in it."""
    text = "".join(steps)
    full = _prompt(policy, question, system_prompt, text)
    if full == prompt + text:
        ends, at = [], len(prompt)
        for step in steps:
            at += len(step)
            ends.append(at)
        return full, ends
    # render() defanged a control token inside the text (it grows by a joiner):
    # measure each prefix as rendered instead.
    ends = [
        len(_prompt(policy, question, system_prompt, "".join(steps[: k + 1])))
        for k in range(len(steps))
    ]
    return full, ends


def _row(tokenizer: Any, full: str, prompt_chars: int, ends: list[int]) -> _Row:
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    starts = [int(s) for s, _ in enc["offset_mapping"]]
    stops = [int(e) for _, e in enc["offset_mapping"]]
    first = next((i for i, e in enumerate(stops) if e > prompt_chars), len(ids))
    # The first token is never scored (nothing predicts it), so a completion
    # needs at least one token of prompt before it.
    first = max(first, 1)
    step_tokens = [max(0, bisect.bisect_left(starts, end) - first) for end in ends]
    return _Row(ids, starts, first, step_tokens)


def read_prefixes(
    policy: Any,
    question: str,
    candidates: Sequence[Sequence[str]],
    *,
    batch_size: int = 8,
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    prefix_cache: PrefixCache | None = None,
) -> list[PrefixReadout]:
    """Read every step prefix of every candidate from batched forward passes.

    Args:
        policy: A local :class:`~ttc_graph.policy.HuggingFacePolicy`.
        question: The problem text (the user message).
        candidates: Each candidate as its steps; their concatenation is the text.
        batch_size: Candidates per forward pass.
        system_prompt: The system prompt the candidates were sampled under.
        prefix_cache: Keeps encoded prompts between calls, so that a question scored
            again (every beam-search step) or one sharing the system prompt with the
            last (training) is not encoded again from its start; default the policy's
            own (``policy.prefix_cache``), which generation fills too.

    Example:
        >>> from ttc_graph import load_policy
        >>> (r,) = read_prefixes(load_policy(), "What is 2 + 3?", [["2 + 3 = 5.\\n\\n", "So 5."]])
        >>> r.mean_logprob.shape, r.hidden_last.shape
        (torch.Size([2]), torch.Size([2, 576]))
    """
    check_local_policy(policy, "Policy readouts")
    if policy.model.get_output_embeddings() is None:
        raise ModelLoadError(
            f"{type(policy.model).__name__} has no LM head, so its token probabilities "
            "cannot be read; the policy must be a causal LM."
        )
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}.")
    tokenizer, model = policy.tokenizer, policy.model
    prompt = _prompt(policy, question, system_prompt)
    rows = []
    for steps in candidates:
        full, ends = _step_ends(policy, question, system_prompt, steps, prompt)
        rows.append(_row(tokenizer, full, len(prompt), ends))
    context = getattr(model.config, "max_position_embeddings", None)
    for i, row in enumerate(rows):
        if isinstance(context, int) and len(row.ids) > context:
            raise InputTooLongError(
                f"Candidate {i} with its prompt is {len(row.ids)} tokens, more than the "
                f"policy's context of {context}; it cannot be read in one pass. Sample with a "
                "lower max_new_tokens."
            )
    cache = prefix_cache if prefix_cache is not None else getattr(policy, "prefix_cache", None)
    shared = _shared_prefix(model, tokenizer, prompt, rows) if cache is not None else 0
    out: list[PrefixReadout | None] = [None] * len(rows)
    order = sorted(range(len(rows)), key=lambda r: len(rows[r].ids), reverse=True)
    with torch.inference_mode():
        prefix = cache.encode(model, rows[0].ids[:shared]) if cache and shared else None
        for begin in range(0, len(order), batch_size):
            chunk = order[begin : begin + batch_size]
            sequences = [rows[r].ids for r in chunk]
            if prefix is None:
                hidden = _last_hidden(model, sequences)
            else:
                hidden = _last_hidden_after(model, prefix, [ids[shared:] for ids in sequences])
            for b, r in enumerate(chunk):
                out[r] = _readout(model, rows[r], hidden[b])
    return [r for r in out if r is not None]


def _shared_prefix(model: Any, tokenizer: Any, prompt: str, rows: Sequence[_Row]) -> int:
    """Tokens every row shares with the prompt alone, run once instead of once per candidate.

    Zero (no reuse) for a model without a separable body. It depends on the candidates
    only where one's first token merges with the prompt's last, and then only through
    float rounding: positions and attention are the same. Every row keeps its last
    prompt token for the second pass, whose hidden state the readout reads (only keys
    and values of the shared part are kept).
    """
    base = getattr(model, "base_model", model)
    if base is model or not rows:
        return 0
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    shared = len(prompt_ids)
    for row in rows:
        common = _common_length(prompt_ids, row.ids)
        shared = min(shared, common, row.completion_start - 1)
    return max(shared, 0)


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _last_hidden_after(model: Any, prefix: KV, suffixes: list[list[int]]) -> torch.Tensor:
    """Hidden states of ``prefix + suffix`` rows, the prefix's keys and values reused.

    The prefix's own positions are zeros: the readout reads none of them."""
    shared, count = prefix[0][0].shape[1], len(suffixes)
    width = max(len(ids) for ids in suffixes)
    input_ids = torch.zeros((count, width), dtype=torch.long)
    mask = torch.zeros((count, shared + width), dtype=torch.long)
    mask[:, :shared] = 1
    for b, ids in enumerate(suffixes):
        input_ids[b, : len(ids)] = torch.tensor(ids)
        mask[b, shared : shared + len(ids)] = 1
    device = input_device(model)
    # A fresh cache per batch: the forward pass appends to the one it is given.
    past = DynamicCache(
        ddp_cache_data=[
            (k.expand(count, -1, -1, -1).contiguous(), v.expand(count, -1, -1, -1).contiguous())
            for k, v in ((k[None], v[None]) for k, v in prefix)
        ]
    )
    positions = torch.arange(shared, shared + width).expand(count, -1)
    base = model.base_model
    output = base(
        input_ids=input_ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        use_cache=True,
        **{cache_kwarg(base): past},
    )
    suffix_hidden = torch.as_tensor(output[0])
    head = suffix_hidden.new_zeros((count, shared, suffix_hidden.shape[-1]))
    return torch.cat([head, suffix_hidden], dim=1)


def _last_hidden(model: Any, sequences: list[list[int]]) -> torch.Tensor:
    """Last-layer hidden states of right-padded sequences, (batch, width, hidden)."""
    width = max(len(ids) for ids in sequences)
    input_ids = torch.zeros((len(sequences), width), dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for b, ids in enumerate(sequences):
        input_ids[b, : len(ids)] = torch.tensor(ids)
        mask[b, : len(ids)] = 1
    device = input_device(model)
    inputs = {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}
    base = getattr(model, "base_model", model)
    if base is model:
        # No separable body: run the whole model once and take its last hidden layer.
        output = model(**inputs, output_hidden_states=True)
        return torch.as_tensor(output.hidden_states[-1])
    # The body alone: the LM head then runs only at completion positions.
    return torch.as_tensor(base(**inputs)[0])


def _readout(model: Any, row: _Row, hidden: torch.Tensor) -> PrefixReadout:
    first, length = row.completion_start, len(row.ids)
    logprobs = _token_logprobs(model, hidden, row.ids, first, length)
    states = hidden[first:length].float().cpu()
    prompt_state = hidden[first - 1].float().cpu()
    cum_lp = torch.cumsum(logprobs, 0)
    cum_min = torch.cummin(logprobs, 0).values if len(logprobs) else logprobs
    cum_states = torch.cumsum(states, 0)
    means, mins, counts, lasts, pooled = [], [], [], [], []
    for n in row.step_tokens:
        counts.append(float(n))
        if n == 0:
            # An empty prefix (an empty candidate): the state where the answer starts.
            means.append(0.0)
            mins.append(0.0)
            lasts.append(prompt_state)
            pooled.append(prompt_state)
            continue
        means.append(float(cum_lp[n - 1]) / n)
        mins.append(float(cum_min[n - 1]))
        lasts.append(states[n - 1])
        pooled.append(cum_states[n - 1] / n)
    return PrefixReadout(
        mean_logprob=torch.tensor(means, dtype=torch.float32),
        min_logprob=torch.tensor(mins, dtype=torch.float32),
        tokens=torch.tensor(counts, dtype=torch.float32),
        hidden_last=torch.stack(lasts),
        hidden_mean=torch.stack(pooled),
    )


def _token_logprobs(
    model: Any, hidden: torch.Tensor, ids: list[int], first: int, length: int
) -> torch.Tensor:
    """log p(token t | tokens before t) for every completion token t."""
    head = model.get_output_embeddings()
    targets = torch.tensor(ids[first:length], dtype=torch.long)
    parts = []
    for begin in range(first, length, _LOGIT_CHUNK):
        end = min(begin + _LOGIT_CHUNK, length)
        states = hidden[begin - 1 : end - 1].to(head.weight.device)
        logits = head(states).float()
        picked = targets[begin - first : end - first].to(logits.device)
        lp = torch.log_softmax(logits, dim=-1).gather(1, picked[:, None])[:, 0]
        parts.append(lp.cpu())
    return torch.cat(parts) if parts else torch.zeros(0)
