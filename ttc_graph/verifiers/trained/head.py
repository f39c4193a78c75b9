"""The trained part: standardised features → P(correct), a logistic regression or a small MLP.

Both are fitted full-batch with L-BFGS on the mean binary cross-entropy plus an
L2 penalty on the weights (not the biases), in float64, from a deterministic
start: the logistic head starts at zero weights and the base rate, the MLP from
weights drawn with a generator seeded by ``seed``. Same data and seed, same head.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from ttc_graph.errors import InputError, VerifierTrainingError
from ttc_graph.verifiers.trained.choices import HEAD_KINDS, HeadKind


@dataclass(frozen=True)
class Standardizer:
    """Per-feature shift and scale; a constant feature keeps scale 1 (it becomes 0)."""

    mean: torch.Tensor
    scale: torch.Tensor

    @classmethod
    def fit(cls, x: torch.Tensor) -> Standardizer:
        """Mean and standard deviation of each column of ``x``."""
        x = x.double()
        mean = x.mean(0)
        std = x.std(0, unbiased=False)
        scale = torch.where(std > 1e-8, std, torch.ones_like(std))
        return cls(mean.float(), scale.float())

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / scale``."""
        return (x - self.mean.to(x.dtype)) / self.scale.to(x.dtype)


def build_net(kind: str, n_features: int, hidden_units: int = 32) -> nn.Sequential:
    """An unfitted head: ``Linear(F, 1)`` or ``Linear(F, h) → tanh → Linear(h, 1)``."""
    if kind not in HEAD_KINDS:
        raise VerifierTrainingError(f"Unknown head {kind!r}; choose {' or '.join(HEAD_KINDS)}.")
    if n_features < 1 or hidden_units < 1:
        raise InputError("A head needs at least one feature and one hidden unit.")
    if kind == "logistic":
        return nn.Sequential(nn.Linear(n_features, 1))
    # tanh rather than ReLU: smooth, which suits L-BFGS's line search.
    return nn.Sequential(nn.Linear(n_features, hidden_units), nn.Tanh(), nn.Linear(hidden_units, 1))


@dataclass
class TrainedHead:
    """A fitted head with its standardisation.

    Example:
        >>> x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
        >>> head = fit_head(x, torch.tensor([0, 0, 1, 1]), l2=0.01)
        >>> p = head.predict(x)
        >>> bool(p[0] < 0.5 < p[3])
        True
    """

    kind: HeadKind
    net: nn.Sequential
    standardizer: Standardizer

    @property
    def n_features(self) -> int:
        """Number of input features."""
        return int(self.standardizer.mean.numel())

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """P(correct) for each row of the raw (unstandardised) features, float32."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(
                f"The head expects (rows, {self.n_features}) features, got {tuple(x.shape)}."
            )
        with torch.inference_mode():
            return torch.sigmoid(self.net(self.standardizer.apply(x.float())))[:, 0]

    def weights(self) -> dict[str, torch.Tensor]:
        """The parameters to save (float32, contiguous)."""
        return {k: v.detach().float().contiguous() for k, v in self.net.state_dict().items()}

    @classmethod
    def from_weights(
        cls,
        kind: HeadKind,
        weights: Mapping[str, torch.Tensor],
        standardizer: Standardizer,
        hidden_units: int = 32,
    ) -> TrainedHead:
        """Rebuild a head; raises ``RuntimeError``/``ValueError`` when the shapes do not fit."""
        net = build_net(kind, int(standardizer.mean.numel()), hidden_units)
        net.load_state_dict(dict(weights), strict=True)
        net.float().eval()
        return cls(kind, net, standardizer)
