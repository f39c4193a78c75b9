# The public names of ``ttc_graph.verifiers.trained``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file): torch loads only with what needs it. Training a verifier
# is ttc_graph.training.
from .verifier import TrainedVerifier, load_trained_verifier

__all__ = ["TrainedVerifier", "load_trained_verifier"]
