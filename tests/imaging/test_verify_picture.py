"""The check that a whole picture decodes before it is stored (``imaging.verify_picture``).

An 8-bit RGB(A) PNG is checked without decoding its pixels; the test holds that check to what a real decoder says:
every damaged file below is refused in words by the check *and* by libspng (the decoder it replaced), and every
whole one is accepted by both.  Other PNGs and other formats are decoded in full, as before."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pyspng
import pytest
from PIL import Image

from lib import imaging
from lib.imaging import BrokenPicture, verify_picture
from lib.store.images import THUMB_MAX_PX, ImageStore, thumbnails_drawn, thumbnails_held

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def pixels(width: int, height: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x ^ y) & 255] +
                    ([np.full_like(x, 200)] if channels == 4 else []), axis=-1)
    return np.clip(base + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)


def raw_rows(array: np.ndarray, filters: list[int] | None = None) -> bytes:
    """Scanlines as PNG stores them, each with filter type 0 (none) unless ``filters`` says otherwise."""
    filters = filters or [0] * array.shape[0]
    return b"".join(bytes([f]) + row.tobytes() for f, row in zip(filters, array))


def png(array: np.ndarray, *, idat: bytes | None = None, parts: int = 1, between: bytes = b"",
        idat_crc: int | None = None, interlace: int = 0, compression: int = 0) -> bytes:
    height, width, channels = array.shape
    ihdr = struct.pack(">IIBBBBB", width, height, 8, {3: 2, 4: 6}[channels], compression, 0, interlace)
    data = zlib.compress(raw_rows(array)) if idat is None else idat
    step = -(-len(data) // parts)
    pieces = [data[i:i + step] for i in range(0, len(data), step)]
    body = b"".join(chunk(b"IDAT", p, idat_crc) + (between if i == 0 else b"") for i, p in enumerate(pieces))
    return SIGNATURE + chunk(b"IHDR", ihdr) + body + chunk(b"IEND", b"")


def adam7(array: np.ndarray) -> bytes:
    """The scanlines of an interlaced PNG (Adam7's seven passes), filter type 0."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    return b"".join(raw_rows(array[y0::dy, x0::dx]) for x0, y0, dx, dy in passes if array[y0::dy, x0::dx].size)


def libspng_refuses(data: bytes) -> bool:
    try:
        pyspng.load(data)
    except (RuntimeError, ValueError):
        return True
    return False


PICTURE = pixels(64, 48)


def damaged() -> dict[str, bytes]:
    rows = raw_rows(PICTURE)
    stream = zlib.compress(rows)
    flipped = bytearray(stream)
    flipped[len(flipped) // 2] ^= 0xFF
    return {
        "a byte of the image data flipped": png(PICTURE, idat=bytes(flipped)),
        "the image data cut short (its chunk still whole)": png(PICTURE, idat=stream[: len(stream) * 2 // 3]),
        "fewer rows than the header says": png(PICTURE, idat=zlib.compress(rows[: len(rows) // 2])),
        "a row with filter type 7": png(PICTURE, idat=zlib.compress(raw_rows(PICTURE, [0] * 10 + [7] + [0] * 37))),
        "the image data not zlib at all": png(PICTURE, idat=b"not a zlib stream, just bytes" * 10),
        "the image data in two pieces with a chunk between": png(PICTURE, parts=2, between=chunk(b"tEXt", b"a\x00b")),
        "a header naming a compression method PNG does not have": png(PICTURE, compression=1),
    }


@pytest.mark.parametrize("name", list(damaged()))
def test_every_damaged_png_is_refused_in_words_as_a_decoder_refuses_it(name):
    data = damaged()[name]
    assert libspng_refuses(data), f"libspng accepted {name}: the case proves nothing"
    with pytest.raises(BrokenPicture) as caught:
        verify_picture(data, label="The picture OpenAI sent")
    message = caught.value.message
    assert message.startswith("The picture OpenAI sent is ") and ("damaged" in message or "cut off" in message
                                                                   or "unpacks to far more" in message)
    assert "Traceback" not in message and "zlib" not in message


def test_what_libspng_lets_pass_passes_and_an_image_data_bomb_is_never_inflated(monkeypatch):
    rows = raw_rows(PICTURE)
    lenient = {
        "more rows than the header says": png(PICTURE, idat=zlib.compress(rows + rows)),
        "the image data's CRC wrong": png(PICTURE, idat_crc=0x12345678),
    }
    for name, data in lenient.items():
        assert not libspng_refuses(data), name
        assert verify_picture(data) is None, name
    # The header says 64 x 48, the image data inflates to 200 MB (from about 200 KB): only the rows are inflated.
    inflated = []
    real = zlib.decompressobj

    class Watched:
        def __init__(self):
            self.inner = real()

        def decompress(self, data, max_length=0):
            out = self.inner.decompress(data, max_length)
            inflated.append(len(out))
            return out

    bomb = png(PICTURE, idat=zlib.compress(b"\x00" * 200_000_000, 9))
    assert not libspng_refuses(bomb)
    monkeypatch.setattr(imaging.zlib, "decompressobj", Watched)
    assert verify_picture(bomb) is None
    assert inflated == [48 * (1 + 64 * 3)]


@pytest.mark.parametrize("channels", [3, 4])
def test_a_whole_png_is_accepted_without_decoding_and_its_thumbnail_is_drawn_from_its_pixels(tmp_path, channels):
    array = pixels(400, 300, channels, seed=channels)
    data = png(array, parts=3)  # several image-data chunks, as many encoders write them
    assert not libspng_refuses(data)
    assert verify_picture(data) is None  # checked, not decoded
    store = ImageStore(tmp_path)
    with thumbnails_held():  # as in Compare: drawn once the hold is let go
        ref = store.put(data)
    thumbnails_drawn()
    assert (ref.width, ref.height) == (400, 300)
    thumb = Image.open(io.BytesIO(store.thumbnail(ref.sha256)))
    assert max(thumb.size) <= THUMB_MAX_PX and thumb.size[0] > thumb.size[1]
    expected = Image.fromarray(array).resize(thumb.size, Image.Resampling.BOX).convert(thumb.mode)
    difference = np.abs(np.asarray(thumb, np.int16) - np.asarray(expected, np.int16)).mean()
    assert difference < 12  # the same picture, cut down (WebP is lossy)


def test_other_pictures_are_decoded_in_full_and_still_refused_when_broken():
    interlaced = png(PICTURE, idat=zlib.compress(adam7(PICTURE)), interlace=1)
    assert not libspng_refuses(interlaced)
    decoded = verify_picture(interlaced)
    assert decoded is not None and np.array_equal(np.asarray(decoded), PICTURE)
    with pytest.raises(BrokenPicture):
        verify_picture(png(PICTURE, idat=zlib.compress(adam7(PICTURE)[:-300]), interlace=1))
    palette = io.BytesIO()
    Image.fromarray(PICTURE).convert("P").save(palette, "PNG")
    assert verify_picture(palette.getvalue()).mode == "P"
    jpeg = io.BytesIO()
    Image.fromarray(PICTURE).save(jpeg, "JPEG")
    assert verify_picture(jpeg.getvalue()).size == (64, 48)
    with pytest.raises(BrokenPicture):
        verify_picture(jpeg.getvalue()[: len(jpeg.getvalue()) // 2] + b"\x00" * 50)


def test_the_check_keeps_the_pixel_budget(monkeypatch):
    monkeypatch.setattr(imaging, "MAX_DECODE_PIXELS", 1000)
    with pytest.raises(BrokenPicture) as caught:
        verify_picture(png(PICTURE))
    assert "megapixels" in caught.value.message
