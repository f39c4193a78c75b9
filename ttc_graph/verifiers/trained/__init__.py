"""A verifier trained on your own policy's samples.

:func:`ttc_graph.training.train_verifier` samples N solutions per problem with the
policy, labels every step prefix, fits a small head on three feature groups — the
checker's signals, the policy's own confidence, its hidden states — validates it
with folds grouped by problem, and writes a directory that ``load_trained_verifier``
(or ``load_verifier(DIR, policy=...)``) turns into a :class:`TrainedVerifier` for any
strategy. This package holds what scoring needs; training is ``ttc_graph.training``.

Example:
    >>> from ttc_graph import load_policy
    >>> from ttc_graph.training import train_verifier
    >>> from ttc_graph.verifiers.trained import load_trained_verifier
    >>> policy = load_policy()  # doctest: +SKIP
    >>> train_verifier(dataset="arithmetic", limit=100, n=16, policy=policy,
    ...                out="runs/smol-verifier")  # doctest: +SKIP
    >>> verifier = load_trained_verifier("runs/smol-verifier", policy=policy)  # doctest: +SKIP

The names load on first use (see ``__init__.pyi``).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
