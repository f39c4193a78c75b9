"""The card of a trained verifier (``verifier.json``) and its weights (``head.safetensors``).

The card says what the head reads and for which policy it was trained: the
policy id, its hidden size and a fingerprint of its tokenizer (so hidden-state
and log-probability features are never read from a model they were not
learned on), the ordered feature names, the head type and the standardisation,
and how it was made (data, sampling, seeds, validation table, command line,
library versions). Every problem with a card or weights file is a
:class:`~ttc_graph.errors.ModelLoadError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ttc_graph.errors import ModelLoadError
from ttc_graph.specs import CARD_NAME
from ttc_graph.verifiers.trained.head import HEAD_KINDS, HeadKind, Standardizer, TrainedHead

# CARD_NAME (verifier.json) lives in ttc_graph.specs, which checks specs without torch.
WEIGHTS_NAME = "head.safetensors"
FORMAT_VERSION = 1
"""Bumped when the card's meaning changes; a reader refuses versions it does not know."""


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """sha256 of the sorted (token, id) vocabulary, added tokens included.

    Example:
        >>> from ttc_graph import load_policy
        >>> tokenizer_fingerprint(load_policy().tokenizer)[:7]
        'sha256:'
    """
    vocab = sorted((str(t), int(i)) for t, i in tokenizer.get_vocab().items())
    blob = json.dumps(vocab, ensure_ascii=False, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class PolicyIdentity:
    """What identifies the policy whose samples (and internals) a verifier learned from."""

    model_id: str
    hidden_size: int
    tokenizer: str
    """:func:`tokenizer_fingerprint` of its tokenizer."""

    @classmethod
    def of(cls, policy: Any) -> PolicyIdentity:
        """The identity of a loaded local policy."""
        from ttc_graph.verifiers.trained.features import policy_hidden_size

        model_id = getattr(policy, "model_id", None) or type(policy.model).__name__
        return cls(
            str(model_id), policy_hidden_size(policy), tokenizer_fingerprint(policy.tokenizer)
        )


@dataclass
class VerifierCard:
    """Everything about a trained verifier except its weights.

    Example:
        >>> card = read_card("runs/my-verifier")  # doctest: +SKIP
        >>> card.feature_groups, card.head_kind, card.validation["table"][0]  # doctest: +SKIP
    """

    policy: PolicyIdentity
    feature_groups: list[str]
    feature_names: list[str]
    head_kind: HeadKind
    standardization: dict[str, list[float]]
    """``mean`` and ``scale`` per feature, in :attr:`feature_names` order."""
    system_prompt: str | None
    """The system prompt the policy features were read under (the sampling prompt)."""
    head_options: dict[str, Any] = field(default_factory=dict)
    """``l2``, ``hidden_units`` (MLP), ``seed``."""
    labels: str = ""
    """How step labels were made."""
    training: dict[str, Any] = field(default_factory=dict)
    """Data set, difficulty, data seed, limit, N, sampling, seeds, sample store."""
    samples: dict[str, Any] = field(default_factory=dict)
    """Counts: problems, candidates, step examples, right candidates."""
    validation: dict[str, Any] = field(default_factory=dict)
    """Grouped k-fold table: AUROC and selection accuracy per feature set, baselines."""
    command: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    """What made the card: command, commit and dirty state, machine, load, dates."""
    format_version: int = FORMAT_VERSION

    def standardizer(self) -> Standardizer:
        """The standardisation as tensors."""
        return Standardizer(
            torch.tensor(self.standardization["mean"], dtype=torch.float32),
            torch.tensor(self.standardization["scale"], dtype=torch.float32),
        )

    def to_json(self) -> dict[str, Any]:
        """The card as written to ``verifier.json``."""
        data = asdict(self)
        # Version first, so that a reader (human or not) sees it at the top.
        return {"format_version": data.pop("format_version"), **data}


def is_trained_verifier_dir(path: str | Path) -> bool:
    """Whether ``path`` is a directory holding a trained verifier's card."""
    p = Path(path).expanduser()
    return p.is_dir() and (p / CARD_NAME).is_file()


def write_card(card: VerifierCard, directory: Path) -> Path:
    """Write ``verifier.json`` into ``directory``."""
    path = directory / CARD_NAME
    path.write_text(json.dumps(card.to_json(), indent=1, allow_nan=True) + "\n", encoding="utf-8")
    return path


def write_head(head: TrainedHead, directory: Path) -> Path:
    """Write the head's weights as safetensors."""
    from safetensors.torch import save_file

    path = directory / WEIGHTS_NAME
    save_file(head.weights(), str(path), metadata={"format": "pt", "head": head.kind})
    return path


_REQUIRED = {
    "policy": dict,
    "feature_groups": list,
    "feature_names": list,
    "head_kind": str,
    "standardization": dict,
}


def read_card(directory: str | Path) -> VerifierCard:
    """Read and check ``verifier.json``; every problem is one line naming the file."""
    path = Path(directory).expanduser() / CARD_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ModelLoadError(
            f"{path} is missing: {path.parent} is not a trained verifier (train one with "
            "ttc-graph train-verifier)."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"Cannot read {path}: {exc}.") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelLoadError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); the card is damaged: "
            "retrain the verifier or restore the file."
        ) from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} must hold a JSON object, got {type(data).__name__}.")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelLoadError(
            f"{path} has card format version {version!r}; this ttc-graph reads version "
            f"{FORMAT_VERSION}. Retrain the verifier with this version (or use the ttc-graph "
            "that made it)."
        )
    for key, kind in _REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise ModelLoadError(
                f"{path}: field {key!r} is missing or not a {kind.__name__}; the card is damaged."
            )
    if data["head_kind"] not in HEAD_KINDS:
        raise ModelLoadError(
            f"{path}: unknown head {data['head_kind']!r} (this ttc-graph knows "
            f"{', '.join(HEAD_KINDS)})."
        )
    try:
        policy = PolicyIdentity(
            model_id=str(data["policy"]["model_id"]),
            hidden_size=int(data["policy"]["hidden_size"]),
            tokenizer=str(data["policy"]["tokenizer"]),
        )
        names = [str(n) for n in data["feature_names"]]
        standardization = {
            k: [float(v) for v in data["standardization"][k]] for k in ("mean", "scale")
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: malformed policy or standardization ({exc!r}).") from exc
    if any(len(v) != len(names) for v in standardization.values()):
        raise ModelLoadError(
            f"{path}: the standardization has {len(standardization['mean'])} entries for "
            f"{len(names)} features; the card is damaged."
        )
    if not all(math.isfinite(v) for vs in standardization.values() for v in vs):
        raise ModelLoadError(f"{path}: the standardization holds NaN or infinity.")
    known = set(VerifierCard.__dataclass_fields__)
    extra = {k: v for k, v in data.items() if k in known}
    extra.update(
        policy=policy,
        feature_names=names,
        standardization=standardization,
        feature_groups=[str(g) for g in data["feature_groups"]],
    )
    return VerifierCard(**extra)


def read_head(card: VerifierCard, directory: str | Path) -> TrainedHead:
    """Load the head's weights and check they fit the card."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(directory).expanduser() / WEIGHTS_NAME
    if not path.is_file():
        raise ModelLoadError(
            f"{path} is missing: the trained verifier in {path.parent} has a card but no "
            "weights. Retrain it (ttc-graph train-verifier ... --out DIR)."
        )
    try:
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(
            f"{path} is not a readable safetensors file ({exc}); the weights are damaged: "
            "retrain the verifier or restore the file."
        ) from exc
    hidden_units = int(card.head_options.get("hidden_units", 32))
    try:
        return TrainedHead.from_weights(card.head_kind, weights, card.standardizer(), hidden_units)
    except (RuntimeError, ValueError) as exc:
        raise ModelLoadError(
            f"{path} does not fit its card ({len(card.feature_names)} features, "
            f"{card.head_kind} head): {str(exc).splitlines()[0]}. Retrain the verifier."
        ) from exc
