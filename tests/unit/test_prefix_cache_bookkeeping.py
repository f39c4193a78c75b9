"""Prompt-prefix KV reuse, the cache's own bookkeeping (longest prefix, eviction,
unsupported layouts) on tiny random models built in memory. (Equivalence with and
without reuse, on the embedded model: tests/integration/test_prefix_cache.py.)
"""

from __future__ import annotations

from typing import Any

import torch
from tiny_models import TINY, tiny_llama
from transformers import MistralConfig, MistralForCausalLM

from ttc_graph.policy.prefix_cache import PrefixCache, supports_prefix_reuse

# -- the cache's bookkeeping on tiny random models -----------------------------


def _greedy(model: torch.nn.Module, rows: list[list[int]], cache: PrefixCache | None) -> Any:
    """Greedy continuation of token rows; returns the new tokens."""
    if cache is None:
        width = max(len(r) for r in rows)
        ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        extra: dict[str, Any] = {}
    else:
        batch = cache.prepare(model, rows, 0)
        ids, mask = batch.input_ids, batch.attention_mask
        extra = {batch.cache_kwarg: batch.cache} if batch.cache is not None else {}
    with torch.inference_mode():
        out = model.generate(  # type: ignore[operator]
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=6,
            do_sample=False,
            pad_token_id=0,
            **extra,
        )
    return out[:, ids.shape[1] :].tolist()


def test_longest_common_prefix_is_reused_and_outputs_match() -> None:
    model = tiny_llama()
    cache = PrefixCache(max_bytes=2**24)
    base = list(range(5, 25))
    rows = [base, [*base, 30, 31, 32], [*base[:10], 40, 41]]
    expected = _greedy(model, rows, None)
    assert _greedy(model, rows[:1], cache) == expected[:1]
    assert len(cache) == 1
    assert _greedy(model, rows, cache) == expected
    # Row 2 reuses all 19 cached tokens; row 3 only the 10 it shares with them.
    assert cache.stats.reused_tokens == 19 + 19 + 10
    # Storing base+[30, 31] replaced base[:-1], which it extends.
    assert sorted(len(e.ids) for e in cache._entries.values()) == [11, 22]


def test_cache_is_bounded_in_bytes() -> None:
    model = tiny_llama()
    probe = PrefixCache(max_bytes=2**24)
    probe.prepare(model, [list(range(1, 11))], 0)
    per_entry = probe.nbytes
    cache = PrefixCache(max_bytes=int(per_entry * 2.5))
    for start in (1, 20, 40):
        cache.prepare(model, [list(range(start, start + 10))], 0)
    assert len(cache) == 2, "the oldest entry was evicted"
    assert cache.nbytes <= cache.max_bytes
    # The oldest prompt is gone, so it is encoded again.
    before = cache.stats.encoded_tokens
    cache.prepare(model, [list(range(1, 11))], 0)
    assert cache.stats.encoded_tokens - before == 10


def test_sliding_window_models_generate_without_reuse() -> None:
    assert supports_prefix_reuse(tiny_llama())
    config = MistralConfig(**TINY, sliding_window=8)
    mistral = MistralForCausalLM(config).eval()
    cache = PrefixCache(max_bytes=2**20)
    assert not cache.usable(mistral)
