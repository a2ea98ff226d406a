"""Shared pieces for the Edit page tests: a picture, a mask with a hole, the page opened in demo mode."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
W, H = 400, 300
HOLE = (slice(100, 200), slice(100, 300))  # rows, columns of the area to edit


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def photo() -> bytes:
    """An RGBA PNG, so what was uploaded is exactly what is sent (no conversion to compare against)."""
    arr = np.random.default_rng(5).integers(0, 256, (H, W, 4), dtype=np.uint8)
    arr[..., 3] = 255
    return png(Image.fromarray(arr, "RGBA"))


def hole_mask() -> bytes:
    arr = np.full((H, W, 4), 255, np.uint8)
    arr[HOLE + (3,)] = 0
    return png(Image.fromarray(arr, "RGBA"))


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def open_edit_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/edit.py").run()
    assert not at.exception, at.exception
    return at


def ledger():
    from lib.store import open_store

    return open_store()
