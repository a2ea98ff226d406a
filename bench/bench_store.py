"""Per-call overhead of the image store + ledger (record_call) for a 1024x1024 PNG.

    python bench/bench_store.py [--n 40]

Prints median/min/max milliseconds per step.  ``run()`` returns the same rows
for an all-benchmarks runner.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from lib.config import ProviderConfig  # noqa: E402
from lib.store import open_store, record_call  # noqa: E402
from lib.store.images import thumbnails_drawn  # noqa: E402
from lib.store.ledger import LedgerRow, new_id, utc_now  # noqa: E402
from lib.types import ChatTurn, GeneratedImage, ImageResult, Usage  # noqa: E402

COMMAND = "python bench/bench_store.py"


def _pngs(n: int) -> list[bytes]:
    """``n`` different 1024x1024 PNGs that compress like a picture, not like a flat colour (~1-2 MB each)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1024, 0:1024]
    base = np.stack([(x // 4) % 256, (y // 4) % 256, ((x + y) // 8) % 256], axis=-1).astype(np.int16)
    out = []
    for i in range(n):
        noise = rng.integers(-12, 13, size=base.shape, dtype=np.int16)
        pixels = np.clip(base + noise + i, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def _stats(name: str, samples_s: list[float], **extra) -> dict:
    ms = [s * 1000 for s in samples_s]
    return {"name": name, "median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "n": len(ms), **extra}


def run(n: int = 30) -> list[dict]:
    both = _pngs(2 * n)
    images, fresh = both[:n], both[n:]  # fresh: new bytes, so record_call really writes the file and thumbnail
    cfg = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", "sk-bench-key-0123456789", "environment")
    with tempfile.TemporaryDirectory() as tmp:
        store, ledger = open_store(Path(tmp) / "data")

        put_s, put_cpu_s = [], []
        for data in images:
            t0, c0 = time.perf_counter(), time.process_time()
            store.put(data)
            thumbnails_drawn()  # drawn just after the put, on the store's thumbnails thread: counted here
            put_s.append(time.perf_counter() - t0)
            put_cpu_s.append(time.process_time() - c0)  # on a busy machine: what an idle one waits, less the fsyncs

        insert_s = []
        for i in range(n):
            row = LedgerRow(id=new_id(), created_at=utc_now(), page="bench", action="generate", provider="openai",
                            backend="live", model="gpt-image-2", prompt=f"bench {i}", params={"size": "1024x1024"})
            t0 = time.perf_counter()
            ledger.insert(row)
            insert_s.append(time.perf_counter() - t0)

        record_call("bench", "warm-up", cfg, ChatTurn("gpt-4o-mini", "", Usage(1, 1)), data_dir=Path(tmp) / "data")  # loads genai-prices' data once
        record_s, record_cpu_s = [], []
        for i, data in enumerate(fresh):
            result = ImageResult("openai", "gpt-image-2", "/v1/images/generations", [GeneratedImage(data)],
                                 params={"size": "1024x1024", "quality": "medium"}, usage=Usage(50, 1056))
            t0, c0 = time.perf_counter(), time.process_time()
            record_call("bench", "generate", cfg, result, prompt=f"bench {i}", data_dir=Path(tmp) / "data")
            thumbnails_drawn()
            record_s.append(time.perf_counter() - t0)
            record_cpu_s.append(time.process_time() - c0)

        again_s = []
        for i, data in enumerate(fresh):
            result = ImageResult("openai", "gpt-image-2", "/v1/images/generations", [GeneratedImage(data)], usage=Usage(50, 1056))
            t0 = time.perf_counter()
            record_call("bench", "generate", cfg, result, prompt=f"again {i}", data_dir=Path(tmp) / "data")
            again_s.append(time.perf_counter() - t0)
        ledger.close()

    size_mb = statistics.median(len(d) for d in fresh) / 1e6
    cpu = {name: statistics.median(samples) * 1000 for name, samples in (("put", put_cpu_s), ("record", record_cpu_s))}
    record = _stats(f"record_call, new 1024x1024 PNG ({size_mb:.1f} MB): store + thumbnail + price + row "
                    f"[CPU median {cpu['record']:.1f} ms]", record_s)
    return [
        _stats(f"store.put, new 1024x1024 PNG ({size_mb:.1f} MB, hash + fsync'd write + thumbnail) "
               f"[CPU median {cpu['put']:.1f} ms]", put_s),
        _stats("ledger.insert (one row, WAL commit)", insert_s),
        record,
        _stats("record_call, same PNG again (already stored)", again_s, ratio=statistics.median(again_s) * 1000 / record["median_ms"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="runs per measurement")
    args = parser.parse_args()
    print(f"$ {COMMAND}" + (f" --n {args.n}" if args.n != 30 else ""))
    for row in run(args.n):
        ratio = f"  ratio {row['ratio']:.2f}" if "ratio" in row else ""
        print(f"{row['name']:<85} median {row['median_ms']:7.2f} ms  min {row['min_ms']:7.2f}  max {row['max_ms']:7.2f}  n={row['n']}{ratio}")


if __name__ == "__main__":
    main()
