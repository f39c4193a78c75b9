"""Checks of a verifier spec's form, before any model is loaded.

``load_verifier`` tries anything it does not recognise as a PRM hub id, which
costs a policy load and, offline, half a minute of retries before it fails. The
spec's form is known much earlier: a name, a directory with the right files, or
something shaped like ``org/name``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ttc_graph.errors import InputError

NAMED_VERIFIERS = ("auto", "grounded", "arithmetic", "judge", "trained")
"""Verifier specs that are names, not paths or hub ids."""
CARD_NAME = "verifier.json"
"""The file that marks a trained-verifier directory (written by ``train-verifier``)."""
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_FORMS = (
    "auto, grounded, arithmetic, judge, trained, a trained verifier directory (with "
    "verifier.json), a PRM directory (with config.json) or hub id (org/name), the URL of a "
    "PRM served by vLLM (http://host:port), or several joined by '+'"
)
SERVED_PRM_PREFIXES = ("http://", "https://")
"""A verifier spec starting with one of these is a PRM on a vLLM server."""


class VerifierSpecError(InputError):
    """A verifier spec that names no verifier: not a known name, directory or hub id."""


def spec_parts(spec: str) -> list[str]:
    """The verifier specs a ``+`` spec joins (``"grounded+trained"``), else ``[spec]``.

    A path that exists is one spec even if its name holds ``+``. An empty part is a
    :class:`VerifierSpecError`.
    """
    text = spec.strip()
    if "+" not in text or Path(text).expanduser().exists() or text.startswith(SERVED_PRM_PREFIXES):
        return [text]
    parts = [part.strip() for part in text.split("+")]
    if not all(parts):
        raise VerifierSpecError(
            f"Verifier spec {text!r} has an empty part; join specs with '+', "
            "e.g. 'grounded+trained'."
        )
    return parts


def check_verifier_spec(spec: Any) -> None:
    """Raise :class:`VerifierSpecError` unless ``spec`` has the form of a verifier spec.

    Loaded verifier objects and ``None`` pass; only strings and paths are checked.
    A hub id is only checked for its form (``org/name``): whether it exists is
    known once it is downloaded.
    """
    if spec is None or not isinstance(spec, str | os.PathLike):
        return
    text = str(spec).strip()
    if not text:
        raise VerifierSpecError(f"The verifier spec is empty; use {_FORMS}.")
    if text in NAMED_VERIFIERS or text.startswith(SERVED_PRM_PREFIXES):
        return
    path = Path(text).expanduser()
    parts = spec_parts(text)
    if len(parts) > 1:
        for part in parts:
            check_verifier_spec(part)
        return
    if path.is_dir():
        if (path / CARD_NAME).is_file() or (path / "config.json").is_file():
            return
        raise VerifierSpecError(
            f"Verifier directory {path} holds neither {CARD_NAME} (a verifier trained with "
            "`ttc-graph train-verifier`) nor config.json (a PRM saved with save_pretrained)."
        )
    if path.is_file():
        if path.name == CARD_NAME or path.suffix.lower() == ".gguf":
            return
        raise VerifierSpecError(f"Verifier {path} is a file; pass its directory, or use {_FORMS}.")
    if text.lower() in NAMED_VERIFIERS:
        raise VerifierSpecError(f"Unknown verifier {text!r}; did you mean {text.lower()!r}?")
    if text.startswith((".", "/", "~")) or os.sep in text.replace("/", "", 1):
        raise VerifierSpecError(f"No such verifier directory: {path}. Check the path.")
    if not _HUB_ID.match(text):
        raise VerifierSpecError(f"Unknown verifier {text!r}; use {_FORMS}.")
