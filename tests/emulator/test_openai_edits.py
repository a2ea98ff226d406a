"""Image edits (masks, several images, resizing, streaming) and legacy variations through the emulator."""
from __future__ import annotations

import base64
import warnings

import numpy as np
import pytest
import requests

from tests.emulator.helpers import correlation, decode, photo, png_bytes

GPT = "gpt-image-2"


def _pixels(item_b64: str) -> np.ndarray:
    return np.asarray(decode(base64.b64decode(item_b64)))


# ------------------------------------------------------------------ edits


def _edit(client, image, mask=None, **kwargs):
    files = {"image": image if isinstance(image, list) else ("in.png", image, "image/png")}
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    return client.images.edit(model=kwargs.pop("model", GPT), prompt=kwargs.pop("prompt", "add a red balloon"),
                              **files, **kwargs)


def test_gpt_image_edit_treats_the_mask_as_guidance(client):
    """Like the real GPT Image models: new content past the mask's edge, the rest re-drawn, nothing byte-exact."""
    src = photo(512, 512, seed=1)
    mask = np.full((512, 512, 4), 255, np.uint8)
    mask[100:300, 50:250, 3] = 0  # the area to edit
    r = _edit(client, png_bytes(src), png_bytes(mask))
    out = _pixels(r.data[0].b64_json)[..., :3]
    assert out.shape == src.shape  # size auto keeps the input's size
    diff = np.abs(out.astype(int) - src.astype(int)).mean(axis=2)
    assert diff[100:300, 50:250].mean() > 20  # the masked area is repainted
    assert diff[300:306, 100:200].mean() > 8  # and the repaint spills just past its lower edge
    far = diff[400:, 350:]  # well away from the mask: the same picture, re-drawn
    assert 0.3 < far.mean() < 6 and (far > 0).mean() > 0.5
    assert correlation(out[400:, 350:], src[400:, 350:]) > 0.98
    assert r.usage.input_tokens_details.image_tokens > 0


def test_edit_without_mask_restyles_but_stays_recognisable(client):
    src = photo(256, 256, seed=2)
    out = _pixels(_edit(client, png_bytes(src)).data[0].b64_json)
    assert not np.array_equal(out[..., :3], src)
    assert correlation(out, src) > 0.7
    assert correlation(out, src) > correlation(out, photo(256, 256, seed=3)) + 0.4


def test_edit_resizes_input_to_requested_size(client, spec):
    src = photo(256, 256, seed=4)
    r = _edit(client, png_bytes(src), size="1024x1024")
    spec.validate(r.model_dump(mode="json", exclude_none=True), "ImagesResponse")
    assert decode(base64.b64decode(r.data[0].b64_json)).size == (1024, 1024)
    assert r.size == "1024x1024"


def test_edit_with_several_images_uses_all_of_them(client, emulator_calls):
    a, b = png_bytes(photo(256, 256, seed=5)), png_bytes(photo(256, 256, seed=6))
    both = _edit(client, [("a.png", a, "image/png"), ("b.png", b, "image/png")])
    alone = _edit(client, a)
    assert both.data[0].b64_json != alone.data[0].b64_json
    logged = emulator_calls[0]["body"]
    assert [p["size"] for p in logged["image[]"]] == [len(a), len(b)]  # sizes logged, never bytes
    assert both.usage.input_tokens_details.image_tokens == 2 * alone.usage.input_tokens_details.image_tokens


def test_edit_mask_must_match_size_and_have_alpha(http):
    src = png_bytes(photo(256, 256, seed=7))
    small_mask = png_bytes(np.zeros((128, 128, 4), np.uint8))
    opaque_mask = png_bytes(np.zeros((256, 256, 3), np.uint8))
    for mask, words in ((small_mask, "same dimensions"), (opaque_mask, "alpha")):
        r = http.post("/images/edits", data={"model": GPT, "prompt": "x"},
                      files={"image": ("in.png", src, "image/png"), "mask": ("m.png", mask, "image/png")})
        assert r.status_code == 400
        assert r.json()["error"]["param"] == "mask" and words in r.json()["error"]["message"]


def test_edit_rejects_non_images_and_missing_image(http):
    r = http.post("/images/edits", data={"model": GPT, "prompt": "x"},
                  files={"image": ("notes.txt", b"hello", "text/plain")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "image"
    r = http.post("/images/edits", data={"model": GPT, "prompt": "x"}, files={"mask": ("m.png", b"x", "image/png")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "image"


def test_dalle2_edit_needs_a_square_png(compat_http):
    http = compat_http
    wide = png_bytes(photo(512, 256, seed=8))
    r = http.post("/images/edits", data={"model": "dall-e-2", "prompt": "x", "size": "512x512"},
                  files={"image": ("in.png", wide, "image/png")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "image"


def test_dalle2_edit_uses_the_images_own_transparency_as_mask(compat_client, compat_http):
    client, http = compat_client, compat_http
    src = np.dstack([photo(256, 256, seed=14), np.full((256, 256), 255, np.uint8)])
    r = http.post("/images/edits", data={"model": "dall-e-2", "prompt": "x", "size": "256x256"},
                  files={"image": ("in.png", png_bytes(src), "image/png")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "image"  # nothing transparent to edit
    src[:128, :, 3] = 0  # the top half is to be edited
    out = _pixels(_edit(client, png_bytes(src), model="dall-e-2", size="256x256",
                        response_format="b64_json").data[0].b64_json)[..., :3]
    assert np.array_equal(out[128:], src[128:, :, :3])
    assert np.abs(out[:128].astype(int) - src[:128, :, :3].astype(int)).mean() > 20


def test_streamed_edit_uses_image_edit_events(client, spec):
    events = list(_edit(client, png_bytes(photo(256, 256, seed=9)), model="gpt-image-2", stream=True,
                        partial_images=1, quality="low", size="1024x1024"))  # the spec's event size enum is stale
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    spec.validate(events[-1].model_dump(mode="json", exclude_none=True), "ImageEditCompletedEvent")


# ------------------------------------------------------------------ variations


def _variations(client, image: bytes, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # retired upstream; the legacy contract still exists
        return client.images.create_variation(image=("in.png", image, "image/png"), model="dall-e-2", **kwargs)


def test_variations_are_derived_from_the_input_and_differ(compat_client):
    client = compat_client
    src = photo(256, 256, seed=10)
    unrelated = photo(256, 256, seed=11)
    r = _variations(client, png_bytes(src), n=3, size="256x256", response_format="b64_json")
    pics = [_pixels(d.b64_json) for d in r.data]
    assert len({p.tobytes() for p in pics}) == 3
    for p in pics:
        assert p.shape == (256, 256, 3)
        assert correlation(p, src) > 0.6
        assert correlation(p, src) > abs(correlation(p, unrelated)) + 0.4


def test_variation_urls_by_default(compat_client):
    client = compat_client
    r = _variations(client, png_bytes(photo(256, 256, seed=12)), size="512x512")
    got = requests.get(r.data[0].url, timeout=10)
    assert decode(got.content).size == (512, 512)


@pytest.mark.parametrize("form,image,param", [
    ({"model": "gpt-image-2"}, (256, 256), "model"),
    ({"model": "dall-e-2", "n": "11"}, (256, 256), "n"),
    ({"model": "dall-e-2", "size": "1024x1536"}, (256, 256), "size"),
    ({"model": "dall-e-2"}, (256, 128), "image"),
])
def test_variation_validation(compat_http, form, image, param):
    http = compat_http
    w, h = image
    r = http.post("/images/variations", data=form, files={"image": ("in.png", png_bytes(photo(w, h, 13)), "image/png")})
    assert r.status_code == 400 and r.json()["error"]["param"] == param
