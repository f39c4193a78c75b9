"""Which faults are retried, no model: transient errors only, by the default retry policy,
also when wrapped in a StrategyError. (Faults injected into real searches:
tests/integration/test_reliability_faults.py.)"""

from __future__ import annotations

import pytest
from reliability_faults import http_400, http_500, out_of_memory

from ttc_graph.errors import StrategyError
from ttc_graph.reliability import DEFAULT_RETRY, is_transient


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TimeoutError("read timed out"), True),
        (ConnectionError("connection reset by peer"), True),
        (http_500(), True),
        (out_of_memory(), True),
        (http_400(), False),
        (RuntimeError("CUDA error: device-side assert triggered"), False),
        (ValueError("bad shape"), False),
        (KeyError("logits"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_only_transient_errors_are_retryable(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
    wrapped = StrategyError("wrapped", strategy="s")
    wrapped.__cause__ = error
    assert is_transient(wrapped) is transient, "a StrategyError is judged by its cause"


def test_default_retry_only_retries_transient_errors() -> None:
    assert DEFAULT_RETRY.max_attempts >= 2
    assert DEFAULT_RETRY.retry_on is is_transient
