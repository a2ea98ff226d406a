"""PyKakao 0.0.7's own Karlo client against the emulator, and body parity with our client.

PyKakao hard-codes https://api.kakaobrain.com, so its module's ``requests.post``
is patched only to rewrite that host to the emulator (karlo-api.md §3).

Parity, stated exactly: for the same call our client's JSON body equals
PyKakao's except that
  * ours adds ``version`` ("v2.1" by default) to t2i and variations — PyKakao has
    no way to send it (and the emulator then assumes v2.0);
  * ours defaults ``return_type`` to "base64_string" where PyKakao defaults to
    "url" (Karlo URLs expire in about ten minutes, so we avoid them).
With ``return_type="url"`` passed to ours, only ``version`` differs.  Upscale and
nsfw_checker carry no version, so they match exactly once return_type agrees.
"""
from __future__ import annotations

import io
from unittest import mock

import pytest
import requests
from PIL import Image
from PyKakao import Karlo

from lib.config import ProviderConfig
from lib.providers.karlo import KarloClient

KAKAO = "https://api.kakaobrain.com"
KEY = "kakao-test-key-0123456789"


@pytest.fixture
def pykakao(emulator):
    real = requests.post

    def to_emulator(url, *args, **kwargs):
        kwargs.setdefault("timeout", 30)  # PyKakao sets none; a test must not hang
        return real(url.replace(KAKAO, emulator.karlo_base_url), *args, **kwargs)

    with mock.patch("PyKakao.api.requests.post", side_effect=to_emulator):
        yield Karlo(service_key=KEY)


@pytest.fixture
def ours(emulator):
    return KarloClient(ProviderConfig("karlo", "live", emulator.karlo_base_url, KEY, "environment"), max_retries=0)


def photo_b64(karlo: Karlo, size=(320, 320)) -> str:
    img = Image.new("RGB", size, (200, 120, 40))
    img.paste((30, 90, 200), (0, size[1] // 2, size[0], size[1]))
    return karlo.image_to_string(img)  # PyKakao's own encoding, line breaks and all


def last_two_bodies(calls):
    assert len(calls) >= 2, calls
    return calls[-2]["body"], calls[-1]["body"]


# ---------------------------------------------------------------------------- PyKakao against the emulator

def test_pykakao_text_to_image_and_its_url_download(pykakao, emulator_calls):
    reply = pykakao.text_to_image("a lighthouse in fog", samples=2)
    assert reply["model_version"].startswith("v2.0")  # no version sent: the emulator assumes v2.0
    assert [set(e) for e in reply["images"]] == [{"id", "seed", "image", "nsfw_content_detected", "nsfw_score"}] * 2
    first = pykakao.get_first_image_from_response(reply)  # PyKakao fetches the URL itself
    assert first is not None and first.size == (512, 512)
    headers = emulator_calls[-1]["headers"]
    assert headers["content-type"] == "application/json"


def test_pykakao_base64_round_trip(pykakao):
    reply = pykakao.text_to_image("a lighthouse in fog", return_type="base64_string", image_format="png")
    img = pykakao.string_to_image(reply["images"][0]["image"], mode="RGB")
    assert img.size == (512, 512)


def test_pykakao_variation_upscale_and_nsfw(pykakao):
    src = photo_b64(pykakao)
    varied = pykakao.transform_image(src, return_type="base64_string")
    assert pykakao.string_to_image(varied["images"][0]["image"]).size == (512, 512)
    upscaled = pykakao.upscale_image([src], scale=2, return_type="base64_string")
    assert pykakao.string_to_image(upscaled["images"][0]).size == (640, 640)
    assert set(pykakao.check_nsfw([src])["results"][0]) == {"nsfw_content_detected", "nsfw_score"}


def test_pykakao_sees_kakao_errors_as_dicts(pykakao, emulator):
    assert pykakao.text_to_image("a cat [fault:-9]")["code"] == -9
    assert pykakao.text_to_image("a cat", width=1024)["code"] == -2  # v2.1 sizes are out of PyKakao's reach
    assert Karlo(service_key="my-invalid-key").text_to_image("a cat")["code"] == -401
    with pytest.raises(requests.exceptions.JSONDecodeError):  # PyKakao has no error handling for a proxy page
        pykakao.text_to_image("a cat [fault:html502]")


# ---------------------------------------------------------------------------- parity

def test_parity_t2i_defaults(pykakao, ours, emulator_calls):
    pykakao.text_to_image("a lighthouse in fog")
    ours.text_to_image("a lighthouse in fog")
    theirs, mine = last_two_bodies(emulator_calls)
    assert set(mine) - set(theirs) == {"version"} and set(theirs) - set(mine) == set()
    assert mine["version"] == "v2.1"
    assert (theirs["return_type"], mine["return_type"]) == ("url", "base64_string")
    drop = {"version", "return_type"}
    assert {k: v for k, v in mine.items() if k not in drop} == {k: v for k, v in theirs.items() if k not in drop}


def test_parity_t2i_every_field_set(pykakao, ours, emulator_calls):
    call = dict(prompt="a lighthouse in fog", negative_prompt="blurry, text", width=640, height=384, upscale=True,
                scale=2, image_format="png", image_quality=90, samples=2, return_type="url",
                prior_num_inference_steps=30, prior_guidance_scale=7.5, num_inference_steps=40, guidance_scale=9.0,
                scheduler="decoder_ddpm_v_prediction", seed=[1, 4294967295], nsfw_checker=True)
    pykakao.text_to_image(**call)
    ours.text_to_image(**call)
    theirs, mine = last_two_bodies(emulator_calls)
    assert {k: v for k, v in mine.items() if k != "version"} == theirs


def test_parity_variations(pykakao, ours, emulator_calls):
    src = photo_b64(pykakao)
    pykakao.transform_image(src, prompt="autumn colours", samples=2, seed=[3, 4], return_type="url")
    ours.transform_image(src, prompt="autumn colours", samples=2, seed=[3, 4], return_type="url")
    theirs, mine = last_two_bodies(emulator_calls)
    assert {k: v for k, v in mine.items() if k != "version"} == theirs
    assert mine["image"] == theirs["image"] == f"<base64 {len(src)} chars>"  # the same text, passed through as is


def test_parity_upscale(pykakao, ours, emulator_calls):
    src = photo_b64(pykakao, (200, 100))
    pykakao.upscale_image([src, src], scale=4)
    ours.upscale_image([src, src], scale=4)
    theirs, mine = last_two_bodies(emulator_calls)
    assert (theirs["return_type"], mine["return_type"]) == ("url", "base64_string")
    assert {k: v for k, v in mine.items() if k != "return_type"} == {k: v for k, v in theirs.items() if k != "return_type"}


def test_parity_nsfw_checker(pykakao, ours, emulator_calls):
    src = photo_b64(pykakao)
    pykakao.check_nsfw([src])
    ours.check_nsfw([src])
    theirs, mine = last_two_bodies(emulator_calls)
    assert mine == theirs


def test_same_seed_same_picture_through_either_client(pykakao, ours):
    theirs = pykakao.text_to_image("a red tram", seed=[99], image_format="png", return_type="base64_string")
    mine = ours.text_to_image("a red tram", seed=[99], image_format="png", version="v2.0")
    assert pykakao.string_to_image(theirs["images"][0]["image"]).tobytes() == \
        Image.open(io.BytesIO(mine.images[0].data)).convert("RGBA").tobytes()
