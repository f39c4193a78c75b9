# The public names of ``ttc_graph.verifiers.trained``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): torch loads only with what needs it.
from .card import (
    CARD_NAME,
    WEIGHTS_NAME,
    PolicyIdentity,
    VerifierCard,
    is_trained_verifier_dir,
    read_card,
    tokenizer_fingerprint,
)
from .export import LabelledCandidate, trl_rows, write_trl_jsonl
from .features import (
    DEFAULT_FEATURES,
    FEATURE_GROUPS,
    FeatureExtractor,
    feature_names,
    parse_feature_groups,
)
from .head import HEAD_KINDS, Standardizer, TrainedHead, fit_head
from .labels import first_fault, outcome_labels, step_labels
from .readout import PrefixReadout, read_prefixes
from .training import TrainingResult, train_verifier
from .validation import auroc, grouped_folds, selection_accuracy
from .verifier import TrainedVerifier, load_trained_verifier

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
