"""The features a trained verifier reads for every step prefix of a candidate.

Three groups, each judged on the solution *up to* step *k* (like a PRM):

- ``checker``: the grounded checker's signals
  (:meth:`~ttc_graph.verifiers.grounded.GroundedVerifier.step_features`), named
  ``checker.<name>`` for every name in its ``CHECKER_FEATURES`` (read at run
  time, so a checker that learns a new signal needs no change here);
- ``confidence``: the policy's own mean and minimum token log-probability of
  the completion so far and its token count (``confidence.mean_logprob``,
  ``confidence.min_logprob``, ``confidence.tokens``);
- ``hidden``: the policy's last-layer hidden state at the prefix's last token
  (``hidden.last.<i>``) and its mean over the completion so far
  (``hidden.mean.<i>``).

``confidence`` and ``hidden`` come from one forward pass of the policy per
batch of candidates (:mod:`ttc_graph.verifiers.trained.readout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch

from ttc_graph.errors import VerifierTrainingError
from ttc_graph.policy.prefix_cache import PrefixCache
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.verifiers.trained.choices import FEATURE_GROUPS, FeatureGroup
from ttc_graph.verifiers.trained.readout import check_local_policy, read_prefixes

POLICY_GROUPS: frozenset[str] = frozenset({"confidence", "hidden"})
"""Groups that need the policy at scoring time."""
CONFIDENCE_FEATURES: tuple[str, ...] = ("mean_logprob", "min_logprob", "tokens")

_PROMPT_CACHE_BYTES = 64 * 2**20
"""Encoded prompts kept for a policy whose own prefix cache is off."""


def parse_feature_groups(spec: str | Sequence[str]) -> tuple[FeatureGroup, ...]:
    """Validate feature groups (``"checker,confidence"`` or a list); canonical order.

    Example:
        >>> parse_feature_groups("hidden,checker")
        ('checker', 'hidden')
    """
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise VerifierTrainingError(
            f"Name at least one feature group, e.g. checker,confidence "
            f"(from {', '.join(FEATURE_GROUPS)})."
        )
    for name in names:
        if name not in FEATURE_GROUPS:
            raise VerifierTrainingError(
                f"Unknown feature group {name!r}; choose from {', '.join(FEATURE_GROUPS)}."
            )
    return tuple(g for g in FEATURE_GROUPS if g in names)


def checker_features() -> tuple[str, ...]:
    """The grounded checker's feature names, as it defines them now."""
    try:
        from ttc_graph.verifiers.grounded import CHECKER_FEATURES
    except ImportError as exc:
        raise VerifierTrainingError(
            f"The checker features need ttc_graph.verifiers.grounded, which cannot be "
            f"imported ({exc}); train with --features confidence,hidden instead."
        ) from exc
    return tuple(CHECKER_FEATURES)


def policy_hidden_size(policy: Any) -> int:
    """Width of the policy's last hidden layer."""
    size = getattr(policy.model.config, "hidden_size", None)
    if isinstance(size, int):
        return size
    return int(policy.model.get_output_embeddings().in_features)


def feature_names(groups: Sequence[str], *, hidden_size: int | None) -> list[str]:
    """Every feature's name, in column order, for ``groups``.

    Example:
        >>> feature_names(["confidence"], hidden_size=None)
        ['confidence.mean_logprob', 'confidence.min_logprob', 'confidence.tokens']
    """
    names: list[str] = []
    for group in parse_feature_groups(groups):
        if group == "checker":
            names += [f"checker.{n}" for n in checker_features()]
        elif group == "confidence":
            names += [f"confidence.{n}" for n in CONFIDENCE_FEATURES]
        else:
            if hidden_size is None:
                raise ValueError("The hidden features need the policy's hidden size.")
            names += [f"hidden.last.{i}" for i in range(hidden_size)]
            names += [f"hidden.mean.{i}" for i in range(hidden_size)]
    return names


class FeatureExtractor:
    """Computes the feature matrix of each candidate: one row per step prefix.

    Example:
        >>> from ttc_graph import load_policy
        >>> fx = FeatureExtractor(["checker", "confidence"], policy=load_policy())
        >>> (x,) = fx.extract("What is 2 + 3?", [["2 + 3 = 5.\\n\\n", "The answer is 5."]])
        >>> x.shape == (2, len(fx.names))
        True
    """

    def __init__(
        self,
        groups: Sequence[str],
        *,
        policy: Any = None,
        batch_size: int = 8,
        system_prompt: str | None = DEFAULT_SYSTEM_PROMPT,
    ) -> None:
        self.groups = parse_feature_groups(groups)
        self.needs_policy = any(g in POLICY_GROUPS for g in self.groups)
        if self.needs_policy:
            check_local_policy(policy, "The confidence and hidden features")
        self.policy = policy if self.needs_policy else None
        self.batch_size = batch_size
        self.system_prompt = system_prompt
        size = policy_hidden_size(policy) if "hidden" in self.groups else None
        self.names = feature_names(self.groups, hidden_size=size)
        self._checker_names = checker_features() if "checker" in self.groups else ()
        self._checker: Any = None
        # Beam search scores the same question every step; training shares the system
        # prompt across questions: neither is encoded again from its start. The policy's
        # own cache, which generation fills too; a private one where it has none.
        own = getattr(policy, "prefix_cache", None) if policy is not None else None
        self._prefixes = own if own is not None else PrefixCache(max_bytes=_PROMPT_CACHE_BYTES)

    def extract(self, question: str, candidates: Sequence[Sequence[str]]) -> list[torch.Tensor]:
        """One float32 ``(steps, len(names))`` matrix per candidate."""
        parts: list[list[torch.Tensor]] = [[] for _ in candidates]
        if "checker" in self.groups:
            for i, steps in enumerate(candidates):
                parts[i].append(self._checker_matrix(question, steps))
        if self.needs_policy:
            readouts = read_prefixes(
                self.policy,
                question,
                candidates,
                batch_size=self.batch_size,
                system_prompt=self.system_prompt,
                prefix_cache=self._prefixes,
            )
            for i, r in enumerate(readouts):
                if "confidence" in self.groups:
                    parts[i].append(torch.stack([r.mean_logprob, r.min_logprob, r.tokens], 1))
                if "hidden" in self.groups:
                    parts[i] += [r.hidden_last, r.hidden_mean]
        return [torch.cat(p, dim=1).float() for p in parts]

    def _checker_matrix(self, question: str, steps: Sequence[str]) -> torch.Tensor:
        if self._checker is None:
            from ttc_graph.verifiers.grounded import GroundedVerifier

            self._checker = GroundedVerifier()
        rows = cast(list[dict[str, float]], self._checker.step_features(question, list(steps)))
        try:
            values = [[float(row[n]) for n in self._checker_names] for row in rows]
        except KeyError as exc:
            raise RuntimeError(
                f"The grounded checker lists feature {exc.args[0]!r} in CHECKER_FEATURES but "
                "did not compute it."
            ) from exc
        return torch.tensor(values, dtype=torch.float32)
