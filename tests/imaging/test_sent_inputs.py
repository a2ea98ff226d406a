"""What goes to the edits endpoint, per model: no more pixels than the model uses, JPEG for an opaque photo,
PNG where transparency (or a lossless upload's exact pixels) matters; and the paste-back at that size."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lib import catalog
from lib.errors import InvalidInput
from lib.imaging import BrokenPicture, keep_outside_mask, normalise_for_edit, normalise_mask
from lib.providers import openai_images
from tests.imaging import fake_provider


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def camera_photo(width: int = 4500, height: int = 3000) -> bytes:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / width * 255, y / height * 255, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    return encode(Image.fromarray(rgb), "JPEG", quality=90)


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_every_editing_model_says_what_input_it_uses():
    for spec in catalog.load().images:
        if spec.can("edit") or spec.can("variation_endpoint"):
            rules = spec.input_rules
            assert 512 <= rules.max_side <= 4096 and rules.formats, spec.id
            assert set(rules.formats) <= {"png", "jpeg", "webp"}, spec.id
    assert catalog.image_model("gpt-image-2").input_rules.max_side == 2048
    assert catalog.image_model("gpt-image-2").input_rules.formats[0] == "jpeg"
    legacy = catalog.image_model("dall-e-2").input_rules
    assert (legacy.max_side, legacy.formats, legacy.square) == (1024, ("png",), True)


def test_camera_photo_goes_to_gpt_image_as_a_2048_px_jpeg():
    result = normalise_for_edit(camera_photo(), catalog.image_model("gpt-image-2").input_rules, filename="IMG_1.jpg")
    img = opened(result.data)
    assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (2048, 1365)) and result.mime == "image/jpeg"
    assert (result.width, result.height) == (2048, 1365)
    assert any("Downscaled from 4500×3000 to 2048×1365 px (the model uses at most 2048 px" in f for f in result.fixes)
    assert not any("Converted" in f for f in result.fixes)  # a photo stays a JPEG: nothing to say


def test_picture_with_transparency_goes_as_a_png():
    rgba = np.zeros((1500, 3000, 4), np.uint8)
    rgba[..., 0], rgba[:, :1500, 3] = 200, 255  # the right half transparent
    result = normalise_for_edit(encode(Image.fromarray(rgba, "RGBA")), catalog.image_model("gpt-image-2").input_rules)
    img = opened(result.data)
    assert (img.format, img.mode, img.size) == ("PNG", "RGBA", (2048, 1024)) and result.mime == "image/png"
    assert np.asarray(img)[512, 1800, 3] == 0 and np.asarray(img)[512, 200, 3] == 255


def test_small_lossless_upload_keeps_its_exact_pixels():
    pixels = np.random.default_rng(3).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    result = normalise_for_edit(encode(Image.fromarray(pixels)), catalog.image_model("gpt-image-2").input_rules)
    assert opened(result.data).format == "PNG"
    assert np.array_equal(np.asarray(opened(result.data).convert("RGB")), pixels)


def test_dall_e_2_gets_a_1024_square_png():
    result = normalise_for_edit(camera_photo(), catalog.image_model("dall-e-2").input_rules)
    img = opened(result.data)
    assert (img.format, img.mode, img.size) == ("PNG", "RGBA", (1024, 1024))
    assert len(result.data) <= 4_000_000


def test_the_edit_call_sends_the_jpeg_as_a_jpeg(tmp_path):
    sent = normalise_for_edit(camera_photo(), catalog.image_model("gpt-image-2").input_rules)
    mask = normalise_mask(encode(Image.new("L", (300, 200), 255)), (sent.width, sent.height), legacy=False)
    fake = fake_provider.start(encode(Image.new("RGB", (2048, 1360), "blue")))
    try:
        result = openai_images.edit(fake.cfg(), model="gpt-image-2", prompt="a red kite in the sky",
                                    images=[("image-1.png", sent.data)], mask=mask.data)
    finally:
        fake.server.shutdown()
    image, mask_part = (next(u for u in fake.uploads if u.field == name) for name in ("image", "mask"))
    assert (image.filename, image.content_type) == ("image-1.jpg", "image/jpeg")  # the type of the bytes, not the name
    assert opened(image.data).size == (2048, 1365) and image.data == sent.data
    assert mask_part.content_type == "image/png" and opened(mask_part.data).size == (2048, 1365)
    assert (result.images[0].width, result.images[0].height) == (2048, 1360)


def test_dall_e_2_refuses_a_jpeg_before_sending():
    jpeg = encode(Image.new("RGB", (512, 512), "white"), "JPEG")
    fake = fake_provider.start(b"")
    try:
        with pytest.raises(InvalidInput, match="dall-e-2 takes PNG images and photo.jpg is JPEG"):
            openai_images.edit(fake.cfg(), model="dall-e-2", prompt="x", images=[("photo.jpg", jpeg)])
    finally:
        fake.server.shutdown()
    assert fake.uploads == []  # nothing was sent


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_paste_back_keeps_the_edits_format_at_the_originals_size(fmt):
    y, x = np.mgrid[0:300, 0:400]
    original_img = Image.fromarray(np.stack([x * 255 // 400, y * 255 // 300, (x + y) % 256], -1).astype(np.uint8))
    original = encode(original_img)
    edited = encode(Image.new("RGB", (400, 304), (9, 200, 9)), fmt)  # a side rounded up to a multiple of 16
    mask = np.full((300, 400, 4), 255, np.uint8)
    mask[100:200, 100:300, 3] = 0
    merged = opened(keep_outside_mask(original, edited, encode(Image.fromarray(mask, "RGBA"))))
    assert merged.format == fmt and merged.size == (400, 300)
    out, source = np.asarray(merged.convert("RGB")).astype(int), np.asarray(original_img).astype(int)
    if fmt == "PNG":
        assert np.array_equal(out[:100], source[:100])  # kept: the original, exactly
    else:  # lossy: the right picture in each area, within the format's loss
        assert np.abs(out[:90, :, :2] - source[:90, :, :2]).mean() < 3
    assert np.abs(out[120:180, 120:280] - (9, 200, 9)).mean() < 3  # edited: the model's picture


def test_cut_off_edit_gives_words_not_a_traceback():
    original = encode(Image.new("RGB", (64, 64)))
    mask = encode(Image.new("RGBA", (64, 64), (255, 255, 255, 0)))
    edited = encode(Image.fromarray(np.random.default_rng(5).integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    with pytest.raises(BrokenPicture, match="The edited picture is cut off"):
        keep_outside_mask(original, edited[: len(edited) // 2], mask)


def test_paste_back_is_the_same_with_or_without_the_remembered_pixels():
    from lib.imaging import forget_decoded

    pixels = np.random.default_rng(6).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    sent = normalise_for_edit(encode(Image.fromarray(pixels)), catalog.image_model("gpt-image-2").input_rules)
    drawn = np.full((300, 400, 4), 255, np.uint8)
    drawn[50:150, 60:200, 3] = 0
    mask = normalise_mask(encode(Image.fromarray(drawn, "RGBA")), (400, 300), legacy=False).data
    edited = encode(Image.new("RGB", (400, 300), "orange"))
    remembered = keep_outside_mask(sent.data, edited, mask)
    again = keep_outside_mask(sent.data, edited, mask)  # the remembered original was not painted over
    forget_decoded()
    decoded = keep_outside_mask(sent.data, edited, mask)
    assert remembered == again == decoded
    out = np.asarray(opened(decoded).convert("RGB"))
    assert np.array_equal(out[200:], pixels[200:]) and (out[60:140, 70:190] == (255, 165, 0)).all()


def test_a_picture_with_the_same_bytes_as_a_mask_is_still_the_picture():
    white = encode(Image.new("RGBA", (64, 64), (255, 255, 255, 255)))
    sent = normalise_for_edit(white, catalog.image_model("dall-e-2").input_rules)
    mask = normalise_mask(white, (64, 64), legacy=False)  # all opaque: keeps everything
    assert sent.data == mask.data  # one PNG, remembered as a picture and as a mask
    merged = opened(keep_outside_mask(sent.data, encode(Image.new("RGB", (64, 64), "black")), mask.data))
    assert np.asarray(merged.convert("RGB")).min() == 255  # the white original everywhere, not the mask's selector
