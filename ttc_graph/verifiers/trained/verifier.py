"""A verifier whose head was trained on the policy's own samples."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import ConfigDict, Field, PrivateAttr

from ttc_graph.errors import InputError, ModelLoadError, VerifierTrainingError
from ttc_graph.verifiers.base import Verifier
from ttc_graph.verifiers.trained.card import (
    CARD_NAME,
    PolicyIdentity,
    VerifierCard,
    read_card,
    read_head,
)
from ttc_graph.verifiers.trained.features import (
    POLICY_GROUPS,
    FeatureExtractor,
    feature_names,
    parse_feature_groups,
)
from ttc_graph.verifiers.trained.head import TrainedHead
from ttc_graph.verifiers.trained.readout import check_local_policy

logger = logging.getLogger(__name__)


class TrainedVerifier(Verifier):
    """P(correct | solution so far) for every step, from a head fitted on the policy's samples.

    The features of each prefix (see :mod:`ttc_graph.verifiers.trained.features`)
    go through the card's standardisation and the head. When the features read
    the policy (``confidence``, ``hidden``), a batch of candidates costs one
    forward pass per ``batch_size`` candidates, never one per step.

    Build it with :func:`load_trained_verifier` (or ``load_verifier(DIR, policy=...)``).

    Example:
        >>> v = load_trained_verifier("runs/my-verifier", policy=load_policy())  # doctest: +SKIP
        >>> q = "Tom has 12 apples and buys 30 more. How many?"
        >>> v.invoke({"question": q, "candidates": [["12 + 30 = 42.", "42"]]})  # doctest: +SKIP
        [[0.71, 0.83]]
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    card: VerifierCard = Field(repr=False)
    head: TrainedHead = Field(repr=False)
    policy: Any = Field(default=None, repr=False)
    """The policy, held only when the card's features read it."""
    batch_size: int = 8
    """Candidates per forward pass of the policy."""
    directory: str = ""
    """Where the verifier was loaded from (for messages)."""

    _extractor: FeatureExtractor = PrivateAttr()
    _columns: torch.Tensor = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        where = str(Path(self.directory) / CARD_NAME) if self.directory else "the card"
        if self.batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {self.batch_size}.")
        try:
            groups = parse_feature_groups(self.card.feature_groups)
        except VerifierTrainingError as exc:
            raise ModelLoadError(f"{where}: {exc}") from exc
        needs_policy = any(g in POLICY_GROUPS for g in groups)
        if not needs_policy:
            self.policy = None
        self._extractor = FeatureExtractor(
            groups,
            policy=self.policy,
            batch_size=self.batch_size,
            system_prompt=self.card.system_prompt,
        )
        self._columns = _columns(self.card, self._extractor.names, where)
        if self.head.n_features != len(self.card.feature_names):
            raise ModelLoadError(
                f"{where}: the head reads {self.head.n_features} features but the card lists "
                f"{len(self.card.feature_names)}."
            )

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        base = name or f"TrainedVerifier[{'+'.join(self.card.feature_groups)}]"
        return f"{base}{suffix or ''}"

    @property
    def feature_groups(self) -> tuple[str, ...]:
        """The feature groups the head reads."""
        return tuple(self.card.feature_groups)

    def score_steps(self, question: str, candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        """P(correct) of every step prefix of every candidate."""
        matrices = self._extractor.extract(question, candidates)
        x = torch.cat(matrices)[:, self._columns]
        probabilities = self.head.predict(x).tolist()
        out, at = [], 0
        for m in matrices:
            out.append(probabilities[at : at + m.shape[0]])
            at += m.shape[0]
        return out


def _columns(card: VerifierCard, available: list[str], where: str) -> torch.Tensor:
    """Indices of the card's features among those computed, in the card's order."""
    index = {name: i for i, name in enumerate(available)}
    unknown = [n for n in card.feature_names if n not in index]
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise ModelLoadError(
            f"{where} names {len(unknown)} feature(s) this ttc-graph does not compute for "
            f"groups {', '.join(card.feature_groups)}: {shown}. The checker or the policy "
            "changed since training; retrain the verifier (ttc-graph train-verifier)."
        )
    if len(set(card.feature_names)) != len(card.feature_names):
        raise ModelLoadError(f"{where} lists a feature twice; the card is damaged.")
    # Columns are picked by name: a checker that has since gained a signal still
    # serves a head trained before it (the new column is simply not read).
    return torch.tensor([index[n] for n in card.feature_names], dtype=torch.long)


def check_policy(card: VerifierCard, policy: Any, directory: Path) -> None:
    """Refuse a policy other than the one the verifier was trained on.

    The hidden size and the tokenizer fingerprint must match (otherwise the
    features mean something else); a different model id with both matching is
    only warned about, since one model has many names (a hub id, its local copy).
    """
    actual = PolicyIdentity.of(policy)
    expected = card.policy
    fix = (
        f"Load the verifier with the policy it was trained for (load_policy("
        f"{expected.model_id!r}), or --model {expected.model_id!r}), or train one for this "
        f"policy: ttc-graph train-verifier --model <your model> ... --out DIR."
    )
    mismatch = []
    if actual.hidden_size != expected.hidden_size:
        mismatch.append(f"hidden size {expected.hidden_size}, not {actual.hidden_size}")
    if actual.tokenizer != expected.tokenizer:
        mismatch.append("a different tokenizer (vocabulary fingerprint)")
    if mismatch:
        raise ModelLoadError(
            f"The trained verifier in {directory} was trained for policy "
            f"{expected.model_id!r}, but the policy given is {actual.model_id!r} with "
            f"{' and '.join(mismatch)}. {fix}"
        )
    if actual.model_id != expected.model_id:
        message = (
            f"The trained verifier in {directory} was trained for policy {expected.model_id!r}; "
            f"the policy given is {actual.model_id!r}. Their hidden size and tokenizer match, "
            "so it loads, but its scores only mean something if both are the same weights."
        )
        logger.warning(message)
        warnings.warn(message, stacklevel=3)


def load_trained_verifier(
    directory: str | Path, *, policy: Any = None, batch_size: int = 8
) -> TrainedVerifier:
    """Load a verifier written by :func:`~ttc_graph.verifiers.trained.train_verifier`.

    Args:
        directory: The ``--out`` directory of ``ttc-graph train-verifier`` (holds
            ``verifier.json`` and ``head.safetensors``).
        policy: The policy it was trained for; required when its features read the
            policy (``confidence``, ``hidden``), ignored otherwise.
        batch_size: Candidates per forward pass of the policy.

    Raises:
        ModelLoadError: a missing, damaged or unknown card or weights file, an
            unknown feature, a missing policy, or a policy other than the one
            the verifier was trained for, each in one line naming the file.

    Example:
        >>> from ttc_graph import load_policy, create_best_of_n
        >>> policy = load_policy()  # doctest: +SKIP
        >>> verifier = load_trained_verifier("runs/my-verifier", policy=policy)  # doctest: +SKIP
        >>> graph = create_best_of_n(
        ...     policy=policy, verifier=verifier, n=8, selection="weighted"
        ... )  # doctest: +SKIP
    """
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise ModelLoadError(f"No trained verifier directory {path}.")
    card = read_card(path)
    try:
        groups = parse_feature_groups(card.feature_groups)
    except VerifierTrainingError as exc:
        raise ModelLoadError(f"{path / CARD_NAME}: {exc}") from exc
    needs_policy = any(g in POLICY_GROUPS for g in groups)
    if needs_policy:
        if policy is None:
            raise ModelLoadError(
                f"The trained verifier in {path} reads the policy's own "
                f"{' and '.join(g for g in groups if g in POLICY_GROUPS)} features; pass "
                f"policy=load_policy({card.policy.model_id!r}) (on the command line it uses "
                "--model)."
            )
        check_local_policy(policy, f"The trained verifier in {path}")
        check_policy(card, policy, path)
    _check_names_known(card, path)
    head = read_head(card, path)
    return TrainedVerifier(
        card=card,
        head=head,
        policy=policy if needs_policy else None,
        batch_size=batch_size,
        directory=str(path),
    )


def _check_names_known(card: VerifierCard, path: Path) -> None:
    """Fail before the weights are read when a feature name belongs to no group."""
    groups = set(card.feature_groups)
    for name in card.feature_names:
        group = name.split(".", 1)[0]
        if group not in groups:
            raise ModelLoadError(
                f"{path / CARD_NAME} lists feature {name!r}, which belongs to none of its "
                f"feature groups ({', '.join(card.feature_groups)}); the card is damaged."
            )
    if "hidden" in groups:
        # Names are checked against what is computed at construction; this catches a
        # card whose hidden width disagrees with the size it records.
        expected = set(feature_names(["hidden"], hidden_size=card.policy.hidden_size))
        bad = [n for n in card.feature_names if n.startswith("hidden.") and n not in expected]
        if bad:
            raise ModelLoadError(
                f"{path / CARD_NAME} lists hidden feature {bad[0]!r}, which a policy of hidden "
                f"size {card.policy.hidden_size} does not have; the card is damaged."
            )
