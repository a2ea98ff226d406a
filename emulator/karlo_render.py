"""Karlo's look in the emulator: deterministic stained-glass mosaics drawn with numpy and Pillow.

Every picture is a Voronoi mosaic with dark grout lines, faint diagonal brush
stripes and a small orange corner stamp (the real Karlo watermarks its images).
The prompt picks the palette, the seed picks the layout, so the same prompt and
seed give the same bytes and a new seed gives a new picture in the same colours.
This module knows nothing about HTTP; ``emulator.karlo_api`` calls it.
"""
from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image

FORMATS = {"webp": ("WEBP", "image/webp"), "jpeg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png")}
_GROUT = np.array([38, 30, 26], dtype=np.float32)  # warm near-black between the tiles
_STAMP = np.array([255, 138, 0], dtype=np.uint8)  # the corner stamp's orange
_MAX_WORK_SIDE = 640  # larger pictures are drawn at this size and resized, so 8 × 1280² stays quick


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def palette(prompt: str, negative_prompt: str | None = None) -> np.ndarray:
    """Five colours (float RGB) that belong to this prompt: a base hue and its neighbours."""
    rng = _rng("palette", prompt.strip().lower(), (negative_prompt or "").strip().lower())
    base = rng.uniform(0, 1)
    hues = (base + np.array([0.0, 0.08, -0.08, 0.5, 0.16])) % 1.0
    sats = rng.uniform(0.45, 0.85, 5)
    vals = rng.uniform(0.55, 0.95, 5)
    return np.stack([_hsv_to_rgb(h, s, v) for h, s, v in zip(hues, sats, vals)]).astype(np.float32)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array([r, g, b]) * 255


def _cells(width: int, height: int, rng: np.random.Generator, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi labels (H×W) for ``n_cells`` random sites, and a mask of the borders between cells."""
    ys = rng.uniform(0, height, n_cells).astype(np.float32)
    xs = rng.uniform(0, width, n_cells).astype(np.float32)
    dy = (np.arange(height, dtype=np.float32)[:, None] - ys[None, :]) ** 2  # (H, n_cells)
    dx = (np.arange(width, dtype=np.float32)[:, None] - xs[None, :]) ** 2  # (W, n_cells)
    labels = np.empty((height, width), dtype=np.int32)
    # A few big numpy calls (a band of rows at a time, ~8 MB each), not four small ones per cell: the emulator
    # shares a process with the app, and each small call gives up the GIL and may wait ~5 ms to get it back.
    # argmin keeps the first nearest site, so the labels (and pictures) are those of a loop over the sites.
    rows = max(1, (1 << 21) // (n_cells * width))
    for top in range(0, height, rows):
        labels[top:top + rows] = (dy[top:top + rows, None, :] + dx[None, :, :]).argmin(axis=-1)
    border = np.zeros((height, width), dtype=bool)
    border[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    border[1:, :] |= labels[1:, :] != labels[:-1, :]
    return labels, border


def _finish(pixels: np.ndarray, border: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grout lines and diagonal brush stripes: what makes a picture look like Karlo's here."""
    h, w, _ = pixels.shape
    angle = rng.uniform(0.6, 1.0)
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    stripes = 0.5 + 0.5 * np.sin((xx * angle + yy) / max(3.0, w / 90))
    pixels = pixels * (0.9 + 0.1 * stripes[..., None])
    pixels[border] = _GROUT
    return pixels


def _stamp(img: Image.Image) -> Image.Image:
    """A small orange bar in the bottom-right corner, like a watermark."""
    w, h = img.size
    bw, bh = max(4, w // 12), max(2, h // 48)
    arr = np.array(img)
    arr[h - 2 * bh : h - bh, w - bw - bh : w - bh] = _STAMP
    return Image.fromarray(arr)


def mosaic(prompt: str, seed: int, width: int, height: int, *, negative_prompt: str | None = None,
           steps: int = 50, guidance: float = 5.0, scheduler: str = "") -> Image.Image:
    """A new picture for ``prompt`` and ``seed``; more steps give finer tiles, more guidance more contrast."""
    scale = min(1.0, _MAX_WORK_SIDE / max(width, height))
    ww, wh = max(8, round(width * scale)), max(8, round(height * scale))
    rng = _rng("layout", prompt.strip().lower(), negative_prompt or "", seed, steps, scheduler)
    n_cells = 16 + steps // 2
    labels, border = _cells(ww, wh, rng, n_cells)
    colours = palette(prompt, negative_prompt)[rng.integers(0, 5, n_cells)]
    colours = colours * rng.uniform(0.8, 1.1, (n_cells, 1)).astype(np.float32)
    # A vertical light falloff gives every picture a "sky" and a "ground".
    light = np.linspace(1.08, 0.78, wh, dtype=np.float32)[:, None, None]
    pixels = colours[labels] * light
    mean = pixels.mean(axis=(0, 1), keepdims=True)
    pixels = mean + (pixels - mean) * (0.7 + guidance / 20)
    pixels = _finish(pixels, border, rng)
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    if (ww, wh) != (width, height):
        img = img.resize((width, height), Image.Resampling.BICUBIC)
    return _stamp(img)


def variation(source: Image.Image, seed: int, width: int, height: int, *, prompt: str | None = None,
              steps: int = 50, guidance: float = 5.0) -> Image.Image:
    """The source re-laid as mosaic tiles: each tile takes the source's average colour under it."""
    scale = min(1.0, _MAX_WORK_SIDE / max(width, height))
    ww, wh = max(8, round(width * scale)), max(8, round(height * scale))
    src = np.asarray(source.convert("RGB").resize((ww, wh), Image.Resampling.BICUBIC), dtype=np.float32)
    rng = _rng("variation", seed, prompt or "", steps)
    n_cells = 60 + steps * 3
    labels, border = _cells(ww, wh, rng, n_cells)
    flat = labels.ravel()
    counts = np.maximum(np.bincount(flat, minlength=n_cells), 1)[:, None]
    sums = np.stack([np.bincount(flat, weights=src[..., c].ravel(), minlength=n_cells) for c in range(3)], axis=1)
    colours = (sums / counts).astype(np.float32)
    if prompt:  # a prompt tints the variation towards its palette
        colours = 0.8 * colours + 0.2 * palette(prompt)[rng.integers(0, 5, n_cells)]
    colours = colours * rng.uniform(0.92, 1.08, (n_cells, 1)).astype(np.float32) * (0.95 + guidance / 200)
    pixels = _finish(colours[labels], border, rng)
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    if (ww, wh) != (width, height):
        img = img.resize((width, height), Image.Resampling.BICUBIC)
    return _stamp(img)


def inpaint(source: Image.Image, edit_area: np.ndarray, prompt: str, seed: int, *,
            negative_prompt: str | None = None, steps: int = 50, guidance: float = 5.0) -> Image.Image:
    """The source with a new mosaic painted only where ``edit_area`` (H×W bool) is true."""
    src = source.convert("RGB")
    fresh = mosaic(prompt, seed, src.width, src.height, negative_prompt=negative_prompt, steps=steps, guidance=guidance)
    out = np.array(src)
    out[edit_area] = np.asarray(fresh)[edit_area]
    return Image.fromarray(out, "RGB")


def upscale(source: Image.Image, scale: int) -> Image.Image:
    """A real Lanczos resample to ``scale`` × the size."""
    img = source.convert("RGB")
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.LANCZOS)


def nsfw_score(img: Image.Image) -> float:
    """A stand-in for the NSFW classifier: the share of skin-coloured pixels, scaled to 0..1."""
    small = np.asarray(img.convert("RGB").resize((64, 64)), dtype=np.int32)
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    skin = (r > 95) & (g > 40) & (b > 20) & (r > g + 15) & (r > b) & (np.abs(r - g) > 15)
    return round(float(min(1.0, skin.mean() * 1.25)), 4)


def encode(img: Image.Image, image_format: str, quality: int) -> tuple[bytes, str]:
    """Bytes and MIME type in the asked-for format (PNG ignores ``quality``, as Karlo's does)."""
    fmt, mime = FORMATS[image_format]
    buf = io.BytesIO()
    # Fast encoder settings: the emulator should answer in a blink, not win on size.
    if fmt == "PNG":
        img.save(buf, fmt, compress_level=1)
    elif fmt == "WEBP":
        img.save(buf, fmt, quality=int(quality), method=2)
    else:
        img.save(buf, fmt, quality=int(quality))
    return buf.getvalue(), mime
