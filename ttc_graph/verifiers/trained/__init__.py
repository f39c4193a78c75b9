"""A verifier trained on your own policy's samples.

``train_verifier`` samples N solutions per problem with the policy, labels every
step prefix (final answer against the reference; the grounded checker's verdict
for where a wrong solution went wrong), fits a small head on three feature
groups — the checker's signals, the policy's own confidence, its hidden states —
validates it with folds grouped by problem, and writes a directory that
``load_trained_verifier`` (or ``load_verifier(DIR, policy=...)``) turns into a
:class:`TrainedVerifier` for any strategy.

Example:
    >>> from ttc_graph import load_policy
    >>> from ttc_graph.verifiers.trained import load_trained_verifier, train_verifier
    >>> policy = load_policy()  # doctest: +SKIP
    >>> train_verifier(dataset="arithmetic", limit=100, n=16, policy=policy,
    ...                out="runs/smol-verifier")  # doctest: +SKIP
    >>> verifier = load_trained_verifier("runs/smol-verifier", policy=policy)  # doctest: +SKIP
"""

from ttc_graph.verifiers.trained.card import (
    CARD_NAME,
    WEIGHTS_NAME,
    PolicyIdentity,
    VerifierCard,
    is_trained_verifier_dir,
    read_card,
    tokenizer_fingerprint,
)
from ttc_graph.verifiers.trained.export import LabelledCandidate, trl_rows, write_trl_jsonl
from ttc_graph.verifiers.trained.features import (
    DEFAULT_FEATURES,
    FEATURE_GROUPS,
    FeatureExtractor,
    feature_names,
    parse_feature_groups,
)
from ttc_graph.verifiers.trained.head import HEAD_KINDS, Standardizer, TrainedHead, fit_head
from ttc_graph.verifiers.trained.labels import first_fault, outcome_labels, step_labels
from ttc_graph.verifiers.trained.readout import PrefixReadout, read_prefixes
from ttc_graph.verifiers.trained.training import TrainingResult, train_verifier
from ttc_graph.verifiers.trained.validation import auroc, grouped_folds, selection_accuracy
from ttc_graph.verifiers.trained.verifier import TrainedVerifier, load_trained_verifier

__all__ = [
    "CARD_NAME",
    "DEFAULT_FEATURES",
    "FEATURE_GROUPS",
    "HEAD_KINDS",
    "WEIGHTS_NAME",
    "FeatureExtractor",
    "LabelledCandidate",
    "PolicyIdentity",
    "PrefixReadout",
    "Standardizer",
    "TrainedHead",
    "TrainedVerifier",
    "TrainingResult",
    "VerifierCard",
    "auroc",
    "feature_names",
    "first_fault",
    "fit_head",
    "grouped_folds",
    "is_trained_verifier_dir",
    "load_trained_verifier",
    "outcome_labels",
    "parse_feature_groups",
    "read_card",
    "read_prefixes",
    "selection_accuracy",
    "step_labels",
    "tokenizer_fingerprint",
    "train_verifier",
    "trl_rows",
    "write_trl_jsonl",
]
