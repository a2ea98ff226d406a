"""Small helpers for the emulator tests: test pictures, decoding, similarity."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    pic = Image.open(io.BytesIO(data))
    pic.load()
    return pic


def photo(width: int, height: int, seed: int) -> np.ndarray:
    """A busy, photo-like RGB test image: smooth colour fields plus texture, different per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        fx, fy, ph = rng.uniform(1, 6, 2).tolist() + [rng.uniform(0, 6.3)]
        channels.append(np.sin(x / width * fx * 6.28 + ph) * np.cos(y / height * fy * 6.28))
    arr = (np.stack(channels, -1) * 0.4 + 0.5) + rng.normal(0, 0.03, (height, width, 3))
    return (np.clip(arr, 0, 1) * 255).astype(np.uint8)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a[..., :3].astype(np.float64).ravel()
    b = b[..., :3].astype(np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])
