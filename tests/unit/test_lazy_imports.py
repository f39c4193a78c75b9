"""What keeps the cold start short, checked without a process or a model: every public
name of the lazily loaded packages still resolves, and the converted model's tokenizer
config records its added tokens once (so loading skips a slow parse of
``tokenizer.json``), never failing a load. (The command line answering without the
heavy imports, and the recorded tokenizer loading the same: tests/integration/test_cold_start.py.)
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from ttc_graph.policy import loading as policy_loading


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


def _tokenizer_files(directory: Path, added: list[dict[str, Any]]) -> Path:
    directory.mkdir()
    (directory / "tokenizer.json").write_text(
        json.dumps({"version": "1.0", "added_tokens": added, "model": {"type": "BPE"}}),
        encoding="utf-8",
    )
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"eos_token": "<|im_end|>", "tokenizer_class": "TokenizersBackend"}),
        encoding="utf-8",
    )
    return directory


def test_added_tokens_are_recorded_in_the_tokenizer_config_once(tmp_path: Path) -> None:
    # transformers otherwise parses all of tokenizer.json in Python on every load to
    # find the added tokens; the converted cache records them in the small config.
    token = {"content": "<|im_end|>", "single_word": False, "lstrip": False}
    token |= {"rstrip": False, "normalized": False, "special": True}
    directory = _tokenizer_files(tmp_path / "converted", [{"id": 2, **token}])
    policy_loading.record_added_tokens(directory)
    config_path = directory / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    assert config["added_tokens_decoder"] == {"2": token}
    assert config["eos_token"] == "<|im_end|>", "the rest of the config is kept"
    written = config_path.stat().st_mtime_ns
    policy_loading.record_added_tokens(directory)  # already there: nothing is written
    assert config_path.stat().st_mtime_ns == written
    assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []


def test_recording_added_tokens_never_fails_a_load(tmp_path: Path) -> None:
    # Only the speed-up is lost: no tokenizer.json, a damaged one, an unwritable dir.
    missing = tmp_path / "missing"
    missing.mkdir()
    (missing / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    policy_loading.record_added_tokens(missing)
    assert (missing / "tokenizer_config.json").read_text(encoding="utf-8") == "{}"
    damaged = _tokenizer_files(tmp_path / "damaged", [])
    (damaged / "tokenizer.json").write_text("{not json", encoding="utf-8")
    before = (damaged / "tokenizer_config.json").read_text(encoding="utf-8")
    policy_loading.record_added_tokens(damaged)
    assert (damaged / "tokenizer_config.json").read_text(encoding="utf-8") == before
    policy_loading.record_added_tokens(tmp_path / "no-such-dir")
