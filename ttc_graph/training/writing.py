"""Writing a trained verifier: its card (what made it, how it validated) and weights, atomically."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ttc_graph.evaluation.runner import Evaluation
from ttc_graph.outputs import write_failure
from ttc_graph.prompts import DEFAULT_SYSTEM_PROMPT
from ttc_graph.training.labels import LABEL_RULES, LabelMode
from ttc_graph.training.samples import Sampled
from ttc_graph.verifiers.trained.card import PolicyIdentity, VerifierCard, write_card, write_head
from ttc_graph.verifiers.trained.choices import FeatureGroup
from ttc_graph.verifiers.trained.head import TrainedHead


def model_name(model: Any) -> str | None:
    if model is None or isinstance(model, (str, os.PathLike)):
        return None if model is None else str(model)
    return str(getattr(model, "model_id", None) or type(model).__name__)


def call_text(args: dict[str, Any]) -> str:
    return "train_verifier(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("ttc-graph", "torch", "transformers", "safetensors"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def make_card(
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
    candidates: Sequence[Sampled],
    validation: dict[str, Any],
    command: str | None,
    training_args: dict[str, Any],
    label_mode: LabelMode,
    provenance: dict[str, Any],
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
        command=command or call_text(training_args),
        versions=_versions(),
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        provenance=provenance,
    )


def write_atomically(out: Path, card: VerifierCard, head: TrainedHead) -> None:
    """Write into a temporary directory beside ``out``, then rename it into place."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise write_failure(out, exc) from exc
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
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = " (the samples are kept: the rerun samples nothing again)"
        raise write_failure(out, exc, kept=kept) from exc
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
