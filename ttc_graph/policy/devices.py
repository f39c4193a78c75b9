"""Where a model runs and in which precision: the one rule for policies, PRMs and vLLM."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch

from ttc_graph.errors import InputError

_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
"""x86 CPU flags (``/proc/cpuinfo``) of native bfloat16 arithmetic."""


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto" picks cuda when available, else cpu."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise InputError(f"Unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device={device!r} was asked for but CUDA is not available; use 'cpu'.")
    return resolved


@functools.cache
def native_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AMX or AVX512-BF16 on x86, the BF16
    extension on Arm). There bfloat16 is about 1.5x faster than float32 for the embedded
    model; without it torch emulates bfloat16 and it is slower (docs/performance.md)."""
    cpu = getattr(torch, "cpu", None)
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    if platform.machine() in ("x86_64", "AMD64") and all(hasattr(cpu, p) for p in probes):
        return any(bool(getattr(cpu, p)()) for p in probes)
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    words = set(info.split())
    return bool(words & _BF16_FLAGS) or (platform.machine() == "aarch64" and "bf16" in words)


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``None``/"auto": bfloat16 on cuda and on CPUs with native bfloat16, else float32."""
    if dtype is None or dtype == "auto":
        if device.type == "cuda" or (device.type == "cpu" and native_bf16()):
            return torch.bfloat16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype):
        raise InputError(f"Unknown dtype {dtype!r}; use 'float32', 'bfloat16' or 'float16'.")
    return resolved
