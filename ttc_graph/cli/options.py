"""Options shared by the subcommands, with the defaults of :mod:`ttc_graph.strategies.defaults`.

``solve``, ``eval`` and ``graph`` spell the same setting the same way, take the same
values and default to what the Python factories do.
"""

from __future__ import annotations

import argparse

from ttc_graph.errors import InputError
from ttc_graph.policy.base import SamplingParams
from ttc_graph.strategies import defaults

AUTO_VERIFIER = "auto: the grounded checker, docs/verifiers.md"
"""What ``--verifier auto`` stands for (``verifiers.loading.default_verifier_spec``)."""

VERIFIER_FORMS = (
    "auto | grounded | arithmetic | judge | trained | <trained verifier dir> | "
    "<PRM dir or hub id> | <http://host:port of a PRM served by vLLM> | SPEC+SPEC"
)
FLAG_NAMES = ("--n", "--beam-width", "--max-steps")
"""How the CLI spells n, beam_width and max_steps in error messages."""


def add_verifier_options(p: argparse.ArgumentParser, *, what: str) -> None:
    """``--verifier SPEC`` / ``--no-verifier``; by default a verifier exactly where needed.

    ``what`` says what the verifier is for in this subcommand.
    """
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--verifier",
        default=None,
        metavar="SPEC",
        help=f"{VERIFIER_FORMS}: {what} (default: auto where the strategy needs a verifier; "
        f"{AUTO_VERIFIER})",
    )
    group.add_argument(
        "--no-verifier",
        action="store_true",
        help="no verifier, for strategies where it is optional (greedy, majority, self_refine)",
    )


def verifier_choice(args: argparse.Namespace, strategy: str) -> str | None:
    """The verifier spec ``--verifier``/``--no-verifier`` ask for with ``strategy``.

    Checks the spec's form (no model is loaded) and refuses ``--no-verifier`` for a
    strategy that cannot run without one.
    """
    from ttc_graph.specs import check_verifier_spec
    from ttc_graph.strategies import get_spec

    spec = get_spec(strategy)
    if args.no_verifier:
        if spec.needs_verifier:
            raise InputError(
                f"{strategy} ranks candidates and needs a verifier; drop --no-verifier, or "
                "use majority (a vote), which works without one."
            )
        return None
    check_verifier_spec(args.verifier)
    return str(args.verifier) if args.verifier else ("auto" if spec.needs_verifier else None)


def add_trust_remote_code(p: argparse.ArgumentParser) -> None:
    """``--trust-remote-code``: allow a PRM's own modelling code."""
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a PRM's own modelling code (Qwen2.5-Math-PRM needs it)",
    )


def add_engine_option(p: argparse.ArgumentParser) -> None:
    """``--engine``: which library generates (see :func:`ttc_graph.load_policy`)."""
    from ttc_graph.policy.base import ENGINES

    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="transformers",
        help="transformers (default); vllm: vLLM in process, with prefix caching "
        "(pip install 'ttc-graph[vllm]'; docs/vllm.md); auto: vLLM when it loads the "
        "model, else transformers",
    )


def add_search_options(p: argparse.ArgumentParser) -> None:
    """Sampling and step-search settings, defaulting to the Python API's."""
    p.add_argument(
        "--beam-width",
        type=int,
        default=defaults.BEAM_WIDTH,
        help=f"beam_search/dvts: expansions per kept beam (default {defaults.BEAM_WIDTH})",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=defaults.MAX_STEPS,
        help=f"beam_search/dvts: most steps (default {defaults.MAX_STEPS})",
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=SamplingParams.max_new_tokens,
        help=f"per solution, or per step (default {SamplingParams.max_new_tokens})",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=SamplingParams.temperature,
        help=f"sampling temperature, 0 = greedy (default {SamplingParams.temperature})",
    )


def strategy_help() -> str:
    """One line per strategy, for a subcommand's description."""
    from ttc_graph.strategies import SPECS

    return "; ".join(f"{name}: {spec.summary}" for name, spec in SPECS.items())
