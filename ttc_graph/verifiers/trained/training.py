"""Train a verifier on the policy's own samples: sample, label, validate, fit, write.

1. **Sample** N solutions per problem through the evaluation harness (strategy
   ``coverage``), stored as they are made in ``<samples>/results.sqlite``: an
   interrupted run resumes, and a sample made earlier by ``ttc-graph eval
   --strategies coverage --n N`` with the same settings is reused as it is.
2. **Label** each candidate by its final answer against the reference, and each
   step prefix by :mod:`~ttc_graph.verifiers.trained.labels`.
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
import datetime as _dt
import importlib.metadata
import logging
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ttc_graph.errors import VerifierTrainingError
from ttc_graph.evaluation.grading import grade
from ttc_graph.evaluation.metrics import SAMPLES_UNIT
from ttc_graph.evaluation.problems import Problem
from ttc_graph.evaluation.runner import Evaluation, create_evaluation
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.verifiers.trained.card import (
    CARD_NAME,
    PolicyIdentity,
    VerifierCard,
    is_trained_verifier_dir,
    write_card,
    write_head,
)
from ttc_graph.verifiers.trained.export import LabelledCandidate, write_trl_jsonl
from ttc_graph.verifiers.trained.features import (
    DEFAULT_FEATURES,
    FEATURE_GROUPS,
    FeatureExtractor,
    FeatureGroup,
    checker_features,
    parse_feature_groups,
)
from ttc_graph.verifiers.trained.head import HEAD_KINDS, HeadKind, TrainedHead, fit_head
from ttc_graph.verifiers.trained.labels import (
    LABEL_MODES,
    LABEL_RULES,
    LabelMode,
    fault_features,
    first_fault,
    outcome_labels,
    step_labels,
)
from ttc_graph.verifiers.trained.readout import check_local_policy
from ttc_graph.verifiers.trained.validation import (
    ProblemSample,
    auroc,
    coverage,
    grouped_folds,
    out_of_fold,
    selection_accuracy,
)

__all__ = ["TABLE_SETS", "TrainingResult", "default_samples_dir", "train_verifier"]

logger = logging.getLogger(__name__)

TABLE_SETS: tuple[tuple[FeatureGroup, ...], ...] = (
    ("checker",),
    ("confidence",),
    ("hidden",),
    ("checker", "confidence"),
    ("checker", "confidence", "hidden"),
)
"""Feature sets compared in the validation table (the chosen set is added if missing)."""


@dataclass
class _Candidate:
    problem: int
    steps: list[str]
    answer: str | None
    correct: bool
    features: torch.Tensor
    labels: list[int] = field(default_factory=list)


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


def _set_name(groups: Sequence[str]) -> str:
    return "+".join(groups)


def _finite(value: float) -> float | None:
    # JSON has no NaN; an undefined metric (one class in a fold) is stored as null.
    return None if math.isnan(value) else round(float(value), 4)


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
    l2: float = 1e-2,
    hidden_units: int = 32,
    folds: int = 5,
    compare: bool = True,
    samples: str | Path | None = None,
    export_trl: str | Path | None = None,
    policy: Any = None,
    device: str | None = None,
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
            ``outcome`` (each prefix gets its candidate's outcome) or ``steps``
            (Math-Shepherd style from the checker's fault signals).
        folds: Grouped cross-validation folds (fewer when there are fewer problems).
        compare: Validate every feature set of :data:`TABLE_SETS` too, to show what each
            group adds. ``False`` validates only the chosen groups, and a checker-only
            head then needs no forward pass of the policy.
        samples: Sample store directory (default ``<out>.samples``).
        export_trl: Also write the labelled steps as TRL ``PRMTrainer`` JSONL here.
        policy: An already loaded policy to sample and read features with.
        device: Where to load the model when ``policy`` is not given.
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
    chosen = parse_feature_groups(features)
    # What the card records as "the command" when called from Python.
    training_args = {
        "dataset": str(dataset), "out": str(out), "model": _model_name(model or policy), "n": n,
        "limit": limit, "difficulty": difficulty, "data_seed": data_seed, "split": split,
        "max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
        "seed": seed, "features": ",".join(chosen), "head": head, "labels": labels, "l2": l2,
        "hidden_units": hidden_units, "folds": folds, "compare": compare,
        "samples": None if samples is None else str(samples),
        "export_trl": None if export_trl is None else str(export_trl),
    }  # fmt: skip
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
                policy = load_policy(model, device=device)
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
        candidates = _read_samples(evaluation, problems, n)
    finally:
        evaluation.close()
    _check_classes(candidates, len(problems))
    # Only what the table or the head reads: the policy groups cost a forward pass.
    extracted = FEATURE_GROUPS if compare else chosen
    extractor = FeatureExtractor(extracted, policy=policy, batch_size=batch_size)
    _featurise(extractor, problems, candidates, console, progress)
    _label(candidates, extractor.names, checker_names, labels)
    validation = _validate(
        candidates, problems, extractor.names, chosen, head, l2, hidden_units, folds, seed, console
    )
    columns = _columns_of(extractor.names, chosen)
    x, y = _examples(candidates)
    console.print(f"fitting the final {head} head on {x.shape[0]} step examples …")
    final = fit_head(x[:, columns], y, kind=head, l2=l2, hidden_units=hidden_units, seed=seed)
    card = _card(
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
    _write_atomically(out_dir, card, final)
    console.print(f"verifier written to {out_dir}")
    return TrainingResult(out_dir, card, samples_dir, rows)


def _read_samples(evaluation: Evaluation, problems: Sequence[Problem], n: int) -> list[_Candidate]:
    records = {
        r.problem_id: r.record
        for r in evaluation.store.results(evaluation.config_hash)
        if r.strategy == SAMPLES_UNIT and r.n == n
    }
    out = []
    for index, problem in enumerate(problems):
        record = records.get(problem.id)
        if record is None:
            raise VerifierTrainingError(
                f"No stored sample for problem {problem.id} in {evaluation.store.path}; rerun "
                "the same command to finish sampling."
            )
        for c in record["candidates"]:
            steps = [str(s) for s in c.get("steps") or []] or [str(c.get("text", ""))]
            answer = c.get("answer")
            out.append(
                _Candidate(
                    problem=index,
                    steps=steps,
                    answer=answer,
                    # Graded here rather than trusted from the record: the grader is
                    # the single source of truth for every candidate.
                    correct=grade(answer, problem.answer),
                    features=torch.empty(0),
                )
            )
    return out


def _check_classes(candidates: Sequence[_Candidate], problems: int) -> None:
    right = sum(c.correct for c in candidates)
    if right == 0:
        raise VerifierTrainingError(
            f"All {len(candidates)} samples of the {problems} problems are wrong, so there is "
            "nothing to tell right from wrong with. Use easier problems (e.g. --difficulty 1), "
            "more problems (--limit), a larger --n or more --max-new-tokens, so that some "
            "samples are right."
        )
    if right == len(candidates):
        raise VerifierTrainingError(
            f"All {len(candidates)} samples of the {problems} problems are right, so there is "
            "nothing to tell right from wrong with. Use harder problems (e.g. --difficulty "
            "2,3) or more of them (--limit), or a larger --n, so that some samples are wrong."
        )


def _featurise(
    extractor: FeatureExtractor,
    problems: Sequence[Problem],
    candidates: list[_Candidate],
    console: Any,
    progress: bool,
) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    by_problem: dict[int, list[_Candidate]] = {}
    for c in candidates:
        by_problem.setdefault(c.problem, []).append(c)
    bar = Progress(
        TextColumn("[bold]features"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} problems"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not progress,
    )
    with bar:
        task = bar.add_task("features", total=len(by_problem))
        for index, group in by_problem.items():
            matrices = extractor.extract(problems[index].question, [c.steps for c in group])
            for c, m in zip(group, matrices, strict=True):
                c.features = m
            bar.advance(task)


def _label(
    candidates: Sequence[_Candidate],
    names: list[str],
    checker_names: Sequence[str],
    mode: LabelMode,
) -> None:
    if mode == "outcome":
        for c in candidates:
            c.labels = outcome_labels(c.correct, len(c.steps))
        return
    faults = fault_features(checker_names)
    if not faults:
        logger.warning(
            "The checker has no fault feature (none named *wrong*/*ungrounded*); every wrong "
            "candidate is labelled wrong at its last step only."
        )
    index = {name: i for i, name in enumerate(names)}
    cols = [index[f"checker.{f}"] for f in faults]
    for c in candidates:
        rows = [dict(zip(faults, row, strict=True)) for row in c.features[:, cols].tolist()]
        c.labels = step_labels(c.correct, first_fault(rows, faults), len(c.steps))


def _examples(
    candidates: Sequence[_Candidate], subset: Sequence[int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    picked = candidates if subset is None else [candidates[i] for i in subset]
    x = torch.cat([c.features for c in picked])
    y = torch.tensor([label for c in picked for label in c.labels], dtype=torch.float32)
    return x, y


def _columns_of(names: Sequence[str], groups: Sequence[str]) -> list[int]:
    return [i for i, name in enumerate(names) if name.split(".", 1)[0] in groups]


def _validate(
    candidates: Sequence[_Candidate],
    problems: Sequence[Problem],
    names: list[str],
    chosen: tuple[FeatureGroup, ...],
    head: HeadKind,
    l2: float,
    hidden_units: int,
    folds: int,
    seed: int,
    console: Any,
) -> dict[str, Any]:
    """The grouped k-fold table of every feature set, with the baselines."""
    fold_of = grouped_folds([problems[c.problem].id for c in candidates], k=folds, seed=seed)
    x, y = _examples(candidates)
    row_fold = torch.tensor(
        [fold_of[problems[c.problem].id] for c in candidates for _ in c.steps], dtype=torch.long
    )
    final_rows = []
    at = 0
    for c in candidates:
        at += len(c.steps)
        final_rows.append(at - 1)
    outcome = [int(c.correct) for c in candidates]
    samples = _problem_samples(candidates, problems)

    def fit_predict(x_train: torch.Tensor, y_train: torch.Tensor, x_valid: torch.Tensor) -> Any:
        rate = float(y_train.mean())
        if rate in (0.0, 1.0):
            # A training fold with one class: the best guess is that class.
            return torch.full((x_valid.shape[0],), rate)
        fitted = fit_head(x_train, y_train, kind=head, l2=l2, hidden_units=hidden_units, seed=seed)
        return fitted.predict(x_valid)

    available = {name.split(".", 1)[0] for name in names}
    sets = [g for g in TABLE_SETS if set(g) <= available]
    sets += [chosen] if chosen not in sets else []
    table = []
    for groups in sets:
        console.print(f"validating {_set_name(groups)} ({len(set(fold_of.values()))} folds) …")
        cols = _columns_of(names, groups)
        scores = out_of_fold(x[:, cols], y, row_fold, fit_predict)
        final = scores[final_rows].tolist()
        table.append(
            {
                "features": _set_name(groups),
                "n_features": len(cols),
                "auroc": _finite(auroc(final, outcome)),
                "step_auroc": _finite(auroc(scores.tolist(), y.tolist())),
                "weighted": _finite(
                    selection_accuracy(samples, _per_problem(candidates, final, len(problems)))
                ),
            }
        )
    fixed = _fixed_checker(candidates, problems)
    return {
        "folds": len(set(fold_of.values())),
        "fold_seed": seed,
        "grouped_by": "problem",
        "problems": len(problems),
        "chosen": _set_name(chosen),
        "coverage": _finite(coverage(samples)),
        "majority": _finite(selection_accuracy(samples, None, "majority")),
        "checker_fixed_weights": {
            "auroc": _finite(auroc(fixed, outcome)),
            "weighted": _finite(
                selection_accuracy(samples, _per_problem(candidates, fixed, len(problems)))
            ),
        },
        "table": table,
        "metrics": (
            "auroc: out-of-fold final-step score, right vs wrong final answers; step_auroc: "
            "every step prefix vs its step label; weighted: share of problems where weighted "
            "best-of-N with the out-of-fold scores picks a right answer"
        ),
    }


def _problem_samples(
    candidates: Sequence[_Candidate], problems: Sequence[Problem]
) -> list[ProblemSample]:
    samples = [ProblemSample(p.id, [], []) for p in problems]
    for c in candidates:
        samples[c.problem].answers.append(c.answer)
        samples[c.problem].correct.append(c.correct)
    return samples


def _per_problem(
    candidates: Sequence[_Candidate], scores: Sequence[float], problems: int
) -> list[list[float]]:
    out: list[list[float]] = [[] for _ in range(problems)]
    for c, s in zip(candidates, scores, strict=True):
        out[c.problem].append(s)
    return out


def _fixed_checker(candidates: Sequence[_Candidate], problems: Sequence[Problem]) -> list[float]:
    """The grounded checker's own hand-set score of each candidate: the baseline to beat."""
    from ttc_graph.verifiers.grounded import GroundedVerifier

    checker = GroundedVerifier()
    return [checker.score(problems[c.problem].question, [c.steps])[0] for c in candidates]


def _model_name(model: Any) -> str | None:
    if model is None or isinstance(model, (str, os.PathLike)):
        return None if model is None else str(model)
    return str(getattr(model, "model_id", None) or type(model).__name__)


def _call_text(args: dict[str, Any]) -> str:
    return "train_verifier(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("ttc-graph", "torch", "transformers", "safetensors"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _card(
    *,
    final: TrainedHead,
    policy: Any,
    names: list[str],
    chosen: tuple[FeatureGroup, ...],
    head_options: dict[str, Any],
    evaluation: Evaluation,
    dataset: str | Path,
    limit: int | None,
    difficulty: int | Sequence[int],
    data_seed: int,
    split: str,
    n: int,
    seed: int,
    samples_dir: Path,
    candidates: Sequence[_Candidate],
    validation: dict[str, Any],
    command: str | None,
    training_args: dict[str, Any],
    label_mode: LabelMode,
) -> VerifierCard:
    levels = [difficulty] if isinstance(difficulty, int) else list(difficulty)
    config = evaluation.config
    return VerifierCard(
        policy=PolicyIdentity.of(policy),
        feature_groups=list(chosen),
        feature_names=names,
        head_kind=final.kind,
        standardization={
            "mean": final.standardizer.mean.tolist(),
            "scale": final.standardizer.scale.tolist(),
        },
        system_prompt=DEFAULT_SYSTEM_PROMPT,
        head_options=head_options,
        labels=f"{label_mode}: {LABEL_RULES[label_mode]}",
        training={
            "dataset": str(dataset),
            "dataset_fingerprint": config["dataset"],
            "difficulty": levels,
            "data_seed": data_seed,
            "limit": limit,
            "split": split,
            "n": n,
            "sampling": dict(config["sampling"]),
            "seed": seed,
            "samples_dir": str(samples_dir),
            "samples_config_hash": evaluation.config_hash,
        },
        samples={
            "problems": len({c.problem for c in candidates}),
            "candidates": len(candidates),
            "right_candidates": sum(c.correct for c in candidates),
            "step_examples": sum(len(c.steps) for c in candidates),
            "positive_step_examples": sum(sum(c.labels) for c in candidates),
        },
        validation=validation,
        command=command or _call_text(training_args),
        versions=_versions(),
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )


def _write_atomically(out: Path, card: VerifierCard, head: TrainedHead) -> None:
    """Write into a temporary directory beside ``out``, then rename it into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write_head(head, tmp)
        # The card last: a directory with a card is one whose weights were written.
        write_card(card, tmp)
        _ordinary_permissions(tmp)
        if out.exists():
            # A directory cannot be renamed over a non-empty one: move the old one
            # aside first, so `out` is the old verifier, briefly absent, or the new one.
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _ordinary_permissions(directory: Path) -> None:
    """Give the private temporary directory the modes a plain ``mkdir`` would have."""
    umask = os.umask(0o022)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)
    for path in directory.iterdir():
        path.chmod(0o666 & ~umask)
