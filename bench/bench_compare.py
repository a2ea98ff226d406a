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

LATENCIES_MS = (400, 2000)  # the example, and nearer a real image call (which takes 10-60 s)
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


def _measure(latencies_ms: tuple[int, ...], repeats: int) -> list[dict]:
    from emulator import start_in_thread
    from lib.compare import run_compare
    from lib.config import ProviderConfig

    rows = []
    for latency_ms in latencies_ms:
        emulator = start_in_thread(default_latency_ms=latency_ms)
        configs = {
            "openai": ProviderConfig("openai", "live", emulator.openai_base_url, "sk-bench-0123456789", "environment"),
            "karlo": ProviderConfig("karlo", "live", emulator.karlo_base_url, "kakao-bench-0123456789", "environment"),
        }

        def wall_ms(prompt: str, targets) -> float:
            started = time.perf_counter()
            result = run_compare(configs, [prompt], targets, timeout_s=60)
            elapsed = (time.perf_counter() - started) * 1000
            failed = [c.error.message for c in result.cells if c.status != "ok"]
            if failed:
                raise RuntimeError(f"a benchmark cell failed: {failed[0]}")
            return elapsed

        try:
            wall_ms("warm up", _targets(4))  # imports, connections, first renders
            for k in (1, 2, 3, 4):
                times = [wall_ms(f"a lighthouse at dusk, take {i}", _targets(k)) for i in range(repeats)]
                rows.append(_row(f"compare k={k}, L={latency_ms} ms (wall / L)", times, latency_ms,
                                 f"<= {TARGET_RATIO:.2f}" if k > 1 else "one target's own overhead"))
            if latency_ms == latencies_ms[0]:  # the seed's way, for reference: the same three one after another
                times = [sum(wall_ms(f"a lighthouse at dusk, seq {i}", [t]) for t in _targets(3))
                         for i in range(max(3, repeats // 2))]
                rows.append(_row(f"sequential k=3, L={latency_ms} ms (wall / L)", times, latency_ms, "about k"))
        finally:
            emulator.stop()
    return rows


def run(latencies_ms: tuple[int, ...] = LATENCIES_MS, repeats: int = REPEATS) -> list[dict]:
    """Rows {name, median_ms, min_ms, max_ms, ratio, n, target}; ratio = median wall time / L."""
    os.environ["STUDIO_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-compare-")
    return _measure(latencies_ms, repeats)


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<42} median {row['median_ms']:8.1f} ms  min {row['min_ms']:8.1f}  "
              f"max {row['max_ms']:8.1f}  ratio {row['ratio']:.3f}  n={row['n']}  {row['target']}")
