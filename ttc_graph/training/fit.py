"""Fitting a verifier head: logistic or a small MLP, on standardised features, seeded."""

from __future__ import annotations

import math

import torch
from torch import nn

from ttc_graph.errors import InputError, VerifierTrainingError
from ttc_graph.verifiers.trained.choices import HeadKind
from ttc_graph.verifiers.trained.head import Standardizer, TrainedHead, build_net


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
    if not bool(((labels >= 0) & (labels <= 1)).all()):
        raise InputError("Labels must be in [0, 1] (0/1, or a share of rollouts).")
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
