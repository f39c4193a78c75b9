# The public names of ``ttc_graph.training``, loaded on first use by ``__init__.py``.
from .pipeline import TrainingResult, train_verifier

__all__ = ["TrainingResult", "train_verifier"]
