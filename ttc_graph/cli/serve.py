"""``ttc-graph serve``: an OpenAI-compatible server whose models are the strategies."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

API_KEY_ENV = "TTC_GRAPH_API_KEY"
_LIMIT_OPTIONS = {
    "max_n": "--max-n",
    "max_tokens": "--max-tokens",
    "timeout_s": "--timeout",
    "max_body_bytes": "--max-body-bytes",
    "max_concurrent": "--max-concurrent",
    "max_queue": "--max-queue",
}
"""ServeLimits field -> the option that sets it."""


def register(sub: Any) -> None:
    """Add the ``serve`` subcommand."""
    from ttc_graph.cli.options import add_engine_option, add_run_options
    from ttc_graph.serving.settings import DEFAULT_HOST, DEFAULT_PORT, ServeLimits

    limits = ServeLimits()
    p = sub.add_parser(
        "serve",
        help="serve the strategies behind an OpenAI-compatible API (docs/serving.md)",
        description="Serve every strategy at /v1/chat/completions: the model names the "
        "strategy and N (e.g. weighted-8, beam_search-16). See docs/serving.md.",
    )
    p.add_argument("--model", default=None, help="hub id, local dir or .gguf (default: embedded)")
    p.add_argument(
        "--verifier",
        default=None,
        help="auto | grounded | arithmetic | judge | <trained verifier dir> | <PRM dir or hub "
        "id> | <http://host:port of a PRM served by vLLM> (default: auto for the strategies "
        "that need one, as in `solve`)",
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a PRM's own modelling code (Qwen2.5-Math-PRM needs it)",
    )
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: auto)")
    add_engine_option(p)
    p.add_argument(
        "--on-long-input",
        choices=("error", "truncate"),
        default="error",
        help="a prompt longer than the model's context: refuse it with a 400 (default), or cut "
        "its middle to fit",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument(
        "--api-key",
        default=None,
        help=f"require 'Authorization: Bearer KEY' (default: ${API_KEY_ENV}, else no key)",
    )
    p.add_argument(
        "--max-concurrent",
        type=int,
        default=limits.max_concurrent,
        help="searches run at once, sharing the policy's batches "
        f"(default {limits.max_concurrent})",
    )
    p.add_argument(
        "--max-queue",
        type=int,
        default=limits.max_queue,
        help=f"requests waiting for a slot before a 429 (default {limits.max_queue})",
    )
    p.add_argument(
        "--max-n",
        type=int,
        default=limits.max_n,
        help=f"most candidates one request may ask for (default {limits.max_n})",
    )
    p.add_argument(
        "--max-tokens",
        type=int,
        default=limits.max_tokens,
        help=f"most max_tokens one request may ask for (default {limits.max_tokens})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=limits.timeout_s,
        help=f"seconds before a request gets a 408, queueing included (default "
        f"{limits.timeout_s:g})",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=limits.max_body_bytes,
        help=f"larger request bodies get a 413 (default {limits.max_body_bytes})",
    )
    p.add_argument(
        "--shutdown-timeout",
        type=float,
        default=30.0,
        help="on SIGINT/SIGTERM, seconds in-flight requests may finish before their searches "
        "are cancelled (default 30)",
    )
    # Each a default for the requests that leave it out, where the strategy takes it.
    add_run_options(p)
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> tuple[Any, Any, str | None]:
    """Limits, defaults and API key, all checked before the model is loaded."""
    from ttc_graph.cli.options import given_options
    from ttc_graph.errors import InputError, LimitError
    from ttc_graph.limits import check_finite
    from ttc_graph.serving.settings import ServeLimits
    from ttc_graph.specs import check_verifier_spec

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be in [0, 65535], got {args.port}.")
    check_finite(args.shutdown_timeout, name="--shutdown-timeout", low=0.0)
    values = {
        field: getattr(args, option.lstrip("-").replace("-", "_"))
        for field, option in _LIMIT_OPTIONS.items()
    }
    try:
        limits = ServeLimits(**values)
    except ValueError as exc:
        field = str(exc).split(" ", 1)[0]
        option = _LIMIT_OPTIONS.get(field)
        raise LimitError(str(exc).replace(field, option, 1) if option else str(exc)) from None
    defaults = given_options(args)
    check_defaults(limits, defaults, verifier=args.verifier is not None)
    check_verifier_spec(args.verifier)
    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV)
    if api_key is not None and not api_key.strip():
        raise InputError(f"The API key (--api-key or ${API_KEY_ENV}) is empty.")
    return limits, defaults, api_key


def check_defaults(limits: Any, defaults: dict[str, Any], *, verifier: bool) -> None:
    """The defaults must be requests the server itself would accept, right for every
    strategy that takes them (checked as its graph will check them)."""
    from ttc_graph.limits import check_count
    from ttc_graph.serving.engine import check_defaults as check_options
    from ttc_graph.serving.options import MAX_STEPS

    for name, limit, why in (
        ("n", limits.max_n, "the server must accept its own default (--max-n)"),
        ("max_new_tokens", limits.max_tokens, "--max-tokens"),
        ("max_steps", MAX_STEPS, "the server's step limit"),
    ):
        if name in defaults:
            flag = "--" + name.replace("_", "-")
            check_count(defaults[name], name=flag, limit=limit, why=why)
    check_options(defaults, verifier=verifier)


def run(args: argparse.Namespace) -> int:
    """Load the policy and serve until interrupted."""
    limits, defaults, api_key = _settings(args)
    from ttc_graph.policy import load_policy
    from ttc_graph.serving import create_app, serve

    policy = load_policy(
        args.model,
        engine=args.engine,
        device=args.device,
        dtype=args.dtype,
        on_long_input=args.on_long_input,
    )
    options = {"trust_remote_code": True} if args.trust_remote_code else {}
    app = create_app(
        policy=policy,
        verifier=args.verifier,
        api_key=api_key,
        limits=limits,
        defaults=defaults,
        verifier_options=options,
    )
    where = f"http://{args.host}:{args.port}/v1"
    print(
        f"ttc-graph serve: {policy.model_id} at {where} "
        f"({'API key required' if api_key else 'no API key'}); Ctrl-C stops it",
        file=sys.stderr,
    )
    serve(app, host=args.host, port=args.port, shutdown_timeout_s=args.shutdown_timeout)
    return 0
