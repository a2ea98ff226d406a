"""App overhead per generated 1024x1024 image against the emulator at zero latency.

    python bench/bench_generate.py [--n 20]

"call" is openai_images.generate end to end (emulator rendering + HTTP + our
decoding); "app overhead" is what the studio adds on top of the wire: base64
decode + reading the image header (timed separately on the same bytes) plus
record_call (store the PNG, make its thumbnail, price, commit the ledger row).
"""
from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator import start_in_thread  # noqa: E402
from lib.config import ProviderConfig  # noqa: E402
from lib.providers import openai_images  # noqa: E402
from lib.store import open_store, record_call  # noqa: E402
from lib.store.images import thumbnails_drawn  # noqa: E402

COMMAND = "python bench/bench_generate.py"


def _stats(name: str, samples_ms: list[float], **extra) -> dict:
    return {"name": name, "median_ms": statistics.median(samples_ms), "min_ms": min(samples_ms),
            "max_ms": max(samples_ms), "n": len(samples_ms), **extra}


def run(n: int = 20) -> list[dict]:
    emulator = start_in_thread(default_latency_ms=0)
    cfg = ProviderConfig("openai", "live", emulator.openai_base_url, "sk-bench-key-0123456789", "environment")
    call_ms, decode_ms, record_ms, overhead_cpu_ms = [], [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            open_store(data_dir)
            openai_images.generate(cfg, model="gpt-image-2", prompt="warm-up", size="1024x1024", quality="low")
            for i in range(n):
                started = time.perf_counter()
                result = openai_images.generate(cfg, model="gpt-image-2", prompt=f"a lighthouse, variant {i}",
                                                size="1024x1024", quality="low")
                call_ms.append((time.perf_counter() - started) * 1000)
                encoded = base64.b64encode(result.images[0].data).decode()
                started, started_cpu = time.perf_counter(), time.process_time()
                openai_images._decoded(openai_images._b64(encoded), "png")
                decode_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                record_call(page="bench", action="generate", cfg=cfg, result=result, prompt=f"variant {i}",
                            data_dir=data_dir)
                thumbnails_drawn()  # drawn just after the record, on the store's thumbnails thread: counted here
                record_ms.append((time.perf_counter() - started) * 1000)
                overhead_cpu_ms.append((time.process_time() - started_cpu) * 1000)  # on a busy machine: what an idle one waits, less the fsyncs
    finally:
        emulator.stop()
    overhead = [d + r for d, r in zip(decode_ms, record_ms)]
    call_median = statistics.median(call_ms)
    return [
        _stats("generate() 1024x1024 end to end (emulator, 0 ms latency)", call_ms),
        _stats("decode: base64 + image header", decode_ms),
        _stats("record_call: store + thumbnail + price + ledger row", record_ms),
        _stats(f"app overhead per image (decode + record_call) [CPU median {statistics.median(overhead_cpu_ms):.1f} ms]",
               overhead, ratio=statistics.median(overhead) / call_median,
               target="median <= 20 ms; ratio = overhead / end-to-end call"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("STUDIO_DEMO_LATENCY_MS", "0")
    for row in run(args.n):
        extra = f"  ratio {row['ratio']:.3f}" if "ratio" in row else ""
        print(f"{row['name']:<62} median {row['median_ms']:8.2f} ms  (min {row['min_ms']:.2f}, max {row['max_ms']:.2f}, n={row['n']}){extra}")
