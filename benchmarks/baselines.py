"""What a user would write without ttc-graph: raw ``model.generate`` loops.

Both baselines take the same chat prompt, temperature and token limits as the
ttc-graph runs they are compared with. They sample with transformers' own
``do_sample=True`` (top-k switched off, so the distribution is the same as ours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import GenerationConfig

from ttc_graph.verifiers import Verifier


@dataclass
class RawRun:
    """What a baseline produced: texts, generated tokens and prompt tokens encoded."""

    texts: list[str]
    completion_tokens: int
    decode_steps: int
    prompt_tokens: int
    iterations: int = 1


def chat_prompt(tokenizer: Any, system: str, question: str) -> str:
    """The rendered chat prompt up to the assistant turn."""
    chat = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    return str(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False))


def _config(
    model: Any, tokenizer: Any, temperature: float, max_new_tokens: int, **extra: Any
) -> GenerationConfig:
    # temperature 0 is greedy decoding, as the policy treats it.
    sampling: dict[str, Any] = (
        {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0}
        if temperature > 0
        else {"do_sample": False}
    )
    return GenerationConfig(
        **sampling,
        max_new_tokens=max_new_tokens,
        eos_token_id=model.generation_config.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def _rows(out: torch.Tensor, width: int, eos: set[int]) -> list[tuple[list[int], bool]]:
    """Generated tokens of each row up to (and without) EOS, and whether EOS came."""
    rows = []
    for tokens in out[:, width:].tolist():
        end = next((i for i, t in enumerate(tokens) if t in eos), None)
        rows.append((tokens if end is None else tokens[:end], end is not None))
    return rows


def _eos(model: Any) -> set[int]:
    ids = model.generation_config.eos_token_id
    return {ids} if isinstance(ids, int) else set(ids or [])


def raw_best_of_n(
    model: Any,
    tokenizer: Any,
    *,
    system: str,
    question: str,
    n: int,
    temperature: float,
    max_new_tokens: int,
) -> RawRun:
    """N solutions with one ``generate(num_return_sequences=N, do_sample=True)``."""
    prompt = chat_prompt(tokenizer, system, question)
    enc = tokenizer([prompt], return_tensors="pt", add_special_tokens=False).to(model.device)
    config = _config(model, tokenizer, temperature, max_new_tokens, num_return_sequences=n)
    with torch.inference_mode():
        out = model.generate(**enc, generation_config=config)
    rows = _rows(out, enc["input_ids"].shape[1], _eos(model))
    texts = [tokenizer.decode(tokens, skip_special_tokens=True) for tokens, _ in rows]
    return RawRun(
        texts=texts,
        completion_tokens=sum(len(t) + ended for t, ended in rows),
        decode_steps=out.shape[1] - enc["input_ids"].shape[1],
        prompt_tokens=n * enc["input_ids"].shape[1],
    )


def hand_beam_search(
    model: Any,
    tokenizer: Any,
    verifier: Verifier,
    *,
    system: str,
    question: str,
    n: int,
    beam_width: int,
    max_steps: int,
    temperature: float,
    step_tokens: int,
    delimiter: str = "\n\n",
) -> RawRun:
    """Step-level beam search written directly on ``generate``.

    Each iteration samples N next steps in one batch (stopping at the delimiter),
    scores every partial solution with the verifier, keeps the best N / width
    open ones and spreads the next N expansions over them. A beam is done at EOS
    or once it writes a boxed answer.
    """
    base = chat_prompt(tokenizer, system, question)
    config = _config(model, tokenizer, temperature, step_tokens, stop_strings=[delimiter])
    eos = _eos(model)
    beams: list[list[str]] = []
    finished: list[tuple[list[str], float]] = []
    tokens = steps = prompt_tokens = iterations = 0
    for _ in range(max_steps):
        iterations += 1
        if not beams:
            parents: list[list[str]] = [[] for _ in range(n)]
        else:
            share, extra = divmod(n, len(beams))
            parents = [b for i, b in enumerate(beams) for _ in range(share + (i < extra))]
        enc = tokenizer(
            [base + "".join(p) for p in parents],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        ).to(model.device)
        prompt_tokens += int(enc["attention_mask"].sum())
        with torch.inference_mode():
            out = model.generate(**enc, generation_config=config, tokenizer=tokenizer)
        steps += out.shape[1] - enc["input_ids"].shape[1]
        candidates: list[tuple[list[str], bool]] = []
        for parent, (row, ended) in zip(
            parents, _rows(out, enc["input_ids"].shape[1], eos), strict=True
        ):
            tokens += len(row) + ended
            text = tokenizer.decode(row, skip_special_tokens=True)
            cut = text.find(delimiter)
            if cut >= 0:
                text = text[: cut + len(delimiter)]
            candidates.append(([*parent, text], ended or "\\boxed{" in text))
        scores = [s[-1] for s in verifier.score_steps(question, [c for c, _ in candidates])]
        finished += [(c, s) for (c, done), s in zip(candidates, scores, strict=True) if done]
        open_beams = sorted(
            ((c, s) for (c, done), s in zip(candidates, scores, strict=True) if not done),
            key=lambda item: item[1],
            reverse=True,
        )[: n // beam_width]
        beams = [c for c, _ in open_beams]
        if not beams or len(finished) >= n:
            break
    else:
        finished += open_beams  # the step limit ends the open beams as they are
    best = max(finished, key=lambda item: item[1]) if finished else ([], 0.0)
    return RawRun(
        texts=["".join(best[0])],
        completion_tokens=tokens,
        decode_steps=steps,
        prompt_tokens=prompt_tokens,
        iterations=iterations,
    )
