"""Imaging at the decoder's speed: uploads normalised for a model and the paste-back, as ratios to the work
that cannot be avoided, measured in the same run.

    python -m bench.run_all imaging        (or: python -m bench.bench_imaging)

* normalise / plain decode of the same file (a 6000x4000 camera JPEG, and a noisier photo): target <= 1.5.
* paste-back: what it adds to decoding the edited result and encoding it again in the same format at the
  same size (the unavoidable part): target <= 50 %.

Each measurement and its baseline run alternately in one loop.  The work is single-threaded and CPU-bound, so
the ratios are taken from CPU-time medians (on a 2-CPU machine shared by several jobs the wall clock mostly
measures waiting for a CPU); the rows' median/min/max are wall-clock, and each name carries the wall ratio too.
"""
from __future__ import annotations

import io
import statistics
import time

import numpy as np
from PIL import Image

from lib import catalog
from lib.imaging import encode, forget_decoded, keep_outside_mask, normalise_for_edit, normalise_mask

REPEATS = 9
COMMAND = "python -m bench.run_all imaging"


def camera_jpeg(width: int = 6000, height: int = 4000, noise: float = 6.0, seed: int = 0) -> bytes:
    """Photo-like content (smooth gradients plus sensor noise), JPEG quality 90 as phones save it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 220], axis=-1)
    noisy = np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _paired(measure, baseline) -> tuple[list[float], list[float], list[float], list[float]]:
    """Wall and CPU milliseconds of ``measure`` and ``baseline``, run alternately REPEATS times."""
    walls, cpus, base_walls, base_cpus = [], [], [], []
    for _ in range(REPEATS):
        for fn, wall, cpu in ((baseline, base_walls, base_cpus), (measure, walls, cpus)):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
    return walls, cpus, base_walls, base_cpus


def _row(name: str, wall: list[float], cpu: list[float], **extra) -> dict:
    return {"name": f"{name} [CPU median {statistics.median(cpu):.0f} ms]", "median_ms": statistics.median(wall),
            "min_ms": min(wall), "max_ms": max(wall), "n": len(wall), **extra}


def _normalise_rows(label: str, photo: bytes, model: str) -> list[dict]:
    rules = catalog.image_model(model).input_rules
    sent = normalise_for_edit(photo, rules)
    walls, cpus, base_walls, base_cpus = _paired(lambda: normalise_for_edit(photo, rules), lambda: _decode(photo))
    wall_ratio = statistics.median(walls) / statistics.median(base_walls)
    cpu_ratio = statistics.median(cpus) / statistics.median(base_cpus)
    kind = sent.mime.split("/")[1].upper()
    return [
        _row(f"plain decode of {label} ({len(photo) / 1e6:.1f} MB): Image.open + load", base_walls, base_cpus),
        _row(f"normalise it for {model} -> {sent.width}x{sent.height} {kind} ({len(sent.data) / 1e6:.1f} MB); "
             f"ratio = normalise / decode, CPU medians (wall medians: {wall_ratio:.2f})", walls, cpus,
             ratio=cpu_ratio, target="<= 1.5"),
    ]


def _paste_back_rows(photo: bytes, fmt: str) -> list[dict]:
    """The model answered at the size it was sent (2048 px): paste the original back outside a mask there."""
    sent = normalise_for_edit(photo, catalog.image_model("gpt-image-2").input_rules)
    size = (sent.width, sent.height)
    mask_drawing = np.full((400, 600, 4), 255, np.uint8)
    mask_drawing[100:300, 200:400, 3] = 0
    mask = normalise_mask(encode(Image.fromarray(mask_drawing, "RGBA"), "PNG"), size, legacy=False).data
    edited_pixels = np.asarray(_decode(sent.data).convert("RGB")).copy()
    edited_pixels[size[1] // 4:size[1] * 3 // 4, size[0] // 3:size[0] * 2 // 3] //= 2  # the model's change
    buf = io.BytesIO()  # as the provider sends it: its own encoder settings
    Image.fromarray(edited_pixels).save(buf, format=fmt, **({"quality": 90} if fmt != "PNG" else {}))
    edited = buf.getvalue()

    def unavoidable() -> None:
        encode(_decode(edited), fmt)

    def cold() -> None:  # another session's pictures pushed this one's pixels out: decode the original and mask
        forget_decoded()
        keep_outside_mask(sent.data, edited, mask)

    rows = []
    for how, paste_back, target in (
        ("the page's original and mask still remembered (the usual case)",
         lambda: keep_outside_mask(sent.data, edited, mask), "<= 0.50"),
        ("decoding the original and mask again", cold, ""),
    ):
        normalise_for_edit(photo, catalog.image_model("gpt-image-2").input_rules)  # remembered again
        normalise_mask(encode(Image.fromarray(mask_drawing, "RGBA"), "PNG"), size, legacy=False)
        walls, cpus, base_walls, base_cpus = _paired(paste_back, unavoidable)
        wall_added = statistics.median(walls) / statistics.median(base_walls) - 1
        cpu_added = statistics.median(cpus) / statistics.median(base_cpus) - 1
        if not rows:
            rows.append(_row(f"unavoidable: decode a {size[0]}x{size[1]} {fmt} edit and encode it again as {fmt}",
                             base_walls, base_cpus))
        rows.append(_row(f"keep_outside_mask {size[0]}x{size[1]} {fmt}, {how}; ratio = what it adds to the "
                         f"unavoidable part, CPU medians (wall medians: {wall_added:+.2f})", walls, cpus,
                         ratio=cpu_added, target=target))
    return rows


def run() -> list[dict]:
    camera = camera_jpeg()
    noisier = camera_jpeg(noise=24.0, seed=1)
    rows = [
        *_normalise_rows("a 6000x4000 camera JPEG", camera, "gpt-image-2"),
        *_normalise_rows("a noisier 6000x4000 photo", noisier, "gpt-image-2"),
        *[{**row, "target": ""} for row in _normalise_rows("the camera JPEG", camera, "dall-e-2")[1:]],
        *_paste_back_rows(camera, "PNG"),
        *_paste_back_rows(camera, "JPEG"),
    ]
    return rows


if __name__ == "__main__":
    print(f"$ {COMMAND}")
    for row in run():
        extra = f"  ratio {row['ratio']:.2f} (target {row['target']})" if "ratio" in row else ""
        print(f"{row['name']}: wall median {row['median_ms']:.0f} ms (min {row['min_ms']:.0f}, max {row['max_ms']:.0f}, "
              f"n={row['n']}){extra}")
