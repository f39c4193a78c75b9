"""What an evaluation is asked for, checked before any model loads: strategies, the
N list, token budgets, run options, the model and verifier, the output directory; and
:func:`create_evaluation`, which checks them all and opens the results database.
Each bad value is one :class:`~ttc_graph.errors.InputError` that says what to pass
instead."""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ttc_graph.errors import InputError
from ttc_graph.evaluation.metrics import COVERAGE, eval_mode
from ttc_graph.evaluation.problems import load_problems
from ttc_graph.evaluation.runner import (
    DEFAULT_VERIFIER,
    EMBEDDED_MODEL,
    HARNESS_VERSION,
    Evaluation,
)
from ttc_graph.evaluation.units import unit_context
from ttc_graph.limits import check_n_limit
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.specs import CARD_NAME, check_verifier_spec, spec_parts
from ttc_graph.strategies import defaults
from ttc_graph.strategies.options import OPTIONS
from ttc_graph.strategies.registry import SPECS


def eval_strategies() -> tuple[str, ...]:
    """What ``--strategies`` accepts: every registered strategy, and the pass@N ceiling."""
    return (*SPECS, COVERAGE)


def parse_strategies(strategies: str | Sequence[str]) -> tuple[str, ...]:
    """Validate strategy names (a comma-separated string or a list)."""
    names = strategies.split(",") if isinstance(strategies, str) else list(strategies)
    names = [s.strip() for s in names if s.strip()]
    accepted = eval_strategies()
    choices = ", ".join(accepted)
    if not names:
        raise InputError(f"Name at least one strategy, e.g. greedy,majority ({choices}).")
    for name in names:
        if name not in accepted:
            raise InputError(f"Unknown strategy {name!r}; choose from {choices}.")
    if len(set(names)) != len(names):
        raise InputError(f"A strategy is listed twice in {','.join(names)}; list each once.")
    return tuple(names)


def parse_ns(ns: str | Sequence[int]) -> tuple[int, ...]:
    """Validate the N list: integers >= 1, strictly increasing (e.g. ``1,2,4,8,16``)."""
    values = _increasing_ints(ns, flag="--n", what="N", example="1,2,4,8,16")
    for v in values:
        check_n_limit(v, name="N")
    return values


def parse_budgets(budgets: str | int | Sequence[int] | None) -> tuple[int, ...]:
    """Validate token budgets per problem (``500`` or ``250,500,1000``), strictly increasing."""
    if budgets is None:
        return ()
    return _increasing_ints(
        budgets,
        flag="--budget-tokens-per-problem",
        what="token budget per problem",
        example="250,500,1000",
    )


def _increasing_ints(
    value: str | int | Sequence[int], *, flag: str, what: str, example: str
) -> tuple[int, ...]:
    """A comma list, a sequence or one value: integers >= 1 in strictly increasing order
    (a bool is refused like any other non-integer)."""
    if isinstance(value, str):
        try:
            values: list[object] = [int(v) for v in value.split(",") if v.strip()]
        except ValueError as exc:
            raise InputError(
                f"{flag} must be comma-separated integers like {example}, got {value!r}."
            ) from exc
    elif isinstance(value, Sequence):
        values = list(value)
    else:
        values = [value]
    if not values:
        raise InputError(f"The {what} list is empty; pass e.g. {example}.")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"Every {what} must be an integer >= 1, got {v!r}.")
    ints = tuple(v for v in values if isinstance(v, int))
    if any(b <= a for a, b in itertools.pairwise(ints)):
        raise InputError(
            f"The {what} list must be strictly increasing (e.g. {example}), got "
            f"{','.join(map(str, ints))}."
        )
    return ints


def check_out_dir(out: str | Path, *, create: bool = True) -> Path:
    """Prove ``out`` can be written (before any model is loaded); create it if ``create``.

    With ``create=False`` nothing is made: the nearest existing ancestor is
    checked instead, so validation that fails later leaves no empty directory.
    """
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"--out {path} is a file; pass a directory.")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise InputError(f"Cannot write to output directory {path}: {existing} is a file.")
    target = path if create else existing
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise InputError(
            f"Cannot write to output directory {path}: {exc.strerror or exc}. "
            "Pick a directory you can write to with --out."
        ) from exc
    return path


def create_evaluation(
    *,
    dataset: str | Path,
    strategies: str | Sequence[str],
    ns: str | Sequence[int] = (1, 2, 4, 8, 16),
    out: str | Path = "runs/eval",
    limit: int | None = None,
    model: Any = None,
    verifier: Any = DEFAULT_VERIFIER,
    seed: int = 0,
    temperature: float = 0.8,
    top_p: float = 1.0,
    max_new_tokens: int = 256,
    beam_width: int = defaults.BEAM_WIDTH,
    max_steps: int = defaults.MAX_STEPS,
    difficulty: int | Sequence[int] = 1,
    data_seed: int = 0,
    split: str = "test",
    device: str | None = None,
    engine: str = "transformers",
    dtype: str | None = None,
    on_long_input: str = "error",
    trust_remote_code: bool = False,
    budgets: str | int | Sequence[int] | None = None,
    options: dict[str, Any] | None = None,
) -> Evaluation:
    """Validate an evaluation and open its results database; loads no model.

    Every input error (missing file, bad row, unknown strategy, N list not
    increasing, N above :data:`ttc_graph.limits.MAX_N`, a verifier spec that
    names nothing, unwritable ``out``, a damaged results database) is raised
    here as ``ValueError``. ``out`` is created only once everything else passed.

    Args:
        dataset: ``.jsonl`` path, ``"arithmetic"`` or a hub id (see :func:`load_problems`).
        strategies: Names from :data:`ttc_graph.strategies.SPECS`, and ``coverage``.
        ns: Strictly increasing candidate counts, e.g. ``(1, 2, 4, 8, 16)``.
        out: Directory for ``results.sqlite`` and the curve files.
        limit: Evaluate only the first ``limit`` problems.
        model: Model spec for :func:`ttc_graph.load_policy` (``None``: embedded),
            or an already loaded policy.
        verifier: Verifier spec for ``load_verifier`` or a :class:`Verifier`; used only
            by strategies that rank candidates.
        seed: Sampling seed; the same seed reproduces the same candidates.
        temperature, top_p, max_new_tokens: Sampling (``max_new_tokens`` per solution,
            or per step for beam search and DVTS).
        beam_width, max_steps: Beam search / DVTS settings; at an N below
            ``beam_width`` the width is N (:func:`~ttc_graph.strategies.registry.eval_beam_width`).
        difficulty, data_seed: Arithmetic generator settings.
        split: Hub dataset split.
        device: Where to load the model (``cpu``, ``cuda``).
        dtype: The policy's precision (default float32, not the faster bfloat16 that
            ``load_policy`` picks on CPUs with native bf16: in float32 a candidate is the
            same whatever ``concurrency`` batches it with, so a stored run is reproducible
            by rerunning it); ``"auto"`` asks for the machine's fastest (as ``load_policy``).
            Another precision samples other candidates, so it is part of the
            configuration hash (when it is not float32).
        engine: What generates: ``"transformers"``, ``"vllm"`` or ``"auto"`` (see
            :func:`ttc_graph.load_policy`); another engine samples other candidates,
            so it is part of the configuration hash.
        on_long_input: A problem longer than the model's context: ``"error"`` records
            that unit as failed (the run goes on), ``"truncate"`` cuts the middle of
            the question (part of the configuration hash).
        trust_remote_code: Allow a PRM's own modelling code (Qwen2.5-Math-PRM needs it).
        budgets: Token budgets per problem for ``adaptive`` (``--budget-tokens-per-problem``),
            e.g. ``(250, 500, 1000)``: one curve point each, replayed from the shared
            sample (at most ``max(ns)`` candidates per problem), one pool of
            ``budget × problems`` tokens shared by the set. Not part of the
            configuration hash (nothing is generated for it).
        options: Other per-run options (``lookahead``, ``system_prompt``, ...; see
            :data:`ttc_graph.strategies.OPTIONS`), given to every strategy that takes
            them; each must be taken by at least one of ``strategies``.
    """
    names = parse_strategies(strategies)
    n_list = parse_ns(ns)
    budget_list = parse_budgets(budgets)
    if any(eval_mode(s) == "budgeted" for s in names):
        first_round = min(defaults.ADAPTIVE_ROUND, max(n_list)) * max_new_tokens
        if not budget_list:
            raise InputError(
                "adaptive is evaluated at token budgets: pass --budget-tokens-per-problem "
                f"K[,K...] (each >= one first round, {first_round} tokens here)."
            )
        if budget_list[0] < first_round:
            raise InputError(
                f"A budget of {budget_list[0]} tokens per problem is smaller than adaptive's "
                f"first round ({first_round} = {min(defaults.ADAPTIVE_ROUND, max(n_list))} "
                f"samples × --max-new-tokens {max_new_tokens}); raise it."
            )
    elif budget_list:
        raise InputError(
            "--budget-tokens-per-problem applies to adaptive only; add adaptive to --strategies."
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed must be an integer, got {seed!r}.")
    if on_long_input not in ("error", "truncate"):
        raise InputError(f"on_long_input must be 'error' or 'truncate', got {on_long_input!r}.")
    extra = dict(options or {})
    shared = {
        "seed": seed,
        "temperature": temperature,
        "top_p": top_p,
        "max_new_tokens": max_new_tokens,
        "beam_width": beam_width,
        "max_steps": max_steps,
    }
    for name in extra:
        if name in shared or name == "n":
            raise InputError(f"Give {name} as its own argument (--{name.replace('_', '-')}).")
        if name not in OPTIONS:
            raise InputError(f"Unknown option {name!r}; options are: {', '.join(OPTIONS)}.")
    run_options = {**shared, **extra}
    uses_verifier = any(SPECS[s].needs_verifier for s in names if s in SPECS)
    _check_options(names, run_options, extra, n_list, verifier=uses_verifier)
    # The spec's form is checked now: a typo must not cost a model load first.
    check_verifier_spec(verifier)
    if verifier == "auto":
        # Resolved now, so that the configuration hash names the verifier really used.
        from ttc_graph.verifiers.loading import default_verifier_spec

        verifier = default_verifier_spec(_identity(model, EMBEDDED_MODEL) or "")
    if uses_verifier and verifier is None:
        raise InputError(
            f"{', '.join(s for s in names if s in SPECS and SPECS[s].needs_verifier)} rank "
            "candidates and need a "
            "verifier (e.g. verifier='arithmetic'); majority and greedy work without one."
        )
    check_out_dir(out, create=False)
    problems = load_problems(
        dataset, limit=limit, difficulty=difficulty, seed=data_seed, split=split
    )
    # Created last: an evaluation refused for bad input leaves no empty directory.
    out_dir = check_out_dir(out)
    config = {
        "harness_version": HARNESS_VERSION,
        "dataset": problems.fingerprint,
        "model": _identity(model, EMBEDDED_MODEL),
        "verifier": _verifier_identity(verifier, model) if uses_verifier else None,
        "ns": list(n_list),
        "seed": seed,
        "sampling": {
            "temperature": temperature,
            "top_p": top_p,
            "max_new_tokens": max_new_tokens,
        },
        "beam_width": beam_width,
        "max_steps": max_steps,
        "system_prompt": hashlib.sha256(DEFAULT_SYSTEM_PROMPT.encode()).hexdigest()[:12],
    }
    if extra:
        # Only when given, so the configurations recorded so far keep their hash.
        config["options"] = extra
    if on_long_input != "error":
        # Only when it changes the prompts, so earlier configurations keep their hash.
        config["on_long_input"] = on_long_input
    # None (not asked): float32; "auto" asks for the machine's fastest precision.
    dtype = "float32" if dtype is None and not _is_loaded(model) else dtype
    precision = _precision(model, device, dtype)
    if precision != "float32":
        # Only then: the float32 runs recorded so far keep their hash.
        config["dtype"] = precision
    if engine != "transformers":
        # Only then, likewise: the transformers runs recorded so far keep their hash.
        config["engine"] = engine
    return Evaluation(
        problems=problems,
        strategies=names,
        ns=n_list,
        out=out_dir,
        config=config,
        options=run_options,
        model=model,
        verifier=verifier,
        device=device,
        policy_options={"on_long_input": on_long_input, "engine": engine, "dtype": dtype},
        budgets=budget_list,
        verifier_options={"trust_remote_code": True} if trust_remote_code else None,
    )


def _is_loaded(model: Any) -> bool:
    return model is not None and not isinstance(model, (str, os.PathLike))


def _precision(model: Any, device: str | None, dtype: str | None) -> str:
    """The dtype the policy will run in (another dtype samples other candidates)."""
    torch_dtype = getattr(model, "dtype", None) or getattr(
        getattr(model, "model", None), "dtype", None
    )
    if torch_dtype is None:
        from ttc_graph.policy.devices import resolve_device, resolve_dtype

        torch_dtype = resolve_dtype(dtype, resolve_device(device))
    return str(torch_dtype).removeprefix("torch.")


def _check_options(
    names: tuple[str, ...],
    options: dict[str, Any],
    extra: dict[str, Any],
    ns: tuple[int, ...],
    *,
    verifier: bool,
) -> None:
    """Every run the evaluation will make, checked as the graph will check it (no model)."""
    for option in extra:
        if not any(option in SPECS[s].options.names for s in names if s in SPECS):
            raise InputError(
                f"No strategy of {','.join(names)} takes the option {option!r}; drop it."
            )
    samples = [s for s in names if s in SPECS and SPECS[s].eval_mode == "sample"]
    runs = [s for s in names if s in SPECS and SPECS[s].eval_mode in ("per_n", "single")]
    if samples:
        runs.append("best_of_n" if verifier else "majority")
    for name in runs:
        spec = SPECS[name]
        for n in ns if spec.takes_n else ns[:1]:
            try:
                spec.check(unit_context(spec, options, n), verifier=verifier)
            except ValueError as exc:
                if not spec.takes_n:
                    raise
                raise InputError(f"{str(exc).rstrip('.')} (at N={n}).") from exc


def _verifier_identity(verifier: Any, model: Any) -> str | None:
    """What identifies a verifier in the config hash: each part of a ``+`` spec by its
    identity, and the shipped head (``trained``) by its card, wherever it is installed."""
    if not isinstance(verifier, str):
        return _identity(verifier, None)
    parts = []
    for part in spec_parts(verifier):
        if part == "trained":
            from ttc_graph.verifiers.loading import shipped_head

            card = shipped_head(_identity(model, EMBEDDED_MODEL) or "") / CARD_NAME
            parts.append(f"trained#{_card_hash(card)}")
        else:
            parts.append(str(_identity(part, None)))
    return "+".join(parts)


def _card_hash(card: Path) -> str:
    """A trained verifier's identity: retrained in place, it must not reuse old results."""
    return hashlib.sha256(card.read_bytes()).hexdigest()[:12]


def _identity(obj: Any, default: str | None) -> str | None:
    """What identifies a model or verifier in the config hash."""
    if obj is None:
        return default
    if isinstance(obj, (str, os.PathLike)):
        card = Path(obj) / CARD_NAME
        if card.is_file():
            return f"{obj}#{_card_hash(card)}"
        return str(obj)
    # A loaded object: its model id (policies) or runnable name (verifiers).
    for attr in ("model_id", "model_path"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    get_name = getattr(obj, "get_name", None)
    return str(get_name()) if callable(get_name) else type(obj).__name__
