"""Reading what the command line printed: its one error line."""

from __future__ import annotations


def one_error_line(err: str, *needles: str) -> str:
    """The single ``ttc-graph: error:`` line of ``err``, which holds every needle."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("ttc-graph: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
