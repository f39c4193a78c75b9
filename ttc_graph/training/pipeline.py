"""Train a verifier on the policy's own samples: sample, label, validate, fit, write.

1. **Sample** N solutions per problem through the evaluation harness (strategy
   ``coverage``), stored as they are made in ``<samples>/results.sqlite``: an
   interrupted run resumes, and a sample made earlier by ``ttc-graph eval
   --strategies coverage --n N`` with the same settings is reused as it is.
2. **Label** each candidate by its final answer against the reference, and each
   step prefix by :mod:`~ttc_graph.training.labels`.
3. **Featurise** every prefix (every group the table compares, or only the chosen
   ones with ``compare=False``; the policy groups cost one forward pass per batch).
4. **Validate** with folds grouped by problem: AUROC of final-step scores, and
   how often weighted best-of-N with the scores picks a right answer, for each
   feature group alone and combined, against coverage and majority vote.
5. **Fit** the head on everything with the chosen groups and write the
   directory (card + weights) atomically: it is complete or absent.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttc_graph.errors import VerifierTrainingError
from ttc_graph.evaluation import provenance
from ttc_graph.evaluation.options import create_evaluation
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.training.export import LabelledCandidate, write_trl_jsonl
from ttc_graph.training.fit import fit_head
from ttc_graph.training.labels import LABEL_MODES, ROLLOUT_MODES, LabelMode
from ttc_graph.training.rollouts import (
    ROLLOUT_TOKENS,
    ROLLOUTS,
    check_rollouts,
    rollout_shares,
)
from ttc_graph.training.samples import (
    check_classes,
    columns_of,
    examples,
    featurise,
    label,
    read_samples,
)
from ttc_graph.training.validation import validate
from ttc_graph.training.writing import call_text, make_card, model_name, write_atomically
from ttc_graph.verifiers.trained.card import CARD_NAME, VerifierCard, is_trained_verifier_dir
from ttc_graph.verifiers.trained.choices import (
    DEFAULT_FEATURES,
    FEATURE_GROUPS,
    HEAD_KINDS,
    HeadKind,
)
from ttc_graph.verifiers.trained.features import (
    FeatureExtractor,
    checker_features,
    parse_feature_groups,
)
from ttc_graph.verifiers.trained.readout import check_local_policy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingResult:
    """What :func:`train_verifier` made."""

    directory: Path
    """The verifier directory (``verifier.json`` + ``head.safetensors``)."""
    card: VerifierCard
    samples_dir: Path
    """Where the samples are stored (reused by a rerun)."""
    trl_rows: int | None = None
    """Rows written by ``export_trl`` (None when not asked)."""


def default_samples_dir(out: str | Path) -> Path:
    """``<out>.samples`` beside the verifier directory."""
    path = Path(out).expanduser()
    return path.with_name(path.name + ".samples")


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise VerifierTrainingError(f"--out {out} is a file; pass a directory to create.")
    if out.is_dir() and any(out.iterdir()) and not is_trained_verifier_dir(out):
        raise VerifierTrainingError(
            f"--out {out} exists and is not a trained verifier (no {CARD_NAME}); pick a new "
            "directory so that nothing of yours is overwritten."
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.check-"):
            pass
    except OSError as exc:
        raise VerifierTrainingError(
            f"Cannot write beside {out}: {exc.strerror or exc}. Pick a writable --out."
        ) from exc


def _check_settings(n: int, folds: int, head: str, l2: float, labels: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise VerifierTrainingError(
            f"N must be an integer >= 2, got {n!r}: a verifier learns from the contrast "
            "between a problem's right and wrong samples, and with one sample per problem "
            "there is also nothing to select from. Use e.g. --n 16."
        )
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise VerifierTrainingError(f"folds must be an integer >= 2, got {folds!r}.")
    if head not in HEAD_KINDS:
        raise VerifierTrainingError(f"Unknown head {head!r}; choose {' or '.join(HEAD_KINDS)}.")
    if labels not in LABEL_MODES:
        raise VerifierTrainingError(
            f"Unknown labels {labels!r}; choose {' or '.join(LABEL_MODES)}."
        )
    if not math.isfinite(l2) or l2 < 0:
        raise VerifierTrainingError(f"l2 must be a finite number >= 0, got {l2}.")


def train_verifier(
    *,
    dataset: str | Path,
    out: str | Path,
    model: Any = None,
    n: int = 16,
    limit: int | None = None,
    difficulty: int | Sequence[int] = 1,
    data_seed: int = 0,
    split: str = "test",
    max_new_tokens: int = 64,
    temperature: float = 0.8,
    top_p: float = 1.0,
    seed: int = 0,
    features: str | Sequence[str] = DEFAULT_FEATURES,
    head: HeadKind = "logistic",
    labels: LabelMode = "outcome",
    rollouts: int | None = None,
    rollout_tokens: int | None = None,
    l2: float = 1e-2,
    hidden_units: int = 32,
    folds: int = 5,
    compare: bool = True,
    samples: str | Path | None = None,
    export_trl: str | Path | None = None,
    policy: Any = None,
    device: str | None = None,
    dtype: str | None = None,
    concurrency: int = 1,
    batch_size: int = 8,
    progress: bool = True,
    console: Any = None,
    command: str | None = None,
) -> TrainingResult:
    """Train a verifier for a policy on its own samples of a dataset with reference answers.

    Args:
        dataset: ``.jsonl`` path, ``"arithmetic"`` or a hub id (as for ``ttc-graph eval``).
        out: The verifier directory to write; an existing trained verifier there is
            replaced (atomically), any other existing non-empty directory is refused.
        model: Policy model spec for :func:`ttc_graph.load_policy` (``None``: embedded),
            or a loaded policy. Part of the sample's configuration hash.
        n: Samples per problem (>= 2).
        limit, difficulty, data_seed, split: Which problems (as for ``ttc-graph eval``).
        max_new_tokens, temperature, top_p, seed: Sampling, as for ``ttc-graph eval``.
        features: Groups the final head reads: ``checker``, ``confidence``, ``hidden``.
        head: ``logistic`` or ``mlp``; ``l2``, ``hidden_units`` configure it.
        labels: How step prefixes are labelled (``LABEL_MODES``):
            ``outcome`` (each prefix gets its candidate's outcome), ``steps``
            (from the checker's fault signals), ``rollouts`` / ``rollouts_hard``
            (Math-Shepherd: the share of ``rollouts`` completions from the prefix, of at
            most ``rollout_tokens`` tokens, that reach the reference / whether any does;
            stored in ``<samples>/rollouts.sqlite`` as they are made, so a rerun resumes).
            With rollout labels the validation adds step AUROC by position against
            them, for every head, the grounded checker and an outcome-trained head.
        rollouts, rollout_tokens: Rollout labels' K and completion length (>= 1 each;
            default :data:`ROLLOUTS` and :data:`ROLLOUT_TOKENS`); refused with other
            labels, which make no rollouts.
        folds: Grouped cross-validation folds (fewer when there are fewer problems).
        compare: Validate every feature set of :data:`TABLE_SETS` too, to show what each
            group adds. ``False`` validates only the chosen groups, and a checker-only
            head then needs no forward pass of the policy.
        samples: Sample store directory (default ``<out>.samples``).
        export_trl: Also write the labelled steps as TRL ``PRMTrainer`` JSONL here.
        policy: An already loaded policy to sample and read features with.
        device: Where to load the model when ``policy`` is not given.
        dtype: Its precision: float32 unless asked (as ``ttc-graph eval``: then a stored
            sample reproduces at any ``concurrency``); ``"auto"`` or ``"bfloat16"`` is
            about 1.5× faster on CPUs with native bf16, and part of the sample's hash.
        concurrency: Problems sampled at once (shared batches; same samples).
        batch_size: Candidates per feature forward pass.
        progress: Progress bars and messages on stderr.
        console: A ``rich.console.Console`` for them.
        command: The command line to record in the card.

    Raises:
        VerifierTrainingError: N < 2, an unknown feature group or head, fewer than 2
            problems, a sample in which every candidate is right or every one wrong,
            or an unusable ``out``. A dataset row without a reference answer is a
            ``ValueError`` naming the row.

    Example:
        >>> result = train_verifier(dataset="arithmetic", limit=100, n=16,
        ...                         out="runs/smol-verifier")  # doctest: +SKIP
        >>> result.card.validation["table"]  # doctest: +SKIP
    """
    from rich.console import Console

    _check_settings(n, folds, head, l2, labels)
    if labels in ROLLOUT_MODES:
        rollouts = ROLLOUTS if rollouts is None else rollouts
        rollout_tokens = ROLLOUT_TOKENS if rollout_tokens is None else rollout_tokens
        check_rollouts(rollouts, rollout_tokens)
    elif rollouts is not None or rollout_tokens is not None:
        raise VerifierTrainingError(
            f"rollouts and rollout_tokens apply to labels {' or '.join(ROLLOUT_MODES)}; "
            f"labels {labels!r} makes no rollouts. Drop them or pass --labels rollouts."
        )
    chosen = parse_feature_groups(features)
    # What the card records as "the command" when called from Python.
    training_args = {
        "dataset": str(dataset), "out": str(out), "model": model_name(model or policy), "n": n,
        "limit": limit, "difficulty": difficulty, "data_seed": data_seed, "split": split,
        "max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
        "seed": seed, "dtype": dtype, "features": ",".join(chosen), "head": head,
        "labels": labels, "l2": l2,
        **({"rollouts": rollouts, "rollout_tokens": rollout_tokens}
           if labels in ROLLOUT_MODES else {}),
        "hidden_units": hidden_units, "folds": folds, "compare": compare,
        "samples": None if samples is None else str(samples),
        "export_trl": None if export_trl is None else str(export_trl),
    }  # fmt: skip
    started = provenance.begin(command or call_text(training_args))
    out_dir = Path(out).expanduser()
    _check_out(out_dir)
    samples_dir = Path(samples).expanduser() if samples is not None else default_samples_dir(out)
    trl_path = Path(export_trl).expanduser() if export_trl is not None else None
    if trl_path is not None and trl_path.is_dir():
        raise VerifierTrainingError(f"--export-trl {trl_path} is a directory; pass a file path.")
    checker_names = checker_features()
    console = console or Console(stderr=True, quiet=not progress)
    if model is None and policy is not None:
        model = policy  # so the sample's configuration names the policy actually used
    # Only the sample's own settings: beam width, max steps and verifier keep their
    # defaults so the hash equals that of `ttc-graph eval --strategies coverage --n N`.
    existed = samples_dir.exists()
    try:
        evaluation = create_evaluation(
            dataset=dataset,
            strategies="coverage",
            ns=(n,),
            out=samples_dir,
            limit=limit,
            model=model,
            seed=seed,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            difficulty=difficulty,
            data_seed=data_seed,
            split=split,
            device=device,
            dtype=dtype,
        )
    except ValueError:
        if not existed:
            # Bad data is found after the sample directory was made: leave no trace.
            with contextlib.suppress(OSError):
                samples_dir.rmdir()
        raise
    try:
        problems = evaluation.problems.problems
        if len(problems) < 2:
            raise VerifierTrainingError(
                f"{evaluation.problems.name} gives {len(problems)} problem; grouped "
                "validation needs at least 2 (raise --limit)."
            )
        if policy is None:
            if model is None or isinstance(model, (str, os.PathLike)):
                from ttc_graph.policy import load_policy

                console.print(f"loading policy {model or 'embedded'} …")
                # The precision the sample was (or will be) made in: float32 unless asked.
                policy = load_policy(model, device=device, dtype=dtype or "float32")
            else:
                policy = model
        check_local_policy(policy, "Training a verifier")
        pending = len(evaluation.pending())
        console.print(
            f"samples: {len(problems)} problems × N={n}, {len(problems) - pending} already "
            f"stored in {evaluation.store.path} (config {evaluation.config_hash})"
        )
        if pending:
            evaluation.run(
                policy=policy, concurrency=concurrency, progress=progress, console=console
            )
        candidates = read_samples(evaluation, problems, n)
    finally:
        evaluation.close()
    check_classes(candidates, len(problems))
    shares = None
    if rollouts is not None and rollout_tokens is not None:  # the rollout label modes
        shares = rollout_shares(
            policy, problems, candidates, store_dir=samples_dir,
            samples_config=evaluation.config_hash, k=rollouts, max_new_tokens=rollout_tokens,
            temperature=temperature, seed=seed, system_prompt=DEFAULT_SYSTEM_PROMPT,
            console=console, progress=progress,
        )  # fmt: skip
    # Only what the table or the head reads: the policy groups cost a forward pass.
    extracted = FEATURE_GROUPS if compare else chosen
    extractor = FeatureExtractor(extracted, policy=policy, batch_size=batch_size)
    featurise(extractor, problems, candidates, console, progress)
    label(candidates, extractor.names, checker_names, labels, shares)
    validation = validate(
        candidates, problems, extractor.names, chosen, head, l2, hidden_units, folds, seed,
        console, truth=None if shares is None else [[s > 0 for s in row] for row in shares],
    )  # fmt: skip
    columns = columns_of(extractor.names, chosen)
    x, y = examples(candidates)
    console.print(f"fitting the final {head} head on {x.shape[0]} step examples …")
    final = fit_head(x[:, columns], y, kind=head, l2=l2, hidden_units=hidden_units, seed=seed)
    card = make_card(
        final=final,
        policy=policy,
        names=[extractor.names[i] for i in columns],
        chosen=chosen,
        head_options={"l2": l2, "hidden_units": hidden_units, "seed": seed},
        evaluation=evaluation,
        dataset=dataset,
        limit=limit,
        difficulty=difficulty,
        data_seed=data_seed,
        split=split,
        n=n,
        seed=seed,
        samples_dir=samples_dir,
        candidates=candidates,
        validation=validation,
        command=command,
        training_args=training_args,
        label_mode=labels,
        provenance=provenance.finish(started),
    )
    rows = None
    if trl_path is not None:
        rows = write_trl_jsonl(
            trl_path,
            (
                LabelledCandidate(problems[c.problem].question, c.steps, c.labels)
                for c in candidates
            ),
        )
        console.print(f"TRL export: {rows} rows in {trl_path}")
    write_atomically(out_dir, card, final)
    console.print(f"verifier written to {out_dir}")
    return TrainingResult(out_dir, card, samples_dir, rows)
