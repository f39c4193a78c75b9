"""The examples are real programs: run each one as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["lcel_chain.py", "agent_tool.py", "streaming.py", "chat_model.py"]


@pytest.mark.subprocess
@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES)
def test_example_runs(script: str) -> None:
    # Shorter solutions than the documented defaults: what is checked is that the
    # program runs end to end and prints its parts, not how well the model answers.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TTC_GRAPH_MAX_TOKENS": "16"}
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    if script == "lcel_chain.py":
        assert "What is 15 + 27? ->" in out
        assert "votes:" in out
    elif script == "chat_model.py":
        assert "solution:" in out
        assert "candidates)" in out
        assert "quick:" in out
        assert "chunk:" in out
    elif script == "agent_tool.py":
        assert "tool:" in out
        assert "reasoning tool" in out
    else:
        assert "answer:" in out
        assert "kept" in out
