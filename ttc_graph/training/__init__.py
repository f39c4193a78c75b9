"""Training verifiers on a policy's own samples: sample, label, validate, fit, write.

It drives the evaluation harness for the samples, so it sits above ``evaluation``;
what a trained verifier needs to *score* lives in :mod:`ttc_graph.verifiers.trained`.
The names load on first use (see ``__init__.pyi``).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
