"""The command line as the tests see it: run in this process, its one error line, and
text that must reach a terminal inert."""

from __future__ import annotations

import pytest

from ttc_graph.cli import main

# Everything a terminal acts on: clear screen, window title, OSC 52 clipboard write,
# a C1 CSI, bell, carriage return (overwrites the line), backspace, a bidi override.
HOSTILE = "What is 2 + 2?\x1b[2J\x1b]0;pwned\x07\x1b]52;c;SGVsbG8=\x07\x9b31m\rX\x08\u202etxt.exe"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\r", "\x08", "\u202e")


def assert_terminal_clean(text: str) -> None:
    """No control character that a terminal would act on (newline and tab are fine)."""
    for char in RAW_CONTROLS:
        assert char not in text, f"raw {char!r} reached the terminal"
    assert not any(ord(c) < 32 and c not in "\n\t" for c in text)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``ttc-graph ARGV`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_error_line(err: str, *needles: str) -> str:
    """The single ``ttc-graph: error:`` line of ``err``, which holds every needle."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("ttc-graph: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
