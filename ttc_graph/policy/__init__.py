"""Policies: the models that write candidate solutions.

The names load on first use (see ``__init__.pyi``): importing ``policy.base``
for :class:`SamplingParams` does not pull in torch and transformers.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
