"""The pixel budget and broken pictures: sizes read before decoding, big JPEGs reduced, bombs and cut-off results
refused in words, a few decodes at a time, and a broken provider result recorded as an error, never as an ok row."""
from __future__ import annotations

import io
import struct
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from lib import imaging
from lib.config import ProviderConfig
from lib.errors import InvalidInput, ProviderDown, StudioError
from lib.imaging import BrokenPicture, check_picture, decode_picture, normalise_for_edit
from lib.providers import openai_images
from lib.store import open_store, record_call
from lib.store.images import ImageStore
from lib.types import GeneratedImage, ImageResult
from tests.imaging import fake_provider

GPT = imaging.InputRules(max_side=2048, formats=("jpeg", "png", "webp"))


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 220], axis=-1)
    return Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_text_bomb() -> bytes:
    """A small valid PNG whose zTXt chunk inflates to 64 MB (from about 64 KB)."""
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x80" * 24 for _ in range(8))
    bomb = b"Comment\x00\x00" + zlib.compress(b"\x00" * 64_000_000, 9)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"zTXt", bomb)
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


@pytest.fixture
def small_budget(monkeypatch):
    """A 1-megapixel budget, so the tests need no big pictures to cross it."""
    monkeypatch.setattr(imaging, "MAX_DECODE_PIXELS", 1_000_000)
    return 1_000_000


# ------------------------------------------------------------------ budget: refused or reduced


def test_png_over_the_budget_is_refused_before_decoding(small_budget, monkeypatch):
    data = encode(Image.new("RGB", (1500, 1000)))

    def no_decoding(self, *args):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(BrokenPicture, match=r"1500×1000 px \(2 megapixels\); the limit is 1 megapixels") as err:
        decode_picture(data, label="The picture OpenAI sent")
    assert err.value.code == "image_too_big"
    with pytest.raises(InvalidInput, match="Resize it before uploading"):
        normalise_for_edit(data, GPT, filename="poster.png")


def test_jpeg_over_the_budget_is_reduced_while_decoding(small_budget):
    data = encode(photo(3000, 2000), "JPEG", quality=90)  # 6 MP against a 1 MP budget
    picture = decode_picture(data)
    assert picture.size == (750, 500)  # decoded at 1/4 scale, the first that fits
    result = normalise_for_edit(data, GPT, filename="camera.jpg")
    assert max(result.width, result.height) <= 1000 and result.width * result.height <= small_budget
    assert any("Downscaled from 3000×2000" in fix for fix in result.fixes)  # said in the file's own pixels


def test_jpeg_too_big_even_at_an_eighth_is_refused(monkeypatch):
    monkeypatch.setattr(imaging, "MAX_DECODE_PIXELS", 10_000)
    with pytest.raises(BrokenPicture, match="1600×1200 px"):
        decode_picture(encode(photo(1600, 1200), "JPEG"))  # 1/8 is still 200×150 = 30 000 px


def test_the_budget_is_sized_to_memory():
    assert imaging.MAX_DECODE_PIXELS * imaging.BYTES_PER_PIXEL * imaging.DECODE_SLOTS <= imaging.DECODE_MEMORY_BYTES
    assert imaging.DECODE_MEMORY_BYTES <= 1_000_000_000
    assert imaging.MAX_DECODE_PIXELS < 12000 * 12000  # the 560 KB poster that cost 1.4 GB no longer decodes


def test_decodes_run_a_few_at_a_time(monkeypatch):
    running, most = 0, 0
    lock = threading.Lock()

    def counted(decode):
        def slow_decode(*args):
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.05)
            try:
                return decode(*args)
            finally:
                with lock:
                    running -= 1
        return slow_decode

    monkeypatch.setattr(ImageFile.ImageFile, "load", counted(ImageFile.ImageFile.load))  # JPEG, WebP, GIF...
    monkeypatch.setattr(imaging.pyspng, "load", counted(imaging.pyspng.load))  # 8-bit PNG
    pictures = [encode(Image.new("RGB", (64, 64), "red"), fmt) for fmt in ("PNG", "JPEG")] * 4
    threads = [threading.Thread(target=decode_picture, args=(data,)) for data in pictures]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == imaging.DECODE_SLOTS


# ------------------------------------------------------------------ bombs and cut-off files


def test_png_text_bomb_is_named_in_words():
    bomb = png_with_text_bomb()
    assert len(bomb) < 200_000
    with pytest.raises(InvalidInput, match="decompression bomb") as err:
        normalise_for_edit(bomb, GPT, filename="sticker.png")
    assert "“sticker.png”" in err.value.message
    with pytest.raises(BrokenPicture, match="decompression bomb"):
        check_picture(bomb, label="The picture Karlo sent")


def test_claimed_size_past_pillows_guard_is_refused_in_words():
    header_only = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 1, 0, 0, 0, 0))
                   + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b""))
    with pytest.raises(BrokenPicture, match="megapixels"):
        check_picture(header_only)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_cut_off_result_is_refused_without_decoding(fmt, monkeypatch):
    data = encode(photo(200, 150).convert("P") if fmt == "GIF" else photo(200, 150), fmt)
    for cut in (len(data) // 2, len(data) - 2):
        with pytest.raises(BrokenPicture, match="is cut off: the file ends before the picture does") as err:
            check_picture(data[:cut], label="The picture OpenAI sent")
        assert err.value.code == "truncated_image"
    info = check_picture(data)
    assert (info.width, info.height) == (200, 150) and info.mime == f"image/{fmt.lower()}"


def test_corrupt_middle_is_found_by_the_full_decode():
    data = bytearray(encode(photo(200, 150)))
    middle = len(data) // 2
    data[middle:middle + 400] = bytes(400)  # the end marker is there, the compressed data is not
    check_picture(bytes(data))  # cheap check passes...
    with pytest.raises(BrokenPicture, match="damaged|cut off"):
        decode_picture(bytes(data))  # ...the decode when it is stored does not


def test_store_refuses_a_cut_off_picture_and_writes_nothing(tmp_path):
    store = ImageStore(tmp_path / "data")
    data = encode(photo(300, 200))
    with pytest.raises(BrokenPicture, match="cut off"):
        store.put(data[:-3000])
    assert not (tmp_path / "data").exists() or not any(p.is_file() for p in (tmp_path / "data").rglob("*"))


# ------------------------------------------------------------------ a cut-off result from a provider


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_cut_off_result_from_the_provider_is_an_error_row(data_dir):
    whole = encode(photo(256, 256))
    fake = fake_provider.start(whole[: len(whole) * 2 // 3])
    cfg = fake.cfg()
    try:
        with pytest.raises(StudioError) as err:
            openai_images.generate(cfg, model="gpt-image-2", prompt="a lighthouse", size="1024x1024")
    finally:
        fake.server.shutdown()
    assert isinstance(err.value, ProviderDown) and err.value.provider == "openai"
    assert "The picture OpenAI sent is cut off" in err.value.message and "Try again" in err.value.message
    row = record_call(page="generate", action="generate", cfg=cfg, error=err.value, prompt="a lighthouse",
                      model="gpt-image-2", data_dir=data_dir)
    assert row.status == "error" and row.error_code == "truncated_image" and row.output_refs == []


def test_a_result_the_store_cannot_decode_is_an_error_row_not_an_ok_card(data_dir):
    data = bytearray(encode(photo(200, 150)))
    data[len(data) // 2:len(data) // 2 + 400] = bytes(400)  # passes the provider's end-marker check, fails the decode
    result = ImageResult("openai", "gpt-image-2", "/v1/images/generations", [GeneratedImage(bytes(data))])
    cfg = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", "sk-test-0123456789", "environment")
    row = record_call(page="generate", action="generate", cfg=cfg, result=result, prompt="x", data_dir=data_dir)
    assert row.status == "error" and row.output_refs == []
    assert "The picture is damaged" in row.error_message or "cut off" in row.error_message
    _store, ledger = open_store(data_dir)
    assert ledger.frame(statuses="ok").empty and ledger.get(row.id).status == "error"


@pytest.mark.parametrize("damage", ["cut off", "bomb"])
def test_karlo_result_that_is_cut_off_or_a_bomb_is_an_error_in_words(damage):
    from lib.providers.karlo import KarloClient

    whole = encode(photo(256, 256), "WEBP")
    picture = whole[: len(whole) // 2] if damage == "cut off" else png_with_text_bomb()
    fake = fake_provider.start_karlo(picture)
    cfg = ProviderConfig("karlo", "live", f"http://127.0.0.1:{fake.server.server_port}", "kakao-test-0123456789",
                         "environment")
    try:
        with pytest.raises(BrokenPicture) as err:
            KarloClient(cfg, max_retries=0).text_to_image(prompt="a quiet harbour")
    finally:
        fake.server.shutdown()
    assert err.value.provider == "karlo"
    assert ("is cut off" if damage == "cut off" else "decompression bomb") in err.value.message
    assert err.value.message.startswith("The picture Karlo sent")


def test_gemini_picture_part_that_is_cut_off_is_an_error_in_words():
    from lib.providers import gemini

    whole = encode(photo(128, 128))
    with pytest.raises(BrokenPicture, match="The picture Gemini sent is cut off") as err:
        gemini._picture(whole[:-20], "image/png")
    assert err.value.provider == "gemini"
    assert gemini._picture(whole, None).mime == "image/png"


def test_a_broken_input_does_not_lose_the_row(data_dir):
    cfg = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", "sk-test-0123456789", "environment")
    whole = encode(photo(200, 150))
    row = record_call(page="edit", action="edit", cfg=cfg, error=ProviderDown("The call failed.", provider="openai"),
                      prompt="x", model="gpt-image-2", inputs=[whole[: len(whole) // 2]], data_dir=data_dir)
    assert row.status == "error" and row.input_refs == [] and row.usage_detail.get("unstored_images") == 1
