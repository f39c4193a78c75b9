"""Verifiers score each step of candidate solutions in [0, 1].

``ArithmeticVerifier`` checks the calculations steps claim (no model);
``GroundedVerifier`` also checks that they use the question's quantities;
``load_prm`` loads a learned process reward model; ``LLMJudgeVerifier`` asks a
policy model; ``CombinedVerifier`` mixes them; ``load_verifier`` maps a CLI spec.

The names load on first use (see ``__init__.pyi``).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
