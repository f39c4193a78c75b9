"""What a PRM is before its weights load: its config, tokenizer and layout (format).

:func:`prm_source` reads them for every way a PRM runs (transformers, vLLM in process,
a vLLM server), so the format is told one way.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttc_graph.errors import InputError, ModelLoadError
from ttc_graph.policy.loading import load_pretrained, resolve_model_source
from ttc_graph.verifiers.prm import (
    PRM_FORMATS,
    PRMFormat,
    PRMVerifier,
    marker_token,
    prm_token_ids,
)

logger = logging.getLogger(__name__)

# Known checkpoints whose layout the config alone does not reveal (both are causal LMs).
_NAME_HINTS: tuple[tuple[str, PRMFormat], ...] = (
    ("math-shepherd", "step_tag"),
    ("rlhflow", "chat"),
    ("prm-deepseek-data", "chat"),
    ("prm-mistral-data", "chat"),
)


def detect_prm_format(name: str, config: Any, tokenizer: Any, *, step_tag: str = "ки") -> PRMFormat:
    """Tell a PRM's layout from its config, tokenizer and (for known models) its name.

    A per-token classifier (``*ForTokenClassification`` or a ``*ProcessRewardModel``)
    is ``classifier``; a causal LM is ``step_tag`` when its name says Math-Shepherd,
    ``chat`` when its name says RLHFlow or its tokenizer has a chat template, and
    ``step_tag`` when it has no template but a single-token step tag.
    """
    architectures = [str(a) for a in (getattr(config, "architectures", None) or [])]
    if any(
        a.endswith("ForTokenClassification") or "ProcessRewardModel" in a for a in architectures
    ):
        return "classifier"
    if architectures and not any(a.endswith("ForCausalLM") for a in architectures):
        raise ModelLoadError(
            f"{name} is a {', '.join(architectures)}, not a process reward model: a PRM is a "
            "causal LM (chat or step-tag layout) or a per-token classifier. Sequence "
            "classifiers score whole answers (outcome reward models) and are not supported."
        )
    lowered = name.lower()
    for hint, fmt in _NAME_HINTS:
        if hint in lowered:
            return fmt
    if getattr(tokenizer, "chat_template", None):
        logger.warning(
            "%s: no known PRM name; treating it as a chat-format PRM ('+'/'-' assistant turns) "
            "because its tokenizer has a chat template. Pass format=... if that is wrong.",
            name,
        )
        return "chat"
    probe = tokenizer(f"x {step_tag}", add_special_tokens=False, return_offsets_mapping=True)
    if marker_token(probe["offset_mapping"], 2, len(step_tag)) >= 0:
        return "step_tag"
    raise ModelLoadError(
        f"{name} is not a recognisable PRM: a causal LM without a chat template and without "
        f"a single-token step tag {step_tag!r}. Pass format='chat', 'step_tag' or "
        "'classifier' (and step_tag=... if it uses another tag)."
    )


@dataclass(frozen=True)
class PRMSource:
    """What :func:`load_prm` knows of a PRM before it loads any weights."""

    name: str
    source: str
    """A local directory or hub id, for ``from_pretrained`` or vLLM."""
    config: Any
    tokenizer: Any
    format: PRMFormat
    options: dict[str, Any]
    """The :class:`PRMVerifier` token fields given (``good_token``, ...)."""

    @property
    def architectures(self) -> list[str]:
        return [str(a) for a in (getattr(self.config, "architectures", None) or [])]

    def token_ids(self) -> tuple[list[int] | None, int | None]:
        """:func:`~ttc_graph.verifiers.prm.prm_token_ids` of this PRM."""
        keys = ("good_token", "bad_token", "separator")
        picked = {k: self.options[k] for k in keys if k in self.options}
        return prm_token_ids(self.tokenizer, self.format, model_id=self.name, **picked)


def prm_source(
    model: str | os.PathLike[str],
    *,
    format: PRMFormat | None = None,
    trust_remote_code: bool = False,
    weights: bool = True,
    **options: Any,
) -> PRMSource:
    """Read a PRM's config and tokenizer and tell its format (no weights are loaded).

    ``weights=False`` accepts a directory without weights (a tokenizer and config
    beside a served model). Arguments as for :func:`load_prm`.
    """
    from transformers import AutoConfig, AutoTokenizer

    if model is None or not str(model).strip():
        raise InputError("load_prm needs a PRM: a local directory or a hub id such as "
                         "'RLHFlow/Llama3.1-8B-PRM-Deepseek-Data'.")  # fmt: skip
    if format is not None and format not in PRM_FORMATS:
        raise InputError(f"Unknown PRM format {format!r}; use one of {', '.join(PRM_FORMATS)}.")
    unknown = set(options) - set(PRMVerifier.model_fields)
    if unknown:
        raise InputError(
            f"Unknown load_prm option(s) {sorted(unknown)}; use good_token, bad_token, "
            "step_tag, separator or system_prompt."
        )
    name = str(model)
    path = Path(name).expanduser()
    source = str(path) if not weights and path.is_dir() else resolve_model_source(model)
    remote = {"trust_remote_code": True} if trust_remote_code else {}
    config = load_pretrained(AutoConfig, source, what="PRM config", **remote)
    tokenizer = load_pretrained(AutoTokenizer, source, what="PRM tokenizer", **remote)
    fmt: PRMFormat = format or detect_prm_format(
        name, config, tokenizer, step_tag=options.get("step_tag", "ки")
    )
    return PRMSource(name, source, config, tokenizer, fmt, dict(options))
