"""Output files: checked before any work starts, written whole or not at all.

A search or an evaluation can take minutes; an output path that cannot be written
must be refused before it starts, not discovered after. :func:`check_output_path`
proves the target's directory exists and takes a new file (by creating and
removing one there, which also works for root and on read-only mounts, where
permission bits say nothing). :func:`write_atomic` writes beside the target and
renames, so a reader never sees half a file, and its errors name the target,
never the temporary file.
"""

from __future__ import annotations

import errno
import os
import secrets
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ttc_graph.errors import OutputPathError, OutputWriteError


def check_output_path(path: str | os.PathLike[str], *, example: str = "trace.json") -> Path:
    """The path as a ``Path``, or :class:`OutputPathError` when a file cannot be written there.

    ``example`` is the file name suggested when ``path`` is a directory.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputPathError(
            f"{target} is a directory; give a file name such as {target / example}."
        )
    if target.exists() and not target.is_file():
        raise OutputPathError(f"{target} exists and is not a regular file; choose another name.")
    parent = target.parent
    if not parent.resolve().is_dir():
        raise OutputPathError(f"Directory {parent} does not exist (for {target}); create it first.")
    probe_writable(parent, for_path=target)
    return target


def probe_writable(directory: Path, *, for_path: Path | None = None) -> None:
    """Create and remove a file in ``directory``; :class:`OutputPathError` if that fails."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".ttc-graph-probe-"):
            pass
    except OSError as exc:
        what = f" (for {for_path})" if for_path is not None else ""
        raise OutputPathError(
            f"Cannot write files in {directory}{what}: {exc.strerror or exc}. "
            "Choose a directory you can write to."
        ) from exc


def check_distinct(paths: Iterable[tuple[str, Path | None]]) -> None:
    """Two outputs of one command must not be the same file (one would overwrite the other)."""
    seen: dict[Path, str] = {}
    for option, path in paths:
        if path is None:
            continue
        key = path.expanduser().resolve()
        if key in seen:
            raise OutputPathError(
                f"{seen[key]} and {option} both name {path}: one would overwrite the other; "
                "give them different files."
            )
        seen[key] = option


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` whole or not at all (temporary file, then rename).

    Raises :class:`OutputWriteError` naming ``path`` when the write fails.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp: Path | None = None
    try:
        # open(..., "xb") rather than mkstemp: the file gets the usual permissions
        # (umask), not mkstemp's owner-only 0600.
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        with tmp.open("xb") as fh:
            fh.write(payload)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise OutputWriteError(f"Could not write {target}: {exc.strerror or exc}.") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return target


def write_failure(target: Path, exc: OSError, *, kept: str = "") -> OutputWriteError:
    """An :class:`OutputWriteError` naming ``target`` (never a temporary file beside it)
    and saying what to do; ``kept`` says what earlier work survives."""
    full = exc.errno == errno.ENOSPC
    reason = "no space left on the device" if full else (exc.strerror or str(exc))
    fix = (
        "Free some space, or write somewhere else, and run the same command again"
        if full
        else "Check the path and its permissions, and run the same command again"
    )
    return OutputWriteError(f"Could not write {target}: {reason}. {fix}{kept}.")
