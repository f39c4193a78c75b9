"""What ``load_policy`` and ``SamplingParams`` refuse before any weights load: bad sampling
values, an unknown hub id offline, a directory without weights, an unknown dtype. (The
embedded policy itself: tests/integration/test_policy.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ttc_graph import load_policy
from ttc_graph.errors import InputError, ModelLoadError
from ttc_graph.policy import SamplingParams


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": -0.1}, "temperature"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"top_p": 0.0}, "top_p"),
        ({"stop": "\n\n"}, "sequence of strings"),
    ],
)
def test_bad_sampling_params(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SamplingParams(**kwargs)


def test_unknown_hub_id_offline_is_a_clear_error() -> None:
    with pytest.raises(ModelLoadError, match=r"hub id|HF_HUB_OFFLINE|network"):
        load_policy("no-such-org/no-such-model-xyz", device="cpu")


def test_directory_without_weights_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="does not hold a transformers model"):
        load_policy(tmp_path, device="cpu")
    with pytest.raises(ModelLoadError, match="No such model directory"):
        load_policy(tmp_path / "missing", device="cpu")
    with pytest.raises(ValueError, match="device"):
        load_policy(device="tpu")


def test_an_unknown_dtype_is_refused_before_loading() -> None:
    with pytest.raises(InputError, match="Unknown dtype 'float8'; use 'float32', 'bfloat16'"):
        load_policy(device="cpu", dtype="float8")
