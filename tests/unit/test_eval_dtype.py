"""Which precision an evaluation samples in: float32 unless asked, ``auto`` = the fastest."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttc_graph.evaluation.options import create_evaluation
from ttc_graph.policy.devices import resolve_device, resolve_dtype


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [(None, "float32"), ("float32", "float32"), ("bfloat16", "bfloat16"), ("auto", None)],
)
def test_precision_is_float32_unless_asked(
    tmp_path: Path, dtype: str | None, expected: str | None
) -> None:
    # "auto" is what load_policy would pick here: bfloat16 on CPUs with native bf16.
    expected = expected or str(resolve_dtype("auto", resolve_device("cpu"))).removeprefix("torch.")
    evaluation = create_evaluation(
        dataset="arithmetic", strategies="majority", ns=(2,), out=tmp_path / "e", limit=2,
        device="cpu", dtype=dtype,
    )  # fmt: skip
    try:
        # float32 stays out of the configuration, so the runs stored so far keep their hash.
        assert evaluation.config.get("dtype", "float32") == expected
    finally:
        evaluation.close()
