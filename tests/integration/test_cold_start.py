"""Cold start: the command line answers without importing the heavy libraries.

Behaviour, not timing (the seconds are a benchmark row: ``benchmarks/cold_start.py``).
``ttc-graph --help``, each subcommand's help and refused arguments must be
answered without importing torch, transformers, LangChain or LangGraph, which
take seconds to import (checked in a fresh process). The converted model's tokenizer
config records its added tokens, so loading it skips a slow parse of
``tokenizer.json``, with the same result. (Every public name of the lazily loaded
packages resolves, and the record itself: tests/unit/test_lazy_imports.py.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ttc_graph.policy import loading as policy_loading

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


def _tokenizer_signature(tokenizer: Any) -> dict[str, Any]:
    texts = ["What is 2 + 3?", "<|im_start|>user\nhi<|im_end|>", " héllo\t\n wörld 🙂 <issue_x>"]
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": texts[2]}]
    return {
        "class": type(tokenizer).__name__,
        "chat": tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True),
        "ids": [tokenizer(t)["input_ids"] for t in texts],
        "decoded": [tokenizer.decode(tokenizer(t)["input_ids"]) for t in texts],
        "added": {i: repr(t) for i, t in tokenizer.added_tokens_decoder.items()},
        "special": [tokenizer.all_special_tokens, repr(tokenizer.special_tokens_map)],
        "lengths": [len(tokenizer), tokenizer.vocab_size, tokenizer.model_max_length],
        "backend": json.loads(tokenizer.backend_tokenizer.to_str()),
        "init_kwargs": sorted(k for k in tokenizer.init_kwargs if k != "name_or_path"),
    }


@pytest.mark.model
def test_recorded_added_tokens_load_the_same_tokenizer(tmp_path: Path) -> None:
    # The converted embedded tokenizer, loaded the slow way (no record in its config)
    # and the fast way, is the same tokenizer.
    from transformers import AutoTokenizer

    source = Path(policy_loading.resolve_model_source(None))
    small = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "config.json")
    copies = {}
    for name in ("slow", "fast"):
        copies[name] = tmp_path / name
        copies[name].mkdir()
        for file in small:
            if (source / file).is_file():
                shutil.copyfile(source / file, copies[name] / file)
    slow_config = copies["slow"] / "tokenizer_config.json"
    config = json.loads(slow_config.read_text(encoding="utf-8"))
    config.pop("added_tokens_decoder", None)
    slow_config.write_text(json.dumps(config), encoding="utf-8")
    policy_loading.record_added_tokens(copies["fast"])
    fast_config = json.loads((copies["fast"] / "tokenizer_config.json").read_text("utf-8"))
    assert fast_config["added_tokens_decoder"]
    slow = AutoTokenizer.from_pretrained(str(copies["slow"]))
    fast = AutoTokenizer.from_pretrained(str(copies["fast"]))
    assert _tokenizer_signature(fast) == _tokenizer_signature(slow)
