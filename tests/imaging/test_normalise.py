"""Every upload a person might try, generated here, turned into an API-ready PNG or a clear refusal."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from lib.errors import InvalidInput
from lib.imaging import (
    GPT_MAX_SIDE,
    LEGACY_INPUT,
    LEGACY_MAX_BYTES,
    InputRules,
    normalise_for_edit,
)

PNG_ONLY = InputRules(max_side=GPT_MAX_SIDE, formats=("png",))  # every result an RGBA PNG, to read pixels back


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def decode(png: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.mode == "RGBA"
    return np.asarray(img)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size but carries (almost) no pixels: how a decompression bomb starts."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b"")


def png_16bit(arr: np.ndarray) -> bytes:
    """Pillow cannot write 16-bit RGB(A) PNGs, so write one by hand."""
    height, width, channels = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, {3: 2, 4: 6}[channels], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def solid(size=(256, 256), colour=(200, 30, 30), mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


# --------------------------------------------------------------------------- refusals


def test_truncated_png_is_refused_as_cut_off():
    data = encode(Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8)))
    with pytest.raises(InvalidInput, match="“photo.png” is cut off: the file ends before the picture does"):
        normalise_for_edit(data[: len(data) // 2], PNG_ONLY, filename="photo.png")


def test_text_file_named_png_is_refused_as_text():
    with pytest.raises(InvalidInput, match="contains text, not an image") as err:
        normalise_for_edit(b"hello, this is my shopping list\nmilk\neggs\n", PNG_ONLY, filename="notes.png")
    assert "“notes.png”" in err.value.message


def test_empty_file_is_refused():
    with pytest.raises(InvalidInput, match="empty"):
        normalise_for_edit(b"", PNG_ONLY)


def test_decompression_bomb_past_pillows_limit_is_refused():
    with pytest.raises(InvalidInput, match="megapixels") as err:
        normalise_for_edit(png_header_only(30000, 30000), PNG_ONLY, filename="bomb.png")
    assert "Resize it" in err.value.message


def test_image_past_our_pixel_limit_is_refused_with_its_size():
    with pytest.raises(InvalidInput, match="13000×13000 px"):
        normalise_for_edit(png_header_only(13000, 13000), PNG_ONLY)


def test_one_pixel_image_is_too_small():
    with pytest.raises(InvalidInput, match="only 1×1 px"):
        normalise_for_edit(encode(solid((1, 1))), PNG_ONLY)


def test_heic_photo_gets_a_how_to_export_message():
    fake_heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
    with pytest.raises(InvalidInput, match="HEIC/HEIF.*Export it as JPEG or PNG"):
        normalise_for_edit(fake_heic, PNG_ONLY, filename="IMG_0001.HEIC")


def test_unknown_binary_format_is_refused():
    with pytest.raises(InvalidInput, match="not an image format this app can read"):
        normalise_for_edit(bytes(range(256)) * 4, PNG_ONLY)


# --------------------------------------------------------------------------- fixes


def test_clean_rgba_png_passes_without_fixes():
    result = normalise_for_edit(encode(solid(mode="RGBA", colour=(1, 2, 3, 255))), PNG_ONLY)
    assert result.fixes == []
    assert (result.width, result.height) == (256, 256)


def test_12000_square_png_is_refused_from_its_header_before_decoding(monkeypatch):
    img = Image.new("1", (12000, 12000), 0)  # a few hundred KB on disk, 576 MB once decoded as RGBA
    data = encode(img)

    def no_decoding(self, *args):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    with pytest.raises(InvalidInput, match="12000×12000 px .144 megapixels.; the limit is 4. megapixels") as err:
        normalise_for_edit(data, PNG_ONLY, filename="poster.png")
    assert "Resize it before uploading" in err.value.message


def test_big_jpeg_is_reported_in_its_own_pixels():
    img = Image.fromarray(np.full((1000, 9000, 3), 90, np.uint8))
    result = normalise_for_edit(encode(img, "JPEG"), PNG_ONLY)
    assert result.width == GPT_MAX_SIDE
    assert any("Downscaled from 9000×1000 to 2048×228" in f for f in result.fixes)


def test_cmyk_jpeg_becomes_rgba_with_the_right_colour():
    cyan = Image.new("CMYK", (128, 128), (255, 0, 0, 0))
    result = normalise_for_edit(encode(cyan, "JPEG", quality=95), PNG_ONLY)
    r, g, b, a = decode(result.data)[64, 64]
    assert r < 30 and g > 225 and b > 225 and a == 255
    assert any("Converted JPEG (CMYK colour) to an RGBA PNG" in f for f in result.fixes)


def test_16bit_greyscale_png_is_scaled_not_clipped():
    grey = Image.fromarray(np.full((100, 100), 32768, np.uint16))  # mid-grey in 16 bits
    result = normalise_for_edit(encode(grey), PNG_ONLY)
    assert 126 <= decode(result.data)[50, 50, 0] <= 129
    assert "Reduced 16-bit colour depth to 8-bit." in result.fixes


def test_16bit_rgba_png_is_reported_and_keeps_its_alpha():
    arr = np.zeros((80, 80, 4), np.uint16)
    arr[..., 0] = 65535
    arr[:, :40, 3] = 65535  # left half opaque, right half transparent
    result = normalise_for_edit(png_16bit(arr), PNG_ONLY)
    pixels = decode(result.data)
    assert pixels[10, 10].tolist() == [255, 0, 0, 255] and pixels[10, 70, 3] == 0
    assert "Reduced 16-bit colour depth to 8-bit." in result.fixes


def test_palette_png_keeps_its_transparency():
    img = Image.new("P", (100, 100), 0)
    img.putpalette([0, 0, 0, 250, 10, 10] + [0] * 762)
    img.paste(1, (0, 0, 50, 100))
    result = normalise_for_edit(encode(img, transparency=0), PNG_ONLY)
    pixels = decode(result.data)
    assert pixels[50, 10].tolist() == [250, 10, 10, 255]
    assert pixels[50, 90, 3] == 0
    assert any("palette colours" in f for f in result.fixes)


def test_animated_gif_uses_the_first_frame_and_says_so():
    frames = [solid((120, 120), c).convert("P") for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = normalise_for_edit(data, PNG_ONLY, filename="party.gif")
    r, g, b, _ = decode(result.data)[60, 60]
    assert r > 200 and b < 50
    assert any("animated (3 frames): used the first frame" in f for f in result.fixes)


def test_exif_rotated_jpeg_is_turned_upright():
    stored = np.zeros((100, 200, 3), np.uint8)
    stored[:, :100] = (255, 0, 0)  # left half red, as the sensor stored it
    stored[:, 100:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # display needs a 90° clockwise turn
    data = encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())
    result = normalise_for_edit(data, PNG_ONLY)
    assert (result.width, result.height) == (100, 200)
    pixels = decode(result.data)
    assert pixels[20, 50, 0] > 200 and pixels[20, 50, 2] < 60  # the red half is now on top
    assert pixels[180, 50, 2] > 200
    assert any("rotated 90°" in f and "EXIF" in f for f in result.fixes)


def test_legacy_contract_crops_the_centre_square_and_caps_at_1024():
    img = np.zeros((1500, 3000, 3), np.uint8)
    img[:, 750:2250] = 255  # the centre square is white, the sides black
    result = normalise_for_edit(encode(Image.fromarray(img)), LEGACY_INPUT)
    assert (result.width, result.height) == (1024, 1024)
    pixels = decode(result.data)
    assert pixels[:, :, :3].min() > 240  # only the white centre is left
    assert any("Cropped the centre 1500×1500 square out of 3000×1500" in f for f in result.fixes)


def test_gpt_models_keep_non_square_images():
    result = normalise_for_edit(encode(solid((640, 320))), PNG_ONLY)
    assert (result.width, result.height) == (640, 320)


def test_legacy_image_over_4mb_is_downscaled_under_the_limit():
    noise = np.random.default_rng(7).integers(0, 256, (1024, 1024, 4), dtype=np.uint8)
    data = encode(Image.fromarray(noise, "RGBA"))
    assert len(data) > LEGACY_MAX_BYTES
    result = normalise_for_edit(data, LEGACY_INPUT)
    assert len(result.data) <= LEGACY_MAX_BYTES
    assert result.width == result.height < 1024
    assert any("4.0 MB limit" in f for f in result.fixes)


def test_big_jpeg_for_dalle2_keeps_the_full_1024_square():
    # Decoding at reduced scale must not leave the centre square short of 1024 px.
    img = Image.fromarray(np.full((2400, 4800, 3), 120, np.uint8))
    result = normalise_for_edit(encode(img, "JPEG"), LEGACY_INPUT)
    assert (result.width, result.height) == (1024, 1024)
    assert any("Cropped the centre 2400×2400 square out of 4800×2400" in f for f in result.fixes)


def test_phone_mpo_jpeg_is_just_a_jpeg():
    first, preview = solid((200, 150), (10, 200, 10)), solid((40, 30), (200, 10, 10))
    data = encode(first, "MPO", save_all=True, append_images=[preview])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    result = normalise_for_edit(data, PNG_ONLY)
    assert (result.width, result.height) == (200, 150)
    assert decode(result.data)[75, 100, 1] > 180
    assert result.fixes == ["Converted JPEG (RGB) to an RGBA PNG."]


def test_multipage_tiff_uses_the_first_page():
    pages = [solid((100, 100), (255, 255, 255)), solid((100, 100), (0, 0, 0))]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    result = normalise_for_edit(data, PNG_ONLY, filename="scan.tif")
    assert decode(result.data)[50, 50, 0] == 255
    assert "“scan.tif” has 2 pages: used the first." in result.fixes


def test_exif_rotated_png_is_turned_upright_too():
    stored = np.zeros((100, 200, 3), np.uint8)
    stored[:, :100] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    result = normalise_for_edit(encode(Image.fromarray(stored), exif=exif.tobytes()), PNG_ONLY)
    assert (result.width, result.height) == (100, 200)
    assert decode(result.data)[20, 50, 0] == 255  # the red half is on top
