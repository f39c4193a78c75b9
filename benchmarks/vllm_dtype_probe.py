"""The probe behind docs/data/vllm-setup-and-dtype-2026-12-01.txt: a vLLM server's speed by dtype.

    DT=bfloat16 PYTHONPATH=. .venv/bin/python benchmarks/vllm_dtype_probe.py
    DT=float32  PYTHONPATH=. .venv/bin/python benchmarks/vllm_dtype_probe.py

Starts the server on the embedded model, then times three requests of 8
candidates x 64 tokens (``ignore_eos``, so every run makes 512 tokens). The
bfloat16 run in the data file was made with ``VLLM_ENABLE_V1_MULTIPROCESSING=0``
in the environment (inherited by the server), the float32 run without it.
"""

import os
import subprocess
import time

import httpx

from ttc_graph.policy.vllm_server import vllm_server

t = time.time()
dtype = os.environ.get("DT", "float32")
log = "/tmp/vllm-probe.log"
with vllm_server(python=".venv-vllm/bin/python", log_path=log, dtype=dtype) as url:
    print(f"healthy after {time.time() - t:.0f}", flush=True)
    time.sleep(5)
    top = subprocess.run(
        "top -bn1 | head -14 | tail -8", shell=True, capture_output=True, text=True
    )
    print(top.stdout, flush=True)
    for rep in range(3):
        t0 = time.time()
        body = {
            "model": "smollm2",
            "messages": [{"role": "user", "content": "Tell a story."}],
            "n": 8,
            "max_tokens": 64,
            "seed": rep,
            "ignore_eos": True,
            "temperature": 0.8,
        }
        usage = httpx.post(url + "/chat/completions", json=body, timeout=600).json()["usage"]
        dt = time.time() - t0
        made = usage["completion_tokens"]
        print(f"n=8x64: {dt:.2f}s {made} tok -> {made / dt:.1f} tok/s", flush=True)
