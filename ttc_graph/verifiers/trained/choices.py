"""The choices a trained verifier is built from: feature groups and head kinds.

Kept apart from the modules that use them (which import torch) so the CLI can
list them in ``ttc-graph train-verifier --help`` without loading torch.
"""

from __future__ import annotations

from typing import Literal, get_args

FeatureGroup = Literal["checker", "confidence", "hidden"]
FEATURE_GROUPS: tuple[FeatureGroup, ...] = get_args(FeatureGroup)
DEFAULT_FEATURES: tuple[FeatureGroup, ...] = ("checker", "confidence")

HeadKind = Literal["logistic", "mlp"]
HEAD_KINDS: tuple[HeadKind, ...] = get_args(HeadKind)
