"""Options shared by the subcommands, read from the strategies' option table and specs.

``solve``, ``eval`` and ``serve`` spell a run option the same way (``--beam-width`` for
``beam_width``), take the same values and default to what the Python factories do:
each strategy's own default, from its spec.
"""

from __future__ import annotations

import argparse

from ttc_graph.errors import InputError

AUTO_VERIFIER = "auto: the grounded checker, docs/verifiers.md"
"""What ``--verifier auto`` stands for (``verifiers.loading.default_verifier_spec``)."""

VERIFIER_FORMS = (
    "auto | grounded | arithmetic | judge | trained | <trained verifier dir> | "
    "<PRM dir or hub id> | <http://host:port of a PRM served by vLLM> | SPEC+SPEC"
)


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
    from ttc_graph.strategies.registry import get_spec

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


def add_dtype_option(p: argparse.ArgumentParser, *, default: str = "auto") -> None:
    """``--dtype``: the model's precision; ``default`` says what no ``--dtype`` means."""
    p.add_argument(
        "--dtype",
        choices=("auto", "float32", "bfloat16", "float16"),
        default=None,
        help=f"precision of the model (default {default}; auto: bfloat16 on cuda and on "
        "CPUs with native bfloat16, AMX or AVX512-BF16, float32 on other CPUs)",
    )


def add_engine_option(p: argparse.ArgumentParser, *, dtype_default: str = "auto") -> None:
    """``--engine`` and ``--dtype``: what generates, in which precision (see
    :func:`ttc_graph.load_policy`); ``dtype_default`` is what no ``--dtype`` means."""
    from ttc_graph.policy.base import ENGINES

    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="transformers",
        help="transformers (default); vllm: vLLM in process, with prefix caching "
        "(pip install 'ttc-graph[vllm]'; docs/vllm.md); auto: vLLM when it loads the "
        "model, else transformers",
    )
    add_dtype_option(p, default=dtype_default)


def flag(option: str) -> str:
    """The CLI spelling of an option: ``beam_width`` -> ``--beam-width``."""
    return "--" + option.replace("_", "-")


def _defaults_text(name: str) -> str:
    """Each strategy's default of option ``name``, grouped: ``4; 8 for beam_search, dvts``."""
    from ttc_graph.strategies.registry import SPECS

    by_value: dict[str, list[str]] = {}
    for spec in SPECS.values():
        if name in spec.options.names:
            value = spec.default(name)
            text = "none" if value is None else repr(value) if isinstance(value, str) else value
            by_value.setdefault(str(text), []).append(spec.name)
    if len(by_value) == 1:
        return next(iter(by_value))
    common = max(by_value, key=lambda v: len(by_value[v]))
    rest = [f"{v} for {', '.join(names)}" for v, names in by_value.items() if v != common]
    return "; ".join([common, *rest])


def add_run_options(p: argparse.ArgumentParser, *, exclude: tuple[str, ...] = ()) -> None:
    """One flag per run option of :data:`~ttc_graph.strategies.OPTIONS` (``--n``,
    ``--beam-width``, ...). Each defaults to ``None``: the strategy's own default, shown
    in the help. A flag the chosen strategy does not take is refused (:func:`run_options`)."""
    from ttc_graph.strategies.options import OPTIONS

    group = p.add_argument_group("run options (each strategy takes some; see docs/strategies.md)")
    for name, option in OPTIONS.items():
        if name in exclude:
            continue
        if option.choices:
            extra: dict[str, object] = {"choices": option.choices}
        else:
            extra = {"type": option.type, "metavar": name.upper()}
        if name == "system_prompt":
            extra["metavar"] = "TEXT"
        group.add_argument(
            flag(name),
            dest=name,
            default=None,
            help=f"{option.help} (default {_defaults_text(name)})".replace("%", "%%"),
            **extra,  # type: ignore[arg-type]
        )


def given_options(args: argparse.Namespace, *, exclude: tuple[str, ...] = ()) -> dict[str, object]:
    """The run options given on the command line (a flag left out is not in it);
    ``exclude`` as in :func:`add_run_options`."""
    from ttc_graph.strategies.options import OPTIONS

    return {
        name: getattr(args, name)
        for name in OPTIONS
        if name not in exclude and getattr(args, name, None) is not None
    }


def run_options(strategy: str, given: dict[str, object]) -> dict[str, object]:
    """``given`` options, each one ``strategy`` takes; else an error naming the flag."""
    from ttc_graph.strategies.registry import get_spec

    names = get_spec(strategy).options.names
    for name in given:
        if name not in names:
            raise InputError(
                f"{strategy} takes no {flag(name)}; its options: "
                f"{', '.join(flag(n) for n in names)}."
            )
    return dict(given)


def strategy_help() -> str:
    """One line per strategy, for a subcommand's description."""
    from ttc_graph.strategies import SPECS

    return "; ".join(f"{name}: {spec.summary}" for name, spec in SPECS.items())


def difficulty_list(text: str) -> list[int]:
    """``--difficulty``: one level or a comma-separated list (``1,2,3``)."""
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"difficulty must be an integer or a list like 1,2,3, got {text!r}"
        ) from exc
