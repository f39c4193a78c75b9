"""The trained part: standardised features → P(correct), a logistic regression or a small MLP.

Both are fitted full-batch with L-BFGS on the mean binary cross-entropy plus an
L2 penalty on the weights (not the biases), in float64, from a deterministic
start: the logistic head starts at zero weights and the base rate, the MLP from
weights drawn with a generator seeded by ``seed``. Same data and seed, same head.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from ttc_graph.errors import InputError, VerifierTrainingError
from ttc_graph.verifiers.trained.choices import HEAD_KINDS, HeadKind

__all__ = ["HEAD_KINDS", "HeadKind", "Standardizer", "TrainedHead", "build_net", "fit_head"]


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


def fit_head(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    kind: HeadKind = "logistic",
    l2: float = 1e-2,
    hidden_units: int = 32,
    seed: int = 0,
    max_iter: int = 200,
) -> TrainedHead:
    """Fit a head on features ``x`` (rows × features) and 0/1 labels ``y``.

    Args:
        kind: ``logistic`` or ``mlp`` (one tanh layer of ``hidden_units``).
        l2: Penalty ``l2 / 2 × Σ w²`` on the weights, added to the mean loss.
        seed: Seeds the MLP's initial weights (the logistic head needs none).
        max_iter: L-BFGS iterations.

    Example:
        >>> x = torch.tensor([[0.0, 1.0], [0.2, 1.0], [1.0, 1.0], [1.2, 1.0]])
        >>> fit_head(x, torch.tensor([0, 0, 1, 1]), kind="mlp").predict(x).round().tolist()
        [0.0, 0.0, 1.0, 1.0]
    """
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise InputError(f"fit_head needs x (rows, features) and y (rows,), got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")  # fmt: skip
    if not math.isfinite(l2) or l2 < 0:
        raise InputError(f"l2 must be a finite number >= 0, got {l2}.")
    labels = y.double()
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise InputError("Labels must be 0 or 1.")
    rate = float(labels.mean())
    if rate in (0.0, 1.0):
        raise VerifierTrainingError(
            "Cannot fit a verifier on one class only: every example is "
            f"{'right' if rate == 1.0 else 'wrong'}."
        )
    if not bool(torch.isfinite(x).all()):
        raise InputError("Features contain NaN or infinity.")
    standardizer = Standardizer.fit(x)
    z = standardizer.apply(x.double())
    net = build_net(kind, x.shape[1], hidden_units).double()
    _initialise(net, rate, seed)
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    loss_fn = nn.BCEWithLogitsLoss()
    optimiser = torch.optim.LBFGS(
        net.parameters(),
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = loss_fn(net(z)[:, 0], labels) + 0.5 * l2 * sum(w.pow(2).sum() for w in weights)
        loss.backward()
        return loss

    optimiser.step(closure)
    net.float().eval()
    return TrainedHead(kind, net, standardizer)


def _initialise(net: nn.Sequential, rate: float, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for i, layer in enumerate(linears):
            last = i == len(linears) - 1
            if last and len(linears) == 1:
                layer.weight.zero_()
            else:
                std = 1.0 / math.sqrt(layer.in_features)
                layer.weight.copy_(
                    torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64) * std
                )
            # The output starts at the base rate, so the first steps fit the signal.
            layer.bias.fill_(math.log(rate / (1 - rate)) if last else 0.0)
