"""Where ``load_policy()`` spends its time in a fresh process, profiled once.

    python benchmarks/load_profile.py --json docs/data/load-policy-profile.json

torch and transformers are imported first, outside the profile (their import time is
in the cold-start table); then ``load_policy()`` of the embedded model, from its
converted cache, runs under cProfile, with garbage-collection pauses timed by
``gc.callbacks``. The JSON keeps the wall time, the collector's share and the
functions with the most cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ttc_graph.evaluation import provenance  # noqa: E402

TOP = 30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", required=True, type=Path)
    args = parser.parse_args()
    record = provenance.begin()
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from ttc_graph import load_policy

    pauses: list[float] = []
    started: list[float] = []

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses.append(time.perf_counter() - started.pop())

    gc.callbacks.append(timed)
    profile = cProfile.Profile()
    wall = time.perf_counter()
    profile.enable()
    load_policy(device="cpu")
    profile.disable()
    wall = time.perf_counter() - wall
    gc.callbacks.remove(timed)

    stats = pstats.Stats(profile)
    rows = []
    for (path, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = path.split("site-packages/")[-1].replace(str(REPO) + "/", "")
        rows.append(
            {
                "function": f"{where}:{line}({name})",
                "calls": calls,
                "tottime": round(tottime, 4),
                "cumtime": round(cumtime, 4),
            }
        )
    rows.sort(key=lambda r: -r["cumtime"])
    payload = {
        "wall_seconds": round(wall, 3),
        "gc_seconds": round(sum(pauses), 3),
        "gc_collections": len(pauses),
        "top_cumulative": rows[:TOP],
        "provenance": provenance.finish(record),
    }
    args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    print(f"load_policy {wall:.2f} s, gc {sum(pauses):.2f} s in {len(pauses)} collections")
    for r in rows[:TOP]:
        print(f"{r['cumtime']:8.3f} {r['tottime']:8.3f} {r['function']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
