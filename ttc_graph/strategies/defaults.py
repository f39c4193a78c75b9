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
