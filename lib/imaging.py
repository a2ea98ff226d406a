"""Turn whatever a person uploads into what the OpenAI image API accepts, and say what was fixed.

Every function takes and returns plain bytes (PNG out), so pages, providers and
tests can use it without Streamlit.  Each fix becomes one sentence in
``Normalised.fixes``; anything we refuse raises ``lib.errors.InvalidInput``
with a message that says what to do instead.

The mask convention, written down once (``MASK_CONVENTION``): the API edits the
**transparent** pixels of the mask and keeps the opaque ones.  A mask without
any transparency (a black-and-white drawing, a JPEG) is read from its
brightness, as if brightness were opacity: **black = edit, white = keep**.
"""
from __future__ import annotations

import io
import math
import struct
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lib.errors import InvalidInput

MASK_CONVENTION = "transparent = edit, opaque = keep; a mask without transparency is read from its brightness: black = edit, white = keep"

# "Under 4 MB" / "under 50 MB" in OpenAI's docs; decimal megabytes keep us under either reading.
LEGACY_MAX_BYTES = 4_000_000  # dall-e-2 images, and every mask
GPT_MAX_BYTES = 50_000_000  # each GPT image input
MASK_MAX_BYTES = LEGACY_MAX_BYTES

# Larger than any photo a camera makes (about 12 000 x 12 000), small enough to decode in memory.
# Pillow's own guard (MAX_IMAGE_PIXELS, a process-wide setting) is left alone; we check ours here.
MAX_SOURCE_PIXELS = 150_000_000
MIN_SIDE = 64  # below this there is nothing for the model to work with
# GPT image models output at most 3840 px on a side; bigger inputs only slow the upload.
GPT_MAX_SIDE = 4096
LEGACY_MAX_SIDE = 1024  # dall-e-2's largest size

# A mask pixel with alpha below this counts as "edit" (the API edits only alpha 0; we make masks binary).
_EDIT_ALPHA_BELOW = 128
_PNG_COMPRESS_LEVEL = 1  # ~5% larger than the default 6, about 4x faster on photos

_MODE_NAMES = {
    "1": "black-and-white",
    "L": "greyscale",
    "LA": "greyscale with transparency",
    "P": "palette colours",
    "PA": "palette colours with transparency",
    "RGB": "RGB",
    "RGBA": "RGBA",
    "CMYK": "CMYK colour",
    "YCbCr": "YCbCr colour",
    "LAB": "Lab colour",
    "HSV": "HSV colour",
    "I": "32-bit greyscale",
    "I;16": "16-bit greyscale",
    "I;16B": "16-bit greyscale",
    "I;16L": "16-bit greyscale",
    "F": "floating-point greyscale",
}
_ORIENTATION_WORDS = {
    2: "mirrored",
    3: "rotated 180°",
    4: "flipped upside down",
    5: "mirrored and rotated",
    6: "rotated 90°",
    7: "mirrored and rotated",
    8: "rotated 270°",
}
_FORMAT_NAMES = {"MPO": "JPEG"}  # what a person calls the file, not Pillow's plugin name
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}


@dataclass
class Normalised:
    """An image (or mask) ready to send, and what was done to it."""

    png_bytes: bytes
    width: int
    height: int
    fixes: list[str] = field(default_factory=list)  # one readable sentence per change
    warnings: list[str] = field(default_factory=list)  # things to look at before sending
    coverage: float | None = None  # masks only: share of pixels the model may edit

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


# --------------------------------------------------------------------------- reading


def _label(filename: str | None, what: str) -> str:
    return f"“{filename}”" if filename else f"The {what}"


def _unreadable_message(data: bytes, label: str) -> str:
    head = data[:64]
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return (
            f"{label} is a HEIC/HEIF photo, which this app cannot read. Export it as JPEG or PNG "
            "(on an iPhone: Settings › Camera › Formats › Most Compatible) and upload that."
        )
    if head.lstrip().startswith((b"<svg", b"<?xml")):
        return f"{label} is an SVG drawing, not a pixel image. Export it as PNG and upload that."
    try:
        head.decode("utf-8")
        looks_like_text = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
    except UnicodeDecodeError:
        looks_like_text = False
    if looks_like_text:
        return f"{label} contains text, not an image (whatever its name says). Upload a PNG, JPEG or WebP file."
    return f"{label} is not an image format this app can read. Upload a PNG, JPEG or WebP file."


def _open(
    data: bytes,
    *,
    what: str,
    filename: str | None,
    fixes: list[str],
    min_side: int = 1,
    max_side: int | None = None,
    square: bool = False,
) -> tuple[Image.Image, tuple[int, int]]:
    """Decode the first frame (and its size in the file), refusing empty, unreadable, cut-off, tiny and huge files.

    With ``max_side``, a big JPEG is decoded at a reduced scale (1/2, 1/4, 1/8),
    still at least ``max_side`` on its long side (on its short side when it will
    be cropped ``square``): most of the time saved on a camera photo.
    """
    label = _label(filename, what)
    if not data:
        raise InvalidInput(f"{label} is empty (0 bytes). Upload the file again.", param=what)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked below
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise InvalidInput(
                f"{label} claims to be more than {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels, "
                f"far beyond the {MAX_SOURCE_PIXELS / 1e6:.0f}-megapixel limit. Resize it before uploading.",
                param=what,
            ) from None
        except UnidentifiedImageError:
            raise InvalidInput(_unreadable_message(data, label), param=what) from None
        except (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error):
            raise InvalidInput(f"{label} is damaged and cannot be read. Upload the original file again.", param=what) from None
    width, height = img.size
    if width * height > MAX_SOURCE_PIXELS:
        raise InvalidInput(
            f"{label} is {width}×{height} px ({width * height / 1e6:.0f} megapixels); the limit is "
            f"{MAX_SOURCE_PIXELS / 1e6:.0f} megapixels. Resize it before uploading.",
            param=what,
        )
    if min(width, height) < min_side:
        raise InvalidInput(
            f"{label} is only {width}×{height} px. Use an image at least {min_side} px on each side.", param=what
        )
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        img.seek(0)
        if img.format == "TIFF":
            fixes.append(f"{label} has {frames} pages: used the first.")
        elif img.format != "MPO":  # a phone's MPO is one photo plus previews: nothing worth saying
            fixes.append(f"{label} is animated ({frames} frames): used the first frame.")
    if ";16" in _source_rawmode(img) and img.mode in ("RGB", "RGBA", "LA"):  # Pillow reads these as 8-bit
        fixes.append("Reduced 16-bit colour depth to 8-bit.")
    kept_side = min(width, height) if square else max(width, height)
    if max_side and img.format in ("JPEG", "MPO") and kept_side > 2 * max_side:
        scale = max_side / kept_side
        img.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except Image.DecompressionBombError:
        raise InvalidInput(f"{label} unpacks to far more pixels than it claims. Resize it before uploading.", param=what) from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, IndexError):
        raise InvalidInput(
            f"{label} looks cut off or damaged (the image data ends early or is corrupt). Upload the original file again.",
            param=what,
        ) from None
    return img, (width, height)


def _apply_exif_orientation(img: Image.Image, label: str, fixes: list[str]) -> Image.Image:
    orientation = img.getexif().get(0x0112)
    if orientation in _ORIENTATION_WORDS:
        img = ImageOps.exif_transpose(img)
        fixes.append(f"{label} was stored {_ORIENTATION_WORDS[orientation]}: turned it upright as its EXIF orientation says.")
    return img


def _source_rawmode(img: Image.Image) -> str:
    tile = getattr(img, "tile", None) or []
    args = tile[0].args if tile else None
    return args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else "")


def _to_8bit(img: Image.Image, fixes: list[str]) -> Image.Image:
    """Any Pillow mode → L, LA, RGB or RGBA, keeping transparency and scaling 16-bit values (not clipping)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 or mode.startswith("I;16") else 255.0
        if mode == "F":
            top = max(float(values.max(initial=0)), 1.0)
        fixes.append("Reduced 16-bit colour depth to 8-bit.")
        return Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if mode in ("L", "LA", "RGB", "RGBA"):
        return img
    if mode == "1":
        return img.convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        return img.convert("RGBA" if has_alpha else "RGB")
    if mode == "CMYK":
        return img.convert("RGB")
    return img.convert("RGBA" if "A" in mode else "RGB")


def _encode_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _centre_square(size: tuple[int, int]) -> tuple[int, int, int, int]:
    width, height = size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


# --------------------------------------------------------------------------- images


def normalise_for_edit(data: bytes, *, legacy: bool, filename: str | None = None) -> Normalised:
    """An RGBA PNG the edits (or legacy variations) endpoint accepts, with every change listed.

    ``legacy=True`` is the dall-e-2 contract: a square PNG under 4 MB.  We crop
    the centre square (padding would add transparent borders, which dall-e-2
    reads as "edit here") and keep at most 1024 px.  GPT image models take any
    shape under 50 MB; we keep at most 4096 px on the long side.
    """
    fixes: list[str] = []
    label = _label(filename, "image")
    max_side = LEGACY_MAX_SIDE if legacy else GPT_MAX_SIDE
    img, source_size = _open(
        data, what="image", filename=filename, fixes=fixes, min_side=MIN_SIDE, max_side=max_side, square=legacy
    )
    source_format, source_mode = _FORMAT_NAMES.get(img.format, img.format or "image"), img.mode
    # A big JPEG may have been decoded at 1/2..1/8 scale; messages speak in the file's own pixels.
    scale = max(source_size) / max(img.size)

    def in_source_px(width: int, height: int) -> str:
        return f"{round(width * scale)}×{round(height * scale)}"

    img = _apply_exif_orientation(img, label, fixes)
    img = _to_8bit(img, fixes)

    if legacy and img.width != img.height:
        box = _centre_square(img.size)
        side = box[2] - box[0]
        fixes.append(
            f"Cropped the centre {in_source_px(side, side)} square out of {in_source_px(*img.size)}: "
            "dall-e-2 takes square images only."
        )
        img = img.crop(box)

    target = _fit(img.size, max_side)
    if target != img.size or scale != 1:
        fixes.append(
            f"Downscaled from {in_source_px(*img.size)} to {target[0]}×{target[1]} px "
            f"({'dall-e-2 works at 1024 px at most' if legacy else 'larger inputs only slow the upload'})."
        )
        img = img.resize(target, Image.Resampling.LANCZOS, reducing_gap=1.4)  # box-reduce first: 3x faster at 12k px

    if img.mode != "RGBA":
        img = img.convert("RGBA")
    if source_format != "PNG" or source_mode != "RGBA":
        fixes.append(f"Converted {source_format} ({_MODE_NAMES.get(source_mode, source_mode)}) to an RGBA PNG.")

    limit = LEGACY_MAX_BYTES if legacy else GPT_MAX_BYTES
    png = _encode_png(img)
    if len(png) > limit:
        before = (img.width, img.height, len(png))
        while len(png) > limit:
            img = img.resize(_fit(img.size, int(max(img.size) * 0.8)), Image.Resampling.LANCZOS)
            png = _encode_png(img)
        fixes.append(
            f"Downscaled from {before[0]}×{before[1]} to {img.width}×{img.height} px to get under the "
            f"{_mb(limit)} limit (the PNG was {_mb(before[2])}, now {_mb(len(png))})."
        )
    return Normalised(png, img.width, img.height, fixes)


# --------------------------------------------------------------------------- masks


def _as_image(source: bytes | Image.Image | np.ndarray) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return Image.fromarray(source)
    return Image.open(io.BytesIO(source))


def _edit_area(mask: bytes | Image.Image | np.ndarray) -> np.ndarray:
    """Boolean array, True where the mask says "edit" (transparent)."""
    img = _as_image(mask)
    if img.mode != "RGBA":
        img = img.convert("RGBA")
    return np.asarray(img.getchannel("A")) < _EDIT_ALPHA_BELOW


def _mask_png(edit: np.ndarray) -> bytes:
    """A binary RGBA mask: transparent where ``edit`` is True, opaque white elsewhere."""
    rgba = np.full(edit.shape + (4,), 255, dtype=np.uint8)
    rgba[..., 3] = np.where(edit, 0, 255)
    return _encode_png(Image.fromarray(rgba, "RGBA"))


def mask_coverage(mask: bytes | Image.Image | np.ndarray) -> float:
    """Share of pixels (0..1) the mask lets the model edit."""
    edit = _edit_area(mask)
    return float(edit.mean()) if edit.size else 0.0


def mask_warning(coverage: float) -> str | None:
    """What to tell a person before sending a mask that edits nothing or everything."""
    if coverage <= 0.0:
        return (
            "The mask is fully opaque, so nothing would be edited. Paint the area to change, "
            "or upload a mask where that area is transparent (or black)."
        )
    if coverage >= 1.0:
        return "The mask is fully transparent, so the whole image would be edited, the same as sending no mask."
    return None


def normalise_mask(mask_bytes: bytes, image_size: tuple[int, int], *, legacy: bool, filename: str | None = None) -> Normalised:
    """A binary RGBA mask PNG the size of the (already normalised) image, with every change listed.

    ``image_size`` is the size of the normalised image.  For the legacy contract
    a non-square mask is centre-cropped exactly like its image was.
    """
    fixes: list[str] = []
    label = _label(filename, "mask")
    img, _ = _open(mask_bytes, what="mask", filename=filename, fixes=fixes)
    img = _apply_exif_orientation(img, label, fixes)
    img = _to_8bit(img, fixes)
    if img.mode in ("RGB", "L") and "transparency" in img.info:
        img = img.convert("RGBA")

    alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
    if alpha is None or alpha.getextrema() == (255, 255):
        luminance = img.convert("L")
        lo, hi = luminance.getextrema()
        if alpha is None or lo != hi:  # an opaque mask with a drawing on it: read the drawing
            fixes.append(f"{label} has no transparency, so it was read from its brightness: black = edit, white = keep.")
            alpha = luminance

    if legacy and image_size[0] == image_size[1] and alpha.width != alpha.height:
        box = _centre_square(alpha.size)
        fixes.append("Cropped the mask's centre square, as its image was cropped for dall-e-2.")
        alpha = alpha.crop(box)

    if alpha.size != tuple(image_size):
        source_ratio, target_ratio = alpha.width / alpha.height, image_size[0] / image_size[1]
        stretched = abs(source_ratio / target_ratio - 1) > 0.01
        fixes.append(
            f"Resized the mask from {alpha.width}×{alpha.height} to {image_size[0]}×{image_size[1]} to match the image"
            + (" (its shape differs, so it was stretched)." if stretched else ".")
        )
        alpha = alpha.resize(tuple(image_size), Image.Resampling.BILINEAR)

    values = np.asarray(alpha)
    if np.any((values > 0) & (values < 255)):
        fixes.append("Made the mask's soft edges hard: pixels more than half transparent are edited, the rest kept.")
    edit = values < _EDIT_ALPHA_BELOW
    png = _mask_png(edit)
    if len(png) > MASK_MAX_BYTES:  # a binary mask compresses to a few KB; this would take a noise pattern
        raise InvalidInput(
            f"{label} is still {_mb(len(png))} after cleaning, over the {_mb(MASK_MAX_BYTES)} limit. Use a simpler mask.",
            param="mask",
        )
    coverage = float(edit.mean())
    warning = mask_warning(coverage)
    return Normalised(png, image_size[0], image_size[1], fixes, [warning] if warning else [], coverage)


def mask_from_painting(painting: np.ndarray | bytes, image_size: tuple[int, int]) -> bytes:
    """Turn a canvas drawing layer (RGBA, any size) into a mask PNG at ``image_size``.

    Whatever was painted (any colour, alpha > 0) is the area to edit, so it
    becomes transparent; everything else stays opaque.
    """
    layer = _as_image(painting)
    if layer.mode != "RGBA":
        layer = layer.convert("RGBA")
    painted = Image.fromarray(np.where(np.asarray(layer.getchannel("A")) > 0, 255, 0).astype(np.uint8), "L")
    if painted.size != tuple(image_size):
        painted = painted.resize(tuple(image_size), Image.Resampling.BILINEAR)
    return _mask_png(np.asarray(painted) >= 128)


def invert_mask(mask_png: bytes) -> bytes:
    """Swap edit and keep."""
    return _mask_png(~_edit_area(mask_png))


def overlay_mask_preview(image: bytes, mask: bytes, *, max_side: int = 768) -> bytes:
    """A PNG of the image with the area to edit tinted magenta, for a person to check the mask."""
    base = _as_image(image).convert("RGBA")
    base.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    edit_img = _as_image(mask).convert("RGBA").getchannel("A").resize(base.size, Image.Resampling.NEAREST)
    edit = np.asarray(edit_img) < _EDIT_ALPHA_BELOW
    # Show transparency over light grey so a transparent photo is still visible.
    pixels = np.asarray(Image.alpha_composite(Image.new("RGBA", base.size, (235, 235, 235, 255)), base)).astype(np.float32)
    tint = np.array([255, 0, 170, 255], dtype=np.float32)
    pixels[edit] = pixels[edit] * 0.45 + tint * 0.55
    return _encode_png(Image.fromarray(pixels.round().astype(np.uint8), "RGBA"))


def keep_outside_mask(original_png: bytes, edited_png: bytes, mask_png: bytes) -> bytes:
    """Paste the original pixels back wherever the mask says "keep".

    GPT image models treat the mask as guidance and may repaint the whole
    picture; this makes the keep area exactly the original.  The result has
    the original's size: an edit of another size is resized to it first.
    """
    original = _as_image(original_png).convert("RGBA")
    edited = _as_image(edited_png).convert("RGBA")
    if edited.size != original.size:
        edited = edited.resize(original.size, Image.Resampling.LANCZOS)
    mask_alpha = _as_image(mask_png).convert("RGBA").getchannel("A")
    if mask_alpha.size != original.size:
        mask_alpha = mask_alpha.resize(original.size, Image.Resampling.NEAREST)
    take_edit = mask_alpha.point(lambda a: 255 if a < _EDIT_ALPHA_BELOW else 0)  # a hard 0/255 selector
    return _encode_png(Image.composite(edited, original, take_edit))
