"""Masks: read whatever a person made, match it to the image, and keep the unmasked pixels exactly."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lib.errors import InvalidInput
from lib.imaging import (
    invert_mask,
    keep_outside_mask,
    mask_coverage,
    mask_from_painting,
    normalise_mask,
    overlay_mask_preview,
)


def encode(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def alpha_of(png: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(png))
    assert img.mode == "RGBA"
    return np.asarray(img.getchannel("A"))


def rgba_mask(size, hole) -> bytes:
    """Opaque mask with a transparent rectangle ``hole`` = (left, top, right, bottom) to edit."""
    arr = np.full((size[1], size[0], 4), 255, np.uint8)
    left, top, right, bottom = hole
    arr[top:bottom, left:right, 3] = 0
    return encode(Image.fromarray(arr, "RGBA"))


def noise(size, seed) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    arr[..., 3] = 255
    return encode(Image.fromarray(arr, "RGBA"))


def test_clean_mask_passes_unchanged_with_its_coverage():
    result = normalise_mask(rgba_mask((200, 100), (0, 0, 50, 100)), (200, 100), legacy=False)
    assert result.fixes == [] and result.warnings == []
    assert result.coverage == pytest.approx(0.25)
    assert (alpha_of(result.data)[:, :50] == 0).all() and (alpha_of(result.data)[:, 50:] == 255).all()


def test_mask_of_another_size_is_resized_to_the_image():
    result = normalise_mask(rgba_mask((100, 50), (50, 0, 100, 50)), (400, 200), legacy=False)
    assert (result.width, result.height) == (400, 200)
    alpha = alpha_of(result.data)
    assert alpha.shape == (200, 400)
    assert (alpha[:, 210:] == 0).all() and (alpha[:, :190] == 255).all()
    assert any("Resized the mask from 100×50 to 400×200" in f for f in result.fixes)
    assert not any("stretched" in f for f in result.fixes)


def test_mask_of_another_shape_says_it_was_stretched():
    result = normalise_mask(rgba_mask((100, 100), (0, 0, 50, 100)), (400, 200), legacy=False)
    assert any("stretched" in f for f in result.fixes)


def test_mask_without_alpha_is_read_from_brightness_black_edits():
    grey = Image.new("L", (120, 120), 255)
    grey.paste(0, (0, 0, 60, 120))  # black left half: the area to edit
    result = normalise_mask(encode(grey, "JPEG"), (120, 120), legacy=False, filename="mask.jpg")
    alpha = alpha_of(result.data)
    assert (alpha[:, :55] == 0).all() and (alpha[:, 65:] == 255).all()
    assert result.coverage == pytest.approx(0.5, abs=0.02)
    assert any("black = edit, white = keep" in f for f in result.fixes)


def test_opaque_rgba_mask_with_a_drawing_is_read_from_brightness():
    arr = np.full((64, 64, 4), 255, np.uint8)
    arr[:32, :, :3] = 0  # black top half, fully opaque everywhere
    result = normalise_mask(encode(Image.fromarray(arr, "RGBA")), (64, 64), legacy=False)
    assert result.coverage == pytest.approx(0.5)


def test_all_opaque_mask_is_flagged_as_editing_nothing():
    result = normalise_mask(encode(Image.new("RGBA", (64, 64), (255, 255, 255, 255))), (64, 64), legacy=False)
    assert result.coverage == 0.0
    assert len(result.warnings) == 1 and "nothing would be edited" in result.warnings[0]


def test_all_white_mask_without_alpha_is_flagged_too():
    result = normalise_mask(encode(Image.new("RGB", (64, 64), "white"), "JPEG"), (64, 64), legacy=False)
    assert result.coverage == 0.0 and "nothing would be edited" in result.warnings[0]


def test_all_transparent_mask_is_flagged_as_editing_everything():
    result = normalise_mask(encode(Image.new("RGBA", (64, 64), (0, 0, 0, 0))), (64, 64), legacy=False)
    assert result.coverage == 1.0
    assert "whole image would be edited" in result.warnings[0]


def test_soft_edges_are_made_hard_and_reported():
    arr = np.full((10, 10, 4), 255, np.uint8)
    arr[:, :3, 3] = 0
    arr[:, 3:5, 3] = 60  # mostly transparent: edited
    arr[:, 5:7, 3] = 200  # mostly opaque: kept
    result = normalise_mask(encode(Image.fromarray(arr, "RGBA")), (10, 10), legacy=False)
    assert set(np.unique(alpha_of(result.data))) == {0, 255}
    assert result.coverage == pytest.approx(0.5)
    assert any("soft edges" in f for f in result.fixes)


def test_legacy_mask_is_cropped_like_its_image():
    # Made for a 300x200 photo; the photo was centre-cropped to 200x200 for dall-e-2.
    result = normalise_mask(rgba_mask((300, 200), (0, 0, 50, 200)), (200, 200), legacy=True)
    assert result.coverage == 0.0  # the left strip was cut away with the image's
    assert any("Cropped the mask's centre square" in f for f in result.fixes)


def test_broken_mask_is_refused_as_a_mask():
    with pytest.raises(InvalidInput, match="“m.png” contains text") as err:
        normalise_mask(b"not a mask at all", (64, 64), legacy=False, filename="m.png")
    assert err.value.param == "mask"


def test_painting_becomes_a_mask_at_the_image_size():
    canvas = np.zeros((300, 400, 4), np.uint8)  # the canvas is 400x300, the image 1600x1200
    canvas[100:200, 100:200] = (255, 0, 170, 140)  # a semi-transparent stroke
    mask = mask_from_painting(canvas, (1600, 1200))
    alpha = alpha_of(mask)
    assert alpha.shape == (1200, 1600)
    assert (alpha[420:780, 420:780] == 0).all()  # painted = edit
    assert alpha[0, 0] == 255 and alpha[1000, 1500] == 255
    assert mask_coverage(mask) == pytest.approx(100 * 100 / (400 * 300), abs=0.003)


def test_painting_as_png_bytes_works_the_same():
    canvas = np.zeros((50, 50, 4), np.uint8)
    canvas[:, :25, 3] = 255
    assert mask_coverage(mask_from_painting(encode(Image.fromarray(canvas, "RGBA")), (50, 50))) == pytest.approx(0.5)


def test_empty_painting_edits_nothing():
    assert mask_coverage(mask_from_painting(np.zeros((30, 40, 4), np.uint8), (80, 60))) == 0.0


def test_invert_swaps_edit_and_keep():
    mask = rgba_mask((100, 100), (0, 0, 30, 100))
    inverted = invert_mask(mask)
    assert mask_coverage(inverted) == pytest.approx(0.7)
    assert (alpha_of(inverted)[:, :30] == 255).all()
    assert (alpha_of(invert_mask(inverted)) == alpha_of(mask)).all()


def test_preview_tints_only_the_edit_area():
    image = encode(Image.new("RGBA", (100, 100), (0, 128, 0, 255)))
    preview = np.asarray(Image.open(io.BytesIO(overlay_mask_preview(image, rgba_mask((100, 100), (0, 0, 50, 100))))))
    assert preview[50, 80].tolist() == [0, 128, 0, 255]  # kept: untouched
    assert preview[50, 20, 0] > 100  # edited: pink tint


def test_keep_outside_mask_leaves_unmasked_pixels_identical():
    original, edited = noise((256, 192), 1), noise((256, 192), 2)
    mask = rgba_mask((256, 192), (64, 48, 192, 144))
    merged = np.asarray(Image.open(io.BytesIO(keep_outside_mask(original, edited, mask))))
    orig = np.asarray(Image.open(io.BytesIO(original)))
    edit = np.asarray(Image.open(io.BytesIO(edited)))
    keep = alpha_of(mask) == 255
    assert np.array_equal(merged[keep], orig[keep])
    assert np.array_equal(merged[~keep], edit[~keep])


def test_keep_outside_mask_resizes_an_edit_of_another_size():
    original = noise((200, 100), 3)
    edited = encode(Image.new("RGBA", (400, 200), (9, 9, 9, 255)))
    mask = rgba_mask((200, 100), (0, 0, 100, 100))
    merged_png = keep_outside_mask(original, edited, mask)
    merged = np.asarray(Image.open(io.BytesIO(merged_png)))
    assert merged.shape == (100, 200, 4)
    assert np.array_equal(merged[:, 100:], np.asarray(Image.open(io.BytesIO(original)))[:, 100:])
    assert (merged[:, :100, :3] == 9).all()
