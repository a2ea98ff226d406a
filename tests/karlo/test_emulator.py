"""The emulator's Karlo wire protocol, driven with plain requests over loopback."""
from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
import requests
from PIL import Image

AUTH = {"Authorization": "KakaoAK kakao-test-key"}


def post(emulator, endpoint, body, headers=None):
    return requests.post(f"{emulator.karlo_base_url}/v2/inference/karlo/{endpoint}", json=body,
                         headers={**AUTH, **(headers or {})}, timeout=30)


def b64_png(img: Image.Image, fmt="PNG") -> str:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return base64.b64encode(buf.getvalue()).decode()


def decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def t2i(emulator, **body):
    body = {"prompt": "a lighthouse at dusk", "return_type": "base64_string", **body}
    r = post(emulator, "t2i", body)
    assert r.status_code == 200, r.text
    return r.json()


def test_t2i_reply_has_the_documented_shape(emulator):
    reply = t2i(emulator, samples=3, version="v2.1", width=768, height=512)
    assert set(reply) == {"id", "model_version", "images"}
    assert reply["model_version"].startswith("v2.1")
    assert len(reply["images"]) == 3
    for entry in reply["images"]:
        assert set(entry) == {"id", "seed", "image", "nsfw_content_detected", "nsfw_score"}
        assert 0 <= entry["seed"] <= 4294967295
        assert entry["nsfw_content_detected"] is None and entry["nsfw_score"] is None  # checker off
        img = decode(entry["image"])
        assert (img.format, img.size) == ("WEBP", (768, 512))  # webp is the default format
    assert len({e["seed"] for e in reply["images"]}) == 3  # random seeds are chosen and reported


def test_same_seed_same_bytes_new_seed_or_prompt_new_picture(emulator):
    first = t2i(emulator, seed=[7, 8], samples=2, image_format="png")["images"]
    again = t2i(emulator, seed=[7, 8], samples=2, image_format="png")["images"]
    assert [e["image"] for e in first] == [e["image"] for e in again]
    assert first[0]["image"] != first[1]["image"]
    other_prompt = t2i(emulator, prompt="a red tram in snow", seed=[7], image_format="png")["images"][0]
    a = np.asarray(decode(first[0]["image"]).convert("RGB"), dtype=float)
    b = np.asarray(decode(other_prompt["image"]).convert("RGB"), dtype=float)
    assert np.abs(a - b).mean() > 20  # visibly different, not a few changed pixels


def test_format_quality_and_nsfw_checker(emulator):
    png = t2i(emulator, image_format="png", nsfw_checker=True)["images"][0]
    assert decode(png["image"]).format == "PNG"
    assert isinstance(png["nsfw_content_detected"], bool) and 0 <= png["nsfw_score"] <= 1
    low = t2i(emulator, image_format="jpeg", image_quality=5, seed=[1])["images"][0]["image"]
    high = t2i(emulator, image_format="jpeg", image_quality=95, seed=[1])["images"][0]["image"]
    assert decode(low).format == "JPEG" and len(low) < len(high)


def test_t2i_upscale_returns_the_bigger_picture(emulator):
    entry = t2i(emulator, upscale=True, scale=2, width=384, height=512, image_format="png")["images"][0]
    assert decode(entry["image"]).size == (768, 1024)


def test_url_results_are_served_then_expire(emulator):
    emulator.state.karlo_url_ttl_s = 0.5
    try:
        reply = post(emulator, "t2i", {"prompt": "a fox"}).json()  # url is Karlo's default
    finally:
        emulator.state.karlo_url_ttl_s = 600.0
    url = reply["images"][0]["image"]
    assert url.startswith(emulator.base_url + "/_emulator/karlo/") and ".webp?" in url
    got = requests.get(url, timeout=10)
    assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(got.content)).size == (512, 512)
    time.sleep(0.6)
    expired = requests.get(url, timeout=10)
    assert expired.status_code == 403 and "expired" in expired.text


def test_variation_is_derived_from_its_input(emulator):
    src = Image.new("RGB", (512, 512), (230, 40, 40))
    src.paste((20, 40, 220), (0, 256, 512, 512))  # red top, blue bottom
    r = post(emulator, "variations", {"image": b64_png(src), "return_type": "base64_string", "image_format": "png"})
    assert r.status_code == 200, r.text
    out = np.asarray(decode(r.json()["images"][0]["image"]).convert("RGB"), dtype=float)
    top, bottom = out[:200].mean(axis=(0, 1)), out[312:].mean(axis=(0, 1))
    assert top[0] > top[2] + 80 and bottom[2] > bottom[0] + 80  # still red above blue


def test_inpainting_changes_only_the_black_area(emulator):
    src = Image.new("RGB", (512, 512), (200, 200, 200))
    mask = Image.new("L", (512, 512), 255)
    mask.paste(0, (128, 128, 384, 384))  # black = repaint
    r = post(emulator, "inpainting", {"image": b64_png(src), "mask": b64_png(mask), "prompt": "a window",
                                      "return_type": "base64_string", "image_format": "png"})
    assert r.status_code == 200, r.text
    out = np.asarray(decode(r.json()["images"][0]["image"]).convert("RGB"))
    keep = np.asarray(mask) != 0
    assert (out[keep] == 200).all()
    assert (out[~keep] != 200).any(axis=1).mean() > 0.9


def test_upscale_resamples_each_image(emulator):
    small = Image.new("RGB", (300, 200), (10, 120, 90))
    r = post(emulator, "upscale", {"images": [b64_png(small), b64_png(small)], "scale": 4,
                                   "return_type": "base64_string", "image_format": "png"})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"images"}
    assert [decode(b).size for b in r.json()["images"]] == [(1200, 800)] * 2


def test_nsfw_checker_shape(emulator):
    r = post(emulator, "nsfw_checker", {"images": [b64_png(Image.new("RGB", (64, 64), (40, 90, 200)))]})
    assert r.status_code == 200
    assert r.json() == {"results": [{"nsfw_content_detected": False, "nsfw_score": 0.0}]}


@pytest.mark.parametrize("headers, code", [({}, -401), ({"Authorization": "KakaoAK my-invalid-key"}, -401),
                                           ({"Authorization": "Bearer abc"}, -401)])
def test_bad_auth_is_401(emulator, headers, code):
    r = requests.post(f"{emulator.karlo_base_url}/v2/inference/karlo/t2i", json={"prompt": "x"}, headers=headers, timeout=10)
    assert r.status_code == 401 and r.json()["code"] == code


@pytest.mark.parametrize("body, param", [
    ({"prompt": "고양이"}, "prompt"),
    ({"prompt": "x" * 257}, "prompt"),
    ({"prompt": "x", "negative_prompt": "y" * 257}, "negative_prompt"),
    ({"prompt": "x", "width": 1024}, "width"),  # v2.0 (no version given) stops at 640
    ({"prompt": "x", "version": "v2.1", "height": 1288}, "height"),
    ({"prompt": "x", "width": 516}, "width"),
    ({"prompt": "x", "samples": 9}, "samples"),
    ({"prompt": "x", "samples": 2, "seed": [1]}, "seed"),
    ({"prompt": "x", "seed": [4294967296]}, "seed"),
    ({"prompt": "x", "num_inference_steps": 9}, "num_inference_steps"),
    ({"prompt": "x", "guidance_scale": 20.5}, "guidance_scale"),
    ({"prompt": "x", "scheduler": "euler"}, "scheduler"),
    ({"prompt": "x", "image_format": "gif"}, "image_format"),
    ({"prompt": "x", "image_quality": 0}, "image_quality"),
    ({"prompt": "x", "scale": 3}, "scale"),
    ({"prompt": "x", "upscale": "yes"}, "upscale"),
    ({"prompt": "x", "return_type": "base64_url"}, "return_type"),
    ({"prompt": "x", "version": "v3"}, "version"),
    ({"prompt": "x", "width": 640, "upscale": True, "scale": 4}, "scale"),  # 640 × 4 > 2048
])
def test_bad_parameters_are_minus_2_naming_the_field(emulator, body, param):
    r = post(emulator, "t2i", body)
    assert r.status_code == 400
    assert r.json()["code"] == -2 and f"'{param}'" in r.json()["msg"]


@pytest.mark.parametrize("fault, status, code", [("-9", 400, -9), ("-10", 400, -10), ("-401", 401, -401),
                                                 ("-2", 400, -2), ("500", 500, -1), ("503", 503, -9798),
                                                 ("429", 429, -10)])
def test_faults_from_header_and_prompt(emulator, fault, status, code):
    by_header = post(emulator, "t2i", {"prompt": "x"}, {"X-Emulator-Fault": fault})
    by_prompt = post(emulator, "t2i", {"prompt": f"x [fault:{fault}]"})
    for r in (by_header, by_prompt):
        assert r.status_code == status and r.json()["code"] == code


def test_html502_and_malformed_faults(emulator):
    r = post(emulator, "upscale", {"images": []}, {"X-Emulator-Fault": "html502"})
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html") and "nginx" in r.text
    r = post(emulator, "t2i", {"prompt": "x"}, {"X-Emulator-Fault": "malformed"})
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()


def test_call_log_keeps_bodies_but_not_keys_or_huge_images(emulator, emulator_calls):
    img = b64_png(Image.new("RGB", (64, 64)))
    post(emulator, "nsfw_checker", {"images": [img]})
    call = emulator_calls[-1]
    assert call["path"] == "/v2/inference/karlo/nsfw_checker"
    assert "authorization" not in {k.lower() for k in call["headers"]}
    assert call["body"]["images"][0].startswith("<base64 ")


# The assumptions below are rows 43-48 of docs/emulator-assumptions.md: change them together.


def test_assumed_no_version_means_v2_0(emulator):
    body = t2i(emulator, width=640, height=384)
    assert body["model_version"].startswith("v2.0")
    assert t2i(emulator, version="v2.1", width=1280, height=256)["model_version"].startswith("v2.1")


@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_assumed_hangul_prompts_are_refused_with_minus_2(emulator, field):
    body = {"prompt": "a lighthouse", field: "밤바다의 등대"}
    r = post(emulator, "t2i", body)
    assert r.status_code == 400 and r.json()["code"] == -2 and f"'{field}'" in r.json()["msg"]
    assert "English" in r.json()["msg"]


def test_assumed_inpainting_takes_any_size_and_keeps_it(emulator):
    src = Image.new("RGB", (300, 200), (90, 140, 200))
    mask = Image.new("L", (300, 200), 255)
    mask.paste(0, (50, 50, 150, 150))
    r = post(emulator, "inpainting", {"image": b64_png(src), "mask": b64_png(mask), "prompt": "a boat",
                                      "return_type": "base64_string", "image_format": "png"})
    assert r.status_code == 200, r.text[:300]
    out = decode(r.json()["images"][0]["image"])
    assert out.size == (300, 200)
    keep = np.asarray(mask) != 0
    assert (np.asarray(out.convert("RGB"))[keep] == (90, 140, 200)).all()
