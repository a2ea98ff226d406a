"""Turn whatever a person uploads into what the model takes, check what providers send back, and say what was fixed.

Every function takes and returns plain bytes (PNG, or JPEG for an opaque photo),
so pages, providers and tests can use it without Streamlit.  Each fix becomes one sentence in
``Normalised.fixes``; anything we refuse raises ``lib.errors.InvalidInput``
with a message that says what to do instead.

The mask convention, written down once (``MASK_CONVENTION``): the API edits the
**transparent** pixels of the mask and keeps the opaque ones.  A mask without
any transparency (a black-and-white drawing, a JPEG) is read from its
brightness, as if brightness were opacity: **black = edit, white = keep**.

Every picture the app decodes, uploads and provider results alike, goes through
the pixel budget here first: its size is read from the header (``Image.open``
is lazy), a big JPEG is decoded at 1/2..1/8 scale, anything else over the budget
is refused in words, and decodes run ``DECODE_SLOTS`` at a time.
"""
from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
import warnings
import zlib
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pyspng
from PIL import Image, ImageOps, UnidentifiedImageError

from lib.errors import InvalidInput, ProviderDown, StudioError

MASK_CONVENTION = "transparent = edit, opaque = keep; a mask without transparency is read from its brightness: black = edit, white = keep"

# "Under 4 MB" / "under 50 MB" in OpenAI's docs; decimal megabytes keep us under either reading.
LEGACY_MAX_BYTES = 4_000_000  # dall-e-2 images, and every mask
GPT_MAX_BYTES = 50_000_000  # each GPT image input
MASK_MAX_BYTES = LEGACY_MAX_BYTES

# The pixel budget.  All decodes at once may hold DECODE_MEMORY_BYTES (a gigabyte, less on a small machine):
# a decoded pixel is 4 bytes (RGBA) and converting, cropping and resizing hold about two more copies.
DECODE_SLOTS = 2  # decodes at a time; the next one waits for a slot
BYTES_PER_PIXEL = 12


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every system says
        return 8_000_000_000


DECODE_MEMORY_BYTES = min(1_000_000_000, _memory_bytes() // 8)
MAX_DECODE_PIXELS = DECODE_MEMORY_BYTES // DECODE_SLOTS // BYTES_PER_PIXEL  # about 41 megapixels
# A JPEG is decoded at 1/2..1/8 scale when it is bigger than the budget, so its file may claim more, up to here
# (beyond any camera's photo, about 12 000 x 12 000). Pillow's own guard (MAX_IMAGE_PIXELS) is left alone.
MAX_SOURCE_PIXELS = 150_000_000
_REDUCIBLE = ("JPEG", "MPO")  # formats Pillow can decode at a reduced scale (Image.draft)
MIN_SIDE = 64  # below this there is nothing for the model to work with
GPT_MAX_SIDE = 2048  # GPT image models fit every input within 2048 x 2048 (see max_input_side in models.toml)
LEGACY_MAX_SIDE = 1024  # dall-e-2's largest size

# A mask pixel with alpha below this counts as "edit" (the API edits only alpha 0; we make masks binary).
_EDIT_ALPHA_BELOW = 128
_PNG_COMPRESS_LEVEL = 1  # ~5% larger than the default 6, about 4x faster on photos
_JPEG_QUALITY = 95  # an input the model looks at and the paste-back copies from: no visible loss
_WEBP_QUALITY = 95
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}

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
_FORMAT_NAMES = {"MPO": "JPEG", "JPG": "JPEG"}  # what a person calls the file, not Pillow's plugin name
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}


class BrokenPicture(ProviderDown):
    """A picture from a provider (or the store) that cannot be used: cut off, corrupt, a bomb, over the budget."""


@dataclass(frozen=True)
class InputRules:
    """What an engine takes as an input image (``catalog.ImageModel.input_rules`` reads them from models.toml)."""

    max_side: int = GPT_MAX_SIDE  # longest side worth sending
    formats: tuple[str, ...] = ("png",)  # what the endpoint takes, preferred first: jpeg/webp for opaque pictures
    square: bool = False  # dall-e-2: the centre square is cropped
    max_bytes: int = GPT_MAX_BYTES


LEGACY_INPUT = InputRules(max_side=LEGACY_MAX_SIDE, formats=("png",), square=True, max_bytes=LEGACY_MAX_BYTES)


@dataclass
class Normalised:
    """An image (or mask) ready to send, and what was done to it."""

    data: bytes  # PNG for masks and pictures with transparency, else the engine's preferred format
    width: int
    height: int
    fixes: list[str] = field(default_factory=list)  # one readable sentence per change
    warnings: list[str] = field(default_factory=list)  # things to look at before sending
    coverage: float | None = None  # masks only: share of pixels the model may edit
    mime: str = "image/png"

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


_slots = threading.BoundedSemaphore(DECODE_SLOTS)
_holding = threading.local()


@contextmanager
def decode_slot():
    """Hold one of the ``DECODE_SLOTS`` while decoding and working on pictures (re-entrant within a thread)."""
    if getattr(_holding, "slot", False):
        yield
        return
    with _slots:
        _holding.slot = True
        try:
            yield
        finally:
            _holding.slot = False


@dataclass(frozen=True)
class _Source:
    """Whose picture it is, for the messages: an upload is refused (InvalidInput), a result is broken (BrokenPicture)."""

    label: str
    param: str
    refuse: type
    again: str  # what to do about a broken file

    def error(self, message: str, code: str):
        return self.refuse(message, param=self.param, code=code)


# The pixels behind the last few pictures this process encoded (normalised uploads, masks), by the sha256 of
# the bytes: the paste-back after an edit finds the original and the mask here instead of decoding them again.
_REMEMBERED_PICTURES = 4  # about 8 MB each at 2048 px
_remembered: OrderedDict[tuple[str, bytes], Image.Image] = OrderedDict()
_remembered_lock = threading.Lock()


def _remember(kind: str, data: bytes, pixels: Image.Image) -> None:
    """``kind``: "picture" (the pixels encoded) or "mask" (its selector, L, 255 = edit): the same bytes may be both."""
    with _remembered_lock:
        _remembered[(kind, hashlib.sha256(data).digest())] = pixels
        while len(_remembered) > _REMEMBERED_PICTURES:
            _remembered.popitem(last=False)


def _recall(kind: str, data: bytes) -> Image.Image | None:
    """What ``_remember`` kept for ``data``, if this process made it lately (never to be changed in place)."""
    with _remembered_lock:
        return _remembered.get((kind, hashlib.sha256(data).digest()))


def forget_decoded() -> None:
    """Drop the remembered pixels (benchmarks measure the paste-back without them too)."""
    with _remembered_lock:
        _remembered.clear()


def _upload(filename: str | None, what: str) -> _Source:
    return _Source(_label(filename, what), what, InvalidInput, "Upload the original file again.")


def _result(label: str) -> _Source:
    return _Source(label, "image", BrokenPicture, "Try again.")


def _too_big(source: _Source, width: int, height: int, limit: int) -> StudioError:
    advice = "Resize it before uploading." if source.refuse is InvalidInput else "Try again with a smaller size."
    return source.error(
        f"{source.label} is {width}×{height} px ({width * height / 1e6:.0f} megapixels); the limit is "
        f"{limit / 1e6:.0f} megapixels, so that a few pictures fit in memory at once. {advice}", "image_too_big")


def _header(data: bytes, source: _Source) -> Image.Image:
    """The picture opened lazily (only its header read), refused in words if it is empty, unreadable or too big."""
    if not data:
        raise source.error(f"{source.label} is empty (0 bytes). {source.again}", "empty_image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked below
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise source.error(
                f"{source.label} claims to be more than {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels, "
                f"far beyond the {MAX_SOURCE_PIXELS / 1e6:.0f}-megapixel limit. "
                + ("Resize it before uploading." if source.refuse is InvalidInput else source.again), "image_too_big",
            ) from None
        except UnidentifiedImageError:
            message = _unreadable_message(data, source.label) if source.refuse is InvalidInput else (
                f"{source.label} is not a picture this app can read. {source.again}")
            raise source.error(message, "unreadable_image") from None
        except ValueError as exc:  # e.g. a PNG text chunk that inflates past Pillow's limit
            raise source.error(*_broken_message(exc, source)) from None
        except (OSError, SyntaxError, EOFError, struct.error, zlib.error):
            raise source.error(f"{source.label} is damaged and cannot be read. {source.again}", "broken_image") from None
    width, height = img.size
    limit = MAX_SOURCE_PIXELS if img.format in _REDUCIBLE else MAX_DECODE_PIXELS
    if width * height > limit:
        raise _too_big(source, width, height, limit)
    return img


def _broken_message(exc: BaseException, source: _Source) -> tuple[str, str]:
    """What went wrong while reading, in words, and its error code."""
    text = str(exc).lower()
    if "too large" in text or isinstance(exc, (Image.DecompressionBombError, MemoryError)):
        return (f"{source.label} unpacks to far more data than a picture its size holds (a decompression bomb), "
                f"so it was not opened. {source.again}", "image_bomb")
    if "truncated" in text or "end of stream" in text or isinstance(exc, EOFError):
        return f"{source.label} is cut off: the file ends before the picture does. {source.again}", "truncated_image"
    return f"{source.label} is damaged (its image data is corrupt). {source.again}", "broken_image"


def _draft_scale(width: int, height: int, fit_within: int | None, square: bool) -> int:
    """1, 2, 4 or 8: how far a JPEG is reduced while decoding, within the budget and still ``fit_within`` px."""
    kept_side = min(width, height) if square else max(width, height)
    scale = 1
    for candidate in (2, 4, 8):
        if fit_within and kept_side // candidate >= fit_within:
            scale = candidate
    while (width // scale) * (height // scale) > MAX_DECODE_PIXELS and scale < 8:
        scale *= 2
    return scale


def _decode(
    data: bytes, source: _Source, *, fixes: list[str] | None = None, min_side: int = 1,
    fit_within: int | None = None, square: bool = False,
) -> tuple[Image.Image, tuple[int, int]]:
    """Decode the first frame within the pixel budget; return it and its size in the file.

    With ``fit_within``, a big JPEG is decoded at 1/2..1/8 scale, still at least
    that many px on its long side (on its short side when it will be cropped
    ``square``): most of the time saved on a camera photo.
    """
    fixes = [] if fixes is None else fixes
    img = _header(data, source)
    width, height = img.size
    if min(width, height) < min_side:
        raise source.error(
            f"{source.label} is only {width}×{height} px. Use an image at least {min_side} px on each side.", "image_too_small")
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        img.seek(0)
        if img.format == "TIFF":
            fixes.append(f"{source.label} has {frames} pages: used the first.")
        elif img.format != "MPO":  # a phone's MPO is one photo plus previews: nothing worth saying
            fixes.append(f"{source.label} is animated ({frames} frames): used the first frame.")
    if ";16" in _source_rawmode(img) and img.mode in ("RGB", "RGBA", "LA"):  # Pillow reads these as 8-bit
        fixes.append("Reduced 16-bit colour depth to 8-bit.")
    if img.format == "PNG" and frames == 1 and _source_rawmode(img) == img.mode in ("RGB", "RGBA") \
            and "transparency" not in img.info:
        return _decode_png_fast(data, img, source), (width, height)
    if img.format in _REDUCIBLE:
        scale = _draft_scale(width, height, fit_within, square)
        if scale > 1:
            img.draft(None, (max(1, width // scale), max(1, height // scale)))
        if img.size[0] * img.size[1] > MAX_DECODE_PIXELS:
            raise _too_big(source, width, height, MAX_DECODE_PIXELS)
    try:
        with decode_slot(), warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except (Image.DecompressionBombError, MemoryError, ValueError, OSError, SyntaxError, EOFError, struct.error,
            zlib.error, IndexError) as exc:
        raise source.error(*_broken_message(exc, source)) from None
    return img, (width, height)


def _decode_png_fast(data: bytes, header: Image.Image, source: _Source) -> Image.Image:
    """An 8-bit RGB(A) PNG, the usual provider result, through libspng: twice as fast as Pillow's decoder."""
    try:
        with decode_slot():
            pixels = pyspng.load(data)
    except (RuntimeError, ValueError, MemoryError) as exc:
        raise source.error(*_broken_message(exc, source)) from None
    if pixels.dtype != np.uint8 or pixels.shape != (header.height, header.width, len(header.mode)):
        raise source.error(f"{source.label} is damaged (its pixels do not match its header). {source.again}",
                           "broken_image")
    img = Image.fromarray(pixels, header.mode)
    img.format, img.info = "PNG", dict(header.info)  # the header's EXIF orientation, gamma... still apply
    return img


def _open(data: bytes, *, what: str, filename: str | None, fixes: list[str], min_side: int = 1,
          max_side: int | None = None, square: bool = False) -> tuple[Image.Image, tuple[int, int]]:
    """An upload decoded (see ``_decode``), refusing empty, unreadable, cut-off, tiny and huge files."""
    return _decode(data, _upload(filename, what), fixes=fixes, min_side=min_side, fit_within=max_side, square=square)


def decode_picture(data: bytes, *, label: str = "The picture", fit_within: int | None = None) -> Image.Image:
    """A provider's or a stored picture, fully decoded within the budget; ``BrokenPicture`` in words if it cannot be."""
    return _decode(data, _result(label), fit_within=fit_within)[0]


def verify_picture(data: bytes, *, label: str = "The picture") -> Image.Image | None:
    """Check that the whole picture decodes, within the budget; ``BrokenPicture`` in words if it does not.

    Returns the decoded picture when checking it meant decoding it, and ``None`` for an 8-bit RGB(A) PNG (what
    providers usually send), which is checked without decoding its pixels: its chunks are whole, its image data
    inflates to at least the bytes its header promises (no more is ever inflated), and every row names one of PNG's
    five filters -- all a decoder can fail on, since unfiltering any such bytes gives pixels.  The inflating runs
    without the interpreter lock and takes a third less time than libspng's full decode, which held the lock
    throughout (1.6 ms for a 256 px picture, 6 ms at 512 px): when several results landed at once (Compare), each
    one's check waited for the others'.  Other pictures (interlaced, palette, 16-bit, transparent or animated PNGs,
    other formats) are decoded in full.
    """
    source = _result(label)
    img = _header(data, source)
    if img.format == "PNG" and getattr(img, "n_frames", 1) == 1 and _source_rawmode(img) == img.mode in ("RGB", "RGBA") \
            and "transparency" not in img.info and data[26:29] == b"\x00\x00\x00":  # IHDR: deflate, PNG's filters, not interlaced
        _check_png_data(data, img.width, img.height, len(img.mode), source)
        return None
    return _decode(data, source)[0]


def _check_png_data(data: bytes, width: int, height: int, channels: int, source: _Source) -> None:
    """An 8-bit, non-interlaced PNG's image data, as ``verify_picture`` says; as lenient as libspng where it is
    (image data past the last row is not read, the image data's CRCs are not checked) and never inflating more."""
    broken = source.error(*_broken_message(ValueError(), source))
    parts, last = [], b""
    for kind, start, end in _png_chunks(data):
        if kind == b"IDAT":
            if parts and last != b"IDAT":
                raise broken  # image data in pieces with other chunks between them: decoders refuse it
            parts.append(memoryview(data)[start:end])
        last = kind
    if last != b"IEND":
        raise source.error(*_broken_message(EOFError(), source))
    stride = 1 + width * channels
    expected = height * stride
    try:
        rows = zlib.decompressobj().decompress(b"".join(parts), expected)  # never more than the picture holds
    except zlib.error:
        raise broken from None
    if len(rows) < expected:
        raise broken
    if int(np.frombuffer(rows, np.uint8)[::stride].max(initial=0)) > 4:
        raise broken


def _png_chunks(data: bytes):
    """``(kind, data start, data end)`` of each whole chunk of a PNG, in order, up to its IEND; it stops at a chunk
    the file cuts off."""
    pos = 8
    while pos + 12 <= len(data):
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        end = pos + 8 + length
        if end + 4 > len(data):
            return
        yield kind, pos + 8, end
        if kind == b"IEND":
            return
        pos = end + 4


def _ends_whole(data: bytes, fmt: str | None) -> bool:
    """Whether the file reaches its format's end marker: a cheap test for a cut-off download, without decoding."""
    if fmt == "PNG":
        return any(kind == b"IEND" for kind, _start, _end in _png_chunks(data))
    if fmt == "JPEG":
        return data.rstrip(b"\x00")[-2:] == b"\xff\xd9"  # EOI (some encoders pad after it)
    if fmt == "WEBP":
        return len(data) >= 8 + int.from_bytes(data[4:8], "little")  # RIFF says its own length
    if fmt == "GIF":
        return data[-1:] == b";"  # the trailer
    return True  # other formats: the full decode when the picture is stored finds out


def sniff_format(data: bytes) -> str | None:
    """PNG, JPEG, WEBP or GIF from the first bytes (no decoding); ``None`` for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    return None


@dataclass(frozen=True)
class PictureInfo:
    format: str
    mime: str
    width: int
    height: int


def check_picture(data: bytes, *, label: str = "The picture") -> PictureInfo:
    """What a provider's picture is, from its header, refusing (``BrokenPicture``) what cannot be used.

    Unreadable, cut off (no end marker) or over the pixel budget: the caller
    gets a message in words before anything is recorded as a result.  The full
    decode happens once, when the store makes the thumbnail.
    """
    source = _result(label)
    if not _ends_whole(data, sniff_format(data)):  # first: a cut-off WebP does not even open
        raise source.error(f"{label} is cut off: the file ends before the picture does. {source.again}",
                           "truncated_image")
    img = _header(data, source)
    return PictureInfo(img.format or "", _MIME.get(img.format or "", "application/octet-stream"), img.width, img.height)


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


def encode(img: Image.Image, fmt: str) -> bytes:
    """``img`` as ``fmt`` with the app's fast settings: PNG at compression 1, JPEG and WebP at quality 95."""
    buf = io.BytesIO()
    fmt = _FORMAT_NAMES.get(fmt, fmt)
    if fmt == "PNG":
        img.save(buf, format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
    elif fmt == "JPEG":
        img.save(buf, format="JPEG", quality=_JPEG_QUALITY)
    elif fmt == "WEBP":
        img.save(buf, format="WEBP", quality=_WEBP_QUALITY, method=0)  # method 0: the fastest, a little larger
    else:
        img.save(buf, format=fmt)
    return buf.getvalue()


def _encode_png(img: Image.Image) -> bytes:
    return encode(img, "PNG")


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


def _has_transparency(img: Image.Image) -> bool:
    return img.mode in ("LA", "RGBA") and img.getchannel("A").getextrema()[0] < 255


_LOSSY = {"jpeg": ("JPEG", "RGB", "an RGB JPEG"), "webp": ("WEBP", "RGB", "an RGB WebP")}


_LOSSLESS_SOURCES = ("PNG", "GIF", "BMP", "TIFF", "PPM", "TGA", "ICO")


def _output_format(img: Image.Image, rules: InputRules, *, exact: bool) -> tuple[str, str, str]:
    """(Pillow format, mode, words) to send: a PNG where alpha or ``exact`` pixels matter, else the lossy format.

    An opaque picture goes in the first lossy format the engine takes (a JPEG
    encodes about 10x faster than a PNG and uploads a third of the bytes); one
    with transparency, or a lossless upload the app did not resample (its
    pixels are what the paste-back keeps, exactly), as an RGBA PNG.
    """
    lossy = next((_LOSSY[f] for f in rules.formats if f in _LOSSY), None)
    if lossy and ("png" not in rules.formats or not (exact or _has_transparency(img))):
        return lossy
    return "PNG", "RGBA", "an RGBA PNG"


def normalise_for_edit(data: bytes, rules: InputRules = InputRules(), *, filename: str | None = None) -> Normalised:
    """An image the edits (or legacy variations) endpoint takes, at the size the model uses, with every change listed.

    ``rules`` come from the catalog (``spec.input_rules``): at most ``max_side``
    px (bigger only slows the upload, the model looks at no more), an opaque
    picture as JPEG where the endpoint takes it, one with transparency as a
    PNG.  ``square`` is the dall-e-2 contract: the centre square is cropped
    (padding would add transparent borders, which dall-e-2 reads as "edit here").
    """
    fixes: list[str] = []
    label = _label(filename, "image")
    with decode_slot():
        img, source_size = _open(data, what="image", filename=filename, fixes=fixes, min_side=MIN_SIDE,
                                 max_side=rules.max_side, square=rules.square)
        source_format, source_mode = _FORMAT_NAMES.get(img.format, img.format or "image"), img.mode
        # A big JPEG may have been decoded at 1/2..1/8 scale; messages speak in the file's own pixels.
        scale = max(source_size) / max(img.size)

        def in_source_px(width: int, height: int) -> str:
            return f"{round(width * scale)}×{round(height * scale)}"

        img = _apply_exif_orientation(img, label, fixes)
        img = _to_8bit(img, fixes)

        if rules.square and img.width != img.height:
            box = _centre_square(img.size)
            side = box[2] - box[0]
            fixes.append(
                f"Cropped the centre {in_source_px(side, side)} square out of {in_source_px(*img.size)}: "
                "this model takes square images only."
            )
            img = img.crop(box)

        target = _fit(img.size, rules.max_side)
        resampled = target != img.size or scale != 1
        if resampled:
            fixes.append(
                f"Downscaled from {in_source_px(*img.size)} to {target[0]}×{target[1]} px "
                f"(the model uses at most {rules.max_side} px on a side)."
            )
            # Pillow's bilinear averages every source pixel it covers (no aliasing) at half Lanczos' cost: the
            # resize would otherwise take longer than decoding the photo. Box-reduce first: 3x faster at 12k px.
            img = img.resize(target, Image.Resampling.BILINEAR, reducing_gap=1.4)

        out_format, out_mode, out_words = _output_format(
            img, rules, exact=not resampled and source_format in _LOSSLESS_SOURCES)
        if img.mode != out_mode:
            img = img.convert(out_mode)
        if (source_format, source_mode) != (out_format, out_mode) and not (source_format == out_format == "JPEG"
                                                                          and source_mode in ("L", "RGB")):
            fixes.append(f"Converted {source_format} ({_MODE_NAMES.get(source_mode, source_mode)}) to {out_words}.")

        limit = rules.max_bytes
        encoded = encode(img, out_format)
        if len(encoded) > limit:
            before = (img.width, img.height, len(encoded))
            while len(encoded) > limit:
                img = img.resize(_fit(img.size, int(max(img.size) * 0.8)), Image.Resampling.LANCZOS)
                encoded = encode(img, out_format)
            fixes.append(
                f"Downscaled from {before[0]}×{before[1]} to {img.width}×{img.height} px to get under the "
                f"{_mb(limit)} limit (the file was {_mb(before[2])}, now {_mb(len(encoded))})."
            )
    _remember("picture", encoded, img)
    return Normalised(encoded, img.width, img.height, fixes, mime=_MIME[out_format])


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
    png = _encode_png(Image.fromarray(rgba, "RGBA"))
    _remember("mask", png, Image.fromarray(np.where(edit, 255, 0).astype(np.uint8), "L"))  # the paste-back's selector
    return png


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


def keep_outside_mask(original: bytes, edited: bytes, mask_png: bytes) -> bytes:
    """Paste the original pixels back wherever the mask says "keep".

    GPT image models treat the mask as guidance and may repaint the whole
    picture; this makes the keep area exactly the original.  ``original`` is
    the picture that was sent (already no bigger than the model uses), so the
    result has its size, in the edit's format: an edit of another size (a side
    rounded to a multiple of 16, say) is resized to it.  A cut-off or broken
    edit raises ``BrokenPicture``.
    """
    with decode_slot():
        edit = decode_picture(edited, label="The edited picture")
        fmt = edit.format or "PNG"
        base = _recall("picture", original) or _decode(original, _result("The original picture"))[0]
        edit_area = _recall("mask", mask_png)  # a mask made here remembers its selector: L, 255 = edit
        if edit_area is None:
            keep = _decode(mask_png, _result("The mask"))[0]
            alpha = keep.getchannel("A") if keep.mode in ("RGBA", "LA") else keep.convert("RGBA").getchannel("A")
            edit_area = alpha.point([255] * _EDIT_ALPHA_BELOW + [0] * (256 - _EDIT_ALPHA_BELOW))  # a hard 0/255 selector
        mode = "RGBA" if fmt != "JPEG" and "A" in edit.getbands() + base.getbands() else "RGB"
        if edit.mode != mode:
            edit = edit.convert(mode)
        if edit.size != base.size:
            edit = edit.resize(base.size, Image.Resampling.LANCZOS)
        if edit_area.size != base.size:
            edit_area = edit_area.resize(base.size, Image.Resampling.NEAREST)
        merged = base.convert(mode) if base.mode != mode else base.copy()  # a remembered original stays as it is
        box = edit_area.getbbox()  # the edit area is most often a small part: copy only around it
        if box:
            merged.paste(edit.crop(box), box[:2], edit_area.crop(box))
        return encode(merged, fmt)
