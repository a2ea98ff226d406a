"""Concurrency ratio of a comparison: wall time of k targets, each answering after L ms, divided by L.

A sequential compare (one target after the other, the seed's way) gives about k;
run side by side it should stay near 1 (target: at most 1.10).  Real providers
(openai_images, KarloClient) talk to a real emulator over loopback with
``default_latency_ms=L``; every cell writes its images and ledger row to a
temporary store, as on the page.

    python -m bench.bench_compare
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LATENCY_MS = 400
REPEATS = 7
TARGET_RATIO = 1.10


def _targets(k: int):
    from lib.compare import Target

    # Small pictures: this measures how the runner overlaps waiting, not how fast the emulator paints.
    pool = [
        Target("gpt-image-2 low", "openai", "gpt-image-2", {"size": "256x256", "quality": "low"}),
        Target("Karlo 256", "karlo", "karlo-v2.1", {"width": 256, "height": 256}),
        Target("gpt-image-2 medium", "openai", "gpt-image-2", {"size": "256x256", "quality": "medium"}),
        Target("Karlo 256 png", "karlo", "karlo-v2.1", {"width": 256, "height": 256, "image_format": "png"}),
    ]
    return pool[:k]


def _row(name: str, times_ms: list[float], latency_ms: float, target: str = "") -> dict:
    median = statistics.median(times_ms)
    return {"name": name, "median_ms": median, "min_ms": min(times_ms), "max_ms": max(times_ms),
            "ratio": median / latency_ms, "n": len(times_ms), "target": target}


def run(latency_ms: int = LATENCY_MS, repeats: int = REPEATS) -> list[dict]:
    os.environ["STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-compare-")
    from emulator import start_in_thread
    from lib.compare import run_compare
    from lib.config import ProviderConfig

    emulator = start_in_thread(default_latency_ms=latency_ms)
    configs = {
        "openai": ProviderConfig("openai", "live", emulator.openai_base_url, "sk-bench-0123456789", "environment"),
        "karlo": ProviderConfig("karlo", "live", emulator.karlo_base_url, "kakao-bench-0123456789", "environment"),
    }
    rows = []
    try:
        run_compare(configs, ["warm up"], _targets(4), timeout_s=60)  # imports, connections, first renders
        for k in (1, 2, 3, 4):
            times = []
            for i in range(repeats):
                started = time.perf_counter()
                result = run_compare(configs, [f"a lighthouse at dusk, take {i}"], _targets(k), timeout_s=60)
                times.append((time.perf_counter() - started) * 1000)
                failed = [c.error.message for c in result.cells if c.status != "ok"]
                if failed:
                    raise RuntimeError(f"a benchmark cell failed: {failed[0]}")
            rows.append(_row(f"compare of k={k} targets, each {latency_ms} ms (wall / L)", times, latency_ms,
                             f"<= {TARGET_RATIO:.2f}" if k > 1 else "reference: one target's own overhead"))
        # The seed's way for comparison: the same three targets one after the other.
        times = []
        for i in range(max(3, repeats // 2)):
            started = time.perf_counter()
            for target in _targets(3):
                run_compare(configs, [f"a lighthouse at dusk, seq {i}"], [target], timeout_s=60)
            times.append((time.perf_counter() - started) * 1000)
        rows.append(_row(f"sequential k=3, each {latency_ms} ms (wall / L)", times, latency_ms, "about k (reference)"))
    finally:
        emulator.stop()
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<58} median {row['median_ms']:8.1f} ms  min {row['min_ms']:8.1f}  "
              f"max {row['max_ms']:8.1f}  ratio {row['ratio']:.3f}  n={row['n']}  {row['target']}")
