"""Default settings of the strategies, stated once.

The factory signatures, :func:`ttc_graph.strategies.build_strategy`, the CLI and
the evaluation all read these; sampling defaults are those of
:class:`ttc_graph.policy.SamplingParams` (temperature 0.8, 256 new tokens).
"""

from __future__ import annotations

from typing import Final

N: Final = 4
"""Candidates sampled by best-of-N (``best_of_n``, ``weighted``, ``majority``)."""
SEARCH_N: Final = 8
"""Candidates per iteration of a step-wise search (beam search, DVTS)."""
BEAM_WIDTH: Final = 4
"""Expansions per kept beam; ``n / beam_width`` beams (or DVTS subtrees)."""
MAX_STEPS: Final = 8
"""Iterations of a step-wise search."""
MAX_ROUNDS: Final = 2
"""Self-refine: refinements after the draft."""
ADAPTIVE_ROUND: Final = 4
"""Adaptive: candidates per round (the first round, and each further one)."""
ADAPTIVE_MAX_SAMPLES: Final = 16
"""Adaptive: the most candidates one question may sample."""
ADAPTIVE_STOP_AT: Final = 0.3
"""Adaptive: stop once the leading answer's verifier-weighted posterior reaches this
(fitted on arithmetic data seed 100, see ``benchmarks/adaptive_replay.py``)."""
ADAPTIVE_PRIOR: Final = 1.0
"""Adaptive: pseudo-mass of "an answer not seen yet" in that posterior (fitted with it)."""
