"""Batched forward passes that read a model's outputs at chosen token positions.

Sequences are right-padded: every real token then keeps the position it has
alone, so a score read inside a sequence does not depend on which other
sequences share its batch (left padding would shift positions). Rows are sorted
by length before chunking so that each chunk pads as little as possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class ReadRow:
    """One sequence of token ids and the positions whose outputs are wanted."""

    ids: list[int]
    positions: list[int]


def input_device(model: Any) -> torch.device:
    """Where input ids must live (the embedding's device, also under ``device_map``)."""
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if embeddings is not None:
        return torch.device(embeddings.weight.device)
    return torch.device(next(model.parameters()).device)


def read_logits(
    model: Any,
    rows: Sequence[ReadRow],
    *,
    batch_size: int,
    vocab_ids: Sequence[int] | None = None,
) -> list[torch.Tensor]:
    """Logits at each row's positions: one float32 ``(len(positions), k)`` tensor per row.

    With ``vocab_ids`` the model is a causal LM and ``k = len(vocab_ids)``: only the
    hidden states at the wanted positions go through the LM head, so memory does
    not grow with sequence length times vocabulary size. Without it the model has
    a per-token classification head and ``k`` is its number of labels.
    """
    results: list[torch.Tensor | None] = [None] * len(rows)
    order = sorted(range(len(rows)), key=lambda r: len(rows[r].ids), reverse=True)
    device = input_device(model)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(rows[r].ids) for r in chunk)
            input_ids = torch.zeros((len(chunk), width), dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for b, r in enumerate(chunk):
                input_ids[b, : len(rows[r].ids)] = torch.tensor(rows[r].ids)
                mask[b, : len(rows[r].ids)] = 1
            batch_rows = torch.tensor(
                [b for b, r in enumerate(chunk) for _ in rows[r].positions], dtype=torch.long
            )
            batch_cols = torch.tensor(
                [p for r in chunk for p in rows[r].positions], dtype=torch.long
            )
            inputs = {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}
            if vocab_ids is None:
                logits = _head_logits(model(**inputs))
                picked = logits[batch_rows.to(logits.device), batch_cols.to(logits.device)]
            else:
                picked = _lm_logits(model, inputs, batch_rows, batch_cols, list(vocab_ids))
            picked = picked.float().cpu()
            offset = 0
            for r in chunk:
                n = len(rows[r].positions)
                results[r] = picked[offset : offset + n]
                offset += n
    return [r if r is not None else torch.empty(0) for r in results]


def _lm_logits(
    model: Any,
    inputs: dict[str, torch.Tensor],
    rows: torch.Tensor,
    cols: torch.Tensor,
    vocab_ids: list[int],
) -> torch.Tensor:
    head = model.get_output_embeddings()
    base = model.base_model
    if head is None or base is model:
        # No separable LM head: pay for the full logits once.
        logits = _head_logits(model(**inputs))
        return logits[rows.to(logits.device), cols.to(logits.device)][:, vocab_ids]
    hidden = base(**inputs)[0]
    selected = hidden[rows.to(hidden.device), cols.to(hidden.device)]
    selected = selected.to(head.weight.device)
    return head(selected)[:, vocab_ids]


def _head_logits(output: Any) -> torch.Tensor:
    logits = getattr(output, "logits", None)
    if logits is None:
        logits = output[0]
    return logits
