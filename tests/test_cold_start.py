"""Cold start: the command line answers without importing the heavy libraries.

Behaviour, not timing (the seconds are a benchmark row: ``benchmarks/cold_start.py``).
``ttc-graph --help``, each subcommand's help and refused arguments must be
answered without importing torch, transformers, LangChain or LangGraph, which
take seconds to import; and every public name of the lazily loaded packages
must still resolve.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "langchain_core", "langgraph", "math_verify")
"""Libraries that take about a second or more each to import."""

COMMANDS = [
    ["--help"],
    ["solve", "--help"],
    ["eval", "--help"],
    ["train-verifier", "--help"],
    ["view", "--help"],
    ["graph", "--help"],
    ["serve", "--help"],
    # Refused by argparse, and by the checks that run before any model is loaded.
    # (``eval`` checks its settings in create_evaluation, which imports the runner:
    # its refusals still cost the heavy imports.)
    ["solve", "What is 2 + 3?", "--strategy", "nope"],
    ["solve", "What is 2 + 3?", "--n", "0"],
    ["serve", "--port", "-1"],
]

PROBE = """
import contextlib, io, json, sys
from ttc_graph.cli import main
HEAVY = {heavy!r}
out = []
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    out.append({{"argv": argv, "code": code, "heavy": [m for m in HEAVY if m in sys.modules]}})
print(json.dumps(out))
"""


@pytest.mark.subprocess
def test_help_and_refused_arguments_import_no_heavy_library() -> None:
    # One fresh process answers every command in turn: the first one that pulls in
    # a heavy library is the one named in the failure.
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), json.dumps(COMMANDS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    assert [r["argv"] for r in results] == COMMANDS
    for r in results:
        expected = 0 if "--help" in r["argv"] else 2
        assert r["code"] == expected, r
        assert r["heavy"] == [], f"ttc-graph {' '.join(r['argv'])} imported {r['heavy']}"


@pytest.mark.parametrize(
    "package",
    [
        "ttc_graph",
        "ttc_graph.policy",
        "ttc_graph.strategies",
        "ttc_graph.verifiers",
        "ttc_graph.verifiers.trained",
        "ttc_graph.evaluation",
        "ttc_graph.visualization",
    ],
)
def test_every_public_name_of_a_lazy_package_resolves(package: str) -> None:
    # The names come from each package's __init__.pyi: a name listed there that its
    # module does not define fails here, not at a user's first use.
    module = importlib.import_module(package)
    assert module.__all__, package
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    assert set(module.__all__) <= set(dir(module))
