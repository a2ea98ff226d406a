"""How long preparing uploads takes: a 6000x4000 camera JPEG normalised for edit (GPT and dall-e-2), a mask, a paste-back.

    python -m bench.run_all imaging
"""
from __future__ import annotations

import io
import statistics
import time

import numpy as np
from PIL import Image

from lib.imaging import keep_outside_mask, normalise_for_edit, normalise_mask

REPEATS = 5


def camera_jpeg(width: int = 6000, height: int = 4000) -> bytes:
    """Photo-like content (smooth gradients plus sensor noise), JPEG quality 90 as phones save it."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 220], axis=-1)
    noisy = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _time(fn) -> dict:
    """Wall-clock times, plus the median CPU time: on a busy machine the CPU time is what an idle one would wait."""
    times, cpu = [], []
    for _ in range(REPEATS):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times), "n": REPEATS,
            "cpu_median_ms": statistics.median(cpu)}


def run() -> list[dict]:
    photo = camera_jpeg()
    prepared = normalise_for_edit(photo, legacy=False)
    size = (prepared.width, prepared.height)
    mask = np.full((400, 600, 4), 255, np.uint8)
    mask[100:300, 200:400, 3] = 0
    buf = io.BytesIO()
    Image.fromarray(mask, "RGBA").save(buf, format="PNG")
    small_mask = buf.getvalue()
    ready_mask = normalise_mask(small_mask, size, legacy=False).png_bytes
    square = np.random.default_rng(1).integers(0, 256, (1024, 1024, 4), dtype=np.uint8)
    square[..., 3] = 255
    edited = io.BytesIO()
    Image.fromarray(square, "RGBA").save(edited, format="PNG")
    original_1024 = normalise_for_edit(photo, legacy=True).png_bytes
    mask_1024 = normalise_mask(small_mask, (1024, 1024), legacy=True).png_bytes
    rows = [
        {"name": f"normalise 6000x4000 JPEG ({len(photo) / 1e6:.1f} MB) for GPT edit -> {size[0]}x{size[1]} PNG "
                 f"({len(prepared.png_bytes) / 1e6:.1f} MB)", **_time(lambda: normalise_for_edit(photo, legacy=False))},
        {"name": "normalise 6000x4000 JPEG for dall-e-2 (square crop, 1024 px)", **_time(lambda: normalise_for_edit(photo, legacy=True))},
        {"name": f"normalise a 600x400 mask to {size[0]}x{size[1]}", **_time(lambda: normalise_mask(small_mask, size, legacy=False))},
        {"name": "keep_outside_mask 1024x1024", **_time(lambda: keep_outside_mask(original_1024, edited.getvalue(), mask_1024))},
        {"name": f"keep_outside_mask {size[0]}x{size[1]} (edit resized up)",
         **_time(lambda: keep_outside_mask(prepared.png_bytes, edited.getvalue(), ready_mask))},
    ]
    for row in rows:  # the table in docs/benchmarks.md has no CPU column: carry it in the name
        row["name"] += f" [CPU median {row['cpu_median_ms']:.0f} ms]"
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']}: wall median {row['median_ms']:.0f} ms (min {row['min_ms']:.0f}, max {row['max_ms']:.0f}, "
              f"n={row['n']})")
