"""Reuse the KV cache of prompt prefixes across ``generate`` calls.

Every row of a search shares the rendered question, and every row that extends a
kept beam shares that beam's text. Plain ``generate`` re-encodes all of it for
every row in every iteration. :class:`PrefixCache` instead

1. looks up, for each *distinct* prompt of a batch, the longest cached token
   prefix (an earlier prompt of the same search: the question, or the parent beam),
2. encodes only the rest, once per distinct prompt (one batched forward pass),
   and stores the result for the next iteration, and
3. hands ``generate`` a left-padded cache with every row's prompt but its last
   token, so generation starts by feeding one token per row.

Rows keep the exact tokens, positions and attention of the plain left-padded
batch, so outputs match generation without reuse (up to float rounding of a
differently shaped matmul) and per-row seeding is unaffected.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from ttc_graph.errors import InputError

logger = logging.getLogger(__name__)

KV = list[tuple[torch.Tensor, torch.Tensor]]
"""Per layer (keys, values), each ``[heads, tokens, head_dim]`` for one sequence."""


@dataclass
class PrefixCacheStats:
    """Prefill work since the cache was created (or last :meth:`PrefixCache.reset_stats`)."""

    prompt_tokens: int = 0
    """Prompt tokens over all rows: what plain ``generate`` would encode."""
    encoded_tokens: int = 0
    """Prompt tokens actually run through the model."""
    reused_tokens: int = 0
    """Prompt tokens (per distinct prompt) whose keys and values came from the cache."""
    calls: int = 0


@dataclass
class PreparedBatch:
    """Inputs for ``model.generate``: left-padded ids and mask, and a filled cache."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    cache: DynamicCache | None
    cache_kwarg: str


@dataclass
class _Entry:
    ids: torch.Tensor
    kv: KV
    nbytes: int


def supports_prefix_reuse(model: torch.nn.Module) -> bool:
    """Whether ``model`` keeps a plain full-attention KV cache we can slice and splice.

    Sliding-window, chunked, recurrent and encoder-decoder models keep other
    cache layouts; they generate without reuse.
    """
    config = getattr(model, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return False
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    layer_types = getattr(text, "layer_types", None)
    if layer_types is not None:
        return all(t == "full_attention" for t in layer_types)
    return (
        getattr(text, "sliding_window", None) is None
        and getattr(text, "attention_chunk_size", None) is None
    )


def cache_kwarg(model: torch.nn.Module) -> str:
    """The name of the KV-cache argument of ``model.forward``."""
    # transformers 5.x renames ``past_key_values`` to ``cache``; accept both.
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


class PrefixCache:
    """A bounded LRU of per-prompt KV caches for one model.

    Entries are keyed by token ids; a lookup takes the longest common prefix with
    any entry (keys and values of a causal model at position *i* depend only on
    tokens up to *i*, so any prefix of an entry is valid). Storing a sequence drops
    entries that are prefixes of it: it serves every lookup they would.
    """

    def __init__(self, *, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise InputError(
                f"max_bytes must be > 0, got {max_bytes}; to turn reuse off, pass no cache."
            )
        self.max_bytes = max_bytes
        self.stats = PrefixCacheStats()
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._bytes = 0
        self._next_key = 0
        self._lock = threading.Lock()
        self._broken: set[int] = set()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Memory held by cached keys and values."""
        return self._bytes

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def reset_stats(self) -> None:
        """Start counting prefill work afresh."""
        self.stats = PrefixCacheStats()

    def usable(self, model: torch.nn.Module) -> bool:
        """Whether this cache can serve ``model`` (see :func:`supports_prefix_reuse`)."""
        return id(model) not in self._broken and supports_prefix_reuse(model)

    # -- lookup and storage --------------------------------------------------

    def _match(self, ids: torch.Tensor, limit: int) -> tuple[int, _Entry | None]:
        best, best_entry, best_key = 0, None, None
        for key, entry in self._entries.items():
            k = min(limit, len(entry.ids))
            if k <= best:
                continue
            same = entry.ids[:k] == ids[:k]
            length = k if bool(same.all()) else int(same.int().argmin())
            if length > best:
                best, best_entry, best_key = length, entry, key
        if best_key is not None:
            self._entries.move_to_end(best_key)
        return best, best_entry

    def _store(self, ids: torch.Tensor, kv: KV) -> None:
        nbytes = sum(k.nbytes + v.nbytes for k, v in kv)
        if nbytes > self.max_bytes:
            return
        for key in [
            key
            for key, e in self._entries.items()
            if len(e.ids) <= len(ids) and bool((e.ids == ids[: len(e.ids)]).all())
        ]:
            self._bytes -= self._entries.pop(key).nbytes
        self._entries[self._next_key] = _Entry(ids, kv, nbytes)
        self._next_key += 1
        self._bytes += nbytes
        while self._bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self._bytes -= old.nbytes

    # -- encoding ------------------------------------------------------------

    def encode(self, model: torch.nn.Module, ids: Sequence[int]) -> KV | None:
        """Keys and values of all of ``ids`` (per layer ``[heads, length, dim]``): the
        longest cached prefix reused, the rest encoded once and stored. ``None`` where the
        model's cache layout cannot be reused (:meth:`usable`).

        Scoring reads these too (a trained verifier's readout of the policy): the question
        a search encoded to generate is not encoded again to score.
        """
        if not ids or not self.usable(model):
            return None
        device = next(model.parameters()).device
        # _prefix_kvs encodes all but a prompt's last token: give it one more.
        prompt = torch.tensor([*ids, 0], dtype=torch.long)
        with self._lock, torch.inference_mode():
            kvs = self._prefix_kvs(model, [prompt], device, cache_kwarg(model))
        return None if kvs is None else kvs[0]

    # -- batch preparation ---------------------------------------------------

    def prepare(
        self, model: torch.nn.Module, prompt_ids: Sequence[Sequence[int]], pad_id: int
    ) -> PreparedBatch:
        """Left-padded inputs for ``prompt_ids`` with all but each row's last token cached.

        Every distinct prompt is encoded at most once, and only past its longest
        cached prefix; the encoded prompts are stored for later calls.
        """
        if any(len(ids) == 0 for ids in prompt_ids):
            raise ValueError("Every prompt needs at least one token.")
        device = next(model.parameters()).device
        kwarg = cache_kwarg(model)
        with self._lock, torch.inference_mode():
            distinct: dict[tuple[int, ...], int] = {}
            rows = [distinct.setdefault(tuple(ids), len(distinct)) for ids in prompt_ids]
            prompts = [torch.tensor(ids, dtype=torch.long) for ids in distinct]
            kvs = self._prefix_kvs(model, prompts, device, kwarg)
            self.stats.calls += 1
            self.stats.prompt_tokens += sum(len(ids) for ids in prompt_ids)
            if kvs is None:
                self.stats.encoded_tokens += sum(len(ids) for ids in prompt_ids)
                return _plain(prompt_ids, pad_id, device, kwarg)
            self.stats.encoded_tokens += len(prompt_ids)  # each row's last token
            return _assemble(prompts, kvs, rows, pad_id, device, kwarg)

    def _prefix_kvs(
        self, model: torch.nn.Module, prompts: list[torch.Tensor], device: torch.device, kwarg: str
    ) -> list[KV] | None:
        """KV of each prompt without its last token: cached part plus one batched pass."""
        matches = [self._match(p, len(p) - 1) for p in prompts]
        self.stats.reused_tokens += sum(m for m, _ in matches)
        todo = [i for i, p in enumerate(prompts) if len(p) - 1 > matches[i][0]]
        kvs: list[KV | None] = [
            _slice(e.kv, m) if e is not None and i not in todo else None
            for i, (m, e) in enumerate(matches)
        ]
        if todo:
            encoded = self._encode(
                model, [prompts[i] for i in todo], [matches[i] for i in todo], device, kwarg
            )
            if encoded is None:
                return None
            for i, kv in zip(todo, encoded, strict=True):
                kvs[i] = kv
                self._store(prompts[i][:-1], kv)
        if all(len(p) == 1 for p in prompts):
            return None  # nothing to cache: plain generation is the same work
        return [kv if kv is not None else [] for kv in kvs]

    def _encode(
        self,
        model: torch.nn.Module,
        prompts: list[torch.Tensor],
        matches: list[tuple[int, _Entry | None]],
        device: torch.device,
        kwarg: str,
    ) -> list[KV] | None:
        # Layout per row: [pad][cached prefix][pad][new tokens]. Padding between the
        # cached and the new part keeps every row's new tokens right-aligned, so one
        # forward pass serves prompts whose cached prefixes differ in length.
        cached = [m for m, _ in matches]
        new = [len(p) - 1 - m for p, m in zip(prompts, cached, strict=True)]
        width_past, width_new, count = max(cached), max(new), len(prompts)
        ids = torch.zeros(count, width_new, dtype=torch.long)
        positions = torch.zeros(count, width_new, dtype=torch.long)
        mask = torch.zeros(count, width_past + width_new, dtype=torch.long)
        for r, (p, m, k) in enumerate(zip(prompts, cached, new, strict=True)):
            ids[r, width_new - k :] = p[m : m + k]
            positions[r, width_new - k :] = torch.arange(m, m + k)
            mask[r, width_past - m : width_past] = 1
            mask[r, width_past + width_new - k :] = 1
        past = DynamicCache()
        if width_past:
            parts = [_slice(e.kv, m) if e is not None else [] for m, e in matches]
            past = DynamicCache(ddp_cache_data=_left_pad_layers(parts, width_past, device))
        kwargs: dict[str, Any] = {kwarg: past}
        if "logits_to_keep" in inspect.signature(model.forward).parameters:
            kwargs["logits_to_keep"] = 1  # only keys and values are wanted
        out = model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            use_cache=True,
            **kwargs,
        )
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
        layers_out = getattr(cache, "layers", None)
        if not layers_out or not all(type(layer) is DynamicLayer for layer in layers_out):
            logger.warning(
                "%s returned a KV cache of an unexpected layout; prefix reuse is off for it.",
                type(model).__name__,
            )
            self._broken.add(id(model))
            return None
        self.stats.encoded_tokens += sum(new)
        result: list[KV] = []
        for r, (m, k) in enumerate(zip(cached, new, strict=True)):
            keep = torch.cat(
                [
                    torch.arange(width_past - m, width_past),
                    torch.arange(width_past + width_new - k, width_past + width_new),
                ]
            ).to(device)
            result.append(
                [
                    (
                        layer.keys[r].index_select(1, keep),
                        layer.values[r].index_select(1, keep),
                    )
                    for layer in layers_out
                ]
            )
        return result


def _slice(kv: KV, length: int) -> KV:
    return [(k[:, :length], v[:, :length]) for k, v in kv]


def _left_pad_layers(
    kvs: list[KV], width: int, device: torch.device
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, stack the sequences' keys and values into ``[rows, heads, width, dim]``."""
    template = next(kv for kv in kvs if kv)
    layers = []
    for layer, (k0, _) in enumerate(template):
        shape = (k0.shape[0], k0.shape[2], k0.dtype)
        keys = _left_pad([kv[layer][0] if kv else None for kv in kvs], shape, width, device)
        values = _left_pad([kv[layer][1] if kv else None for kv in kvs], shape, width, device)
        layers.append((keys, values))
    return layers


def _left_pad(
    parts: list[torch.Tensor | None],
    shape: tuple[int, int, torch.dtype],
    width: int,
    device: torch.device,
) -> torch.Tensor:
    """Stack ``[heads, len, dim]`` parts into ``[rows, heads, width, dim]``, zeros on the left.

    Zeros, not empty memory: masked positions get zero attention weight, and a NaN
    from uninitialised memory would survive that multiplication.
    """
    heads, dim, dtype = shape
    out = torch.zeros(len(parts), heads, width, dim, dtype=dtype, device=device)
    for r, part in enumerate(parts):
        if part is not None and part.shape[1]:
            out[r, :, width - part.shape[1] :] = part
    return out


def _padded_ids(
    prompt_ids: Sequence[Sequence[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in prompt_ids)
    ids = torch.full((len(prompt_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(prompt_ids), width, dtype=torch.long)
    for r, row in enumerate(prompt_ids):
        ids[r, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[r, width - len(row) :] = 1
    return ids.to(device), mask.to(device)


def _plain(
    prompt_ids: Sequence[Sequence[int]], pad_id: int, device: torch.device, kwarg: str
) -> PreparedBatch:
    ids, mask = _padded_ids(prompt_ids, pad_id, device)
    return PreparedBatch(ids, mask, None, kwarg)


def _assemble(
    prompts: list[torch.Tensor],
    kvs: list[KV],
    rows: list[int],
    pad_id: int,
    device: torch.device,
    kwarg: str,
) -> PreparedBatch:
    """Expand per-prompt caches to the batch rows, left-padded like the ids."""
    ids, mask = _padded_ids([prompts[d].tolist() for d in rows], pad_id, device)
    index = torch.tensor(rows, device=device)
    layers = [
        (keys.index_select(0, index), values.index_select(0, index))
        for keys, values in _left_pad_layers(kvs, ids.shape[1] - 1, device)
    ]
    return PreparedBatch(ids, mask, DynamicCache(ddp_cache_data=layers), kwarg)
