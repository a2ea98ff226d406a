"""Every Karlo parameter range, checked by the client before anything is sent, and agreed by the emulator.

For each range: the first invalid value on each side is refused with InvalidInput
naming the parameter; the edge values themselves go through to the emulator.
"""
from __future__ import annotations

import io
import os

import pytest
import requests
from PIL import Image

from lib.config import ProviderConfig
from lib.errors import InvalidInput
from lib.providers.karlo import KarloClient


class NoNetwork(requests.Session):
    def request(self, *args, **kwargs):
        raise AssertionError("validation should have refused this before sending")


def offline() -> KarloClient:
    return KarloClient(ProviderConfig("karlo", "live", "http://127.0.0.1:9", "k", "environment"), session=NoNetwork())


def png(size=(64, 64), colour=(90, 90, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


T2I_BAD = [
    ({"prompt": ""}, "prompt"),
    ({"prompt": "x" * 257}, "prompt"),
    ({"prompt": "한강의 노을"}, "prompt"),
    ({"negative_prompt": "y" * 257}, "negative_prompt"),
    ({"negative_prompt": "흐림"}, "negative_prompt"),
    ({"width": 248}, "width"), ({"width": 1288}, "width"), ({"width": 516}, "width"),
    ({"height": 248}, "height"), ({"height": 1288}, "height"), ({"height": 260}, "height"),
    ({"version": "v2.0", "width": 376}, "width"), ({"version": "v2.0", "width": 648}, "width"),
    ({"version": "v2.0", "height": 376}, "height"), ({"version": "v2.0", "height": 648}, "height"),
    ({"version": "v2.2"}, "version"),
    ({"samples": 0}, "samples"), ({"samples": 9}, "samples"),
    ({"prior_num_inference_steps": 9}, "prior_num_inference_steps"),
    ({"prior_num_inference_steps": 101}, "prior_num_inference_steps"),
    ({"prior_guidance_scale": 0.99}, "prior_guidance_scale"), ({"prior_guidance_scale": 20.01}, "prior_guidance_scale"),
    ({"num_inference_steps": 9}, "num_inference_steps"), ({"num_inference_steps": 101}, "num_inference_steps"),
    ({"guidance_scale": 0.99}, "guidance_scale"), ({"guidance_scale": 20.01}, "guidance_scale"),
    ({"scheduler": "decoder_euler"}, "scheduler"),
    ({"seed": [-1]}, "seed"), ({"seed": [4294967296]}, "seed"), ({"seed": [1, 2]}, "seed"),
    ({"samples": 2, "seed": [1]}, "seed"), ({"seed": 7}, "seed"),
    ({"image_format": "gif"}, "image_format"),
    ({"image_quality": 0}, "image_quality"), ({"image_quality": 101}, "image_quality"),
    ({"scale": 1}, "scale"), ({"scale": 3}, "scale"), ({"scale": 5}, "scale"),
    ({"upscale": "yes"}, "upscale"),
    ({"upscale": True, "scale": 4, "width": 520}, "scale"),  # 520 × 4 > 2048
    ({"return_type": "base64_url"}, "return_type"),
    ({"nsfw_checker": "no"}, "nsfw_checker"),
]


@pytest.mark.parametrize("change, param", T2I_BAD, ids=[f"{p}={list(c.values())[-1]!r}"[:40] for c, p in T2I_BAD])
def test_t2i_refuses_out_of_range_values_naming_the_parameter(change, param):
    kwargs = {"prompt": "a quiet harbour", **change}
    with pytest.raises(InvalidInput) as info:
        offline().text_to_image(**kwargs)
    assert info.value.param == param
    assert param in info.value.message
    assert info.value.status_label == "rejected"


@pytest.mark.parametrize("change, param", [
    ({"width": 1288}, "width"), ({"samples": 9}, "samples"), ({"num_inference_steps": 9}, "num_inference_steps"),
    ({"guidance_scale": 20.01}, "guidance_scale"), ({"image_quality": 101}, "image_quality"),
    ({"prompt": "x" * 257}, "prompt"), ({"scheduler": "x"}, "scheduler"), ({"seed": [1, 2]}, "seed"),
    ({"image": b"not an image"}, "image"), ({"image": "@@@not base64@@@"}, "image"), ({"image": None}, "image"),
])
def test_variations_refuse_bad_values(change, param):
    kwargs = {"image": png(), **change}
    with pytest.raises(InvalidInput) as info:
        offline().transform_image(**kwargs)
    assert info.value.param == param and param in info.value.message


def test_inputs_over_two_megabytes_are_refused():
    noise = Image.frombytes("RGB", (1000, 1000), os.urandom(3_000_000))
    buf = io.BytesIO()
    noise.save(buf, "PNG")
    assert len(buf.getvalue()) > 2 * 1024 * 1024
    with pytest.raises(InvalidInput, match="2 MB") as info:
        offline().transform_image(buf.getvalue())
    assert info.value.param == "image"


@pytest.mark.parametrize("kwargs, param", [
    ({"prompt": ""}, "prompt"),
    ({"mask": png((32, 32))}, "mask"),
    ({"samples": 9}, "samples"),
    ({"prior_guidance_scale": 0.5}, "prior_guidance_scale"),
    ({"upscale": True, "scale": 4, "image": png((640, 640)), "mask": png((640, 640))}, "scale"),
])
def test_inpainting_refuses_bad_values(kwargs, param):
    full = {"image": png(), "mask": png(), "prompt": "a door", **kwargs}
    with pytest.raises(InvalidInput) as info:
        offline().inpaint_image(**full)
    assert info.value.param == param and param in info.value.message


@pytest.mark.parametrize("kwargs, param", [
    ({"images": []}, "images"),
    ({"images": [png()] * 9}, "images"),
    ({"images": [png((1032, 16))]}, "images"),  # inputs stop at 1024 px per side
    ({"images": [png()], "scale": 3}, "scale"),
    ({"images": [png((600, 600))], "scale": 4}, "scale"),  # 2400 px > 2048
    ({"images": [png()], "image_quality": 0}, "image_quality"),
    ({"images": [png()], "image_format": "bmp"}, "image_format"),
    ({"images": [png()], "return_type": "file"}, "return_type"),
])
def test_upscale_refuses_bad_values(kwargs, param):
    with pytest.raises(InvalidInput) as info:
        offline().upscale_image(**kwargs)
    assert info.value.param == param and param in info.value.message


def test_nsfw_check_refuses_more_than_eight_images():
    with pytest.raises(InvalidInput) as info:
        offline().check_nsfw([png()] * 9)
    assert info.value.param == "images"


def test_korean_prompt_message_says_translate():
    with pytest.raises(InvalidInput, match="Korean"):
        offline().text_to_image("노을 지는 바다")


@pytest.mark.parametrize("kwargs", [
    {"version": "v2.1", "width": 256, "height": 1280, "seed": [0]},
    {"version": "v2.0", "width": 384, "height": 640, "seed": [4294967295]},
    {"samples": 8, "width": 256, "height": 256, "image_quality": 1, "image_format": "jpeg"},
    {"prior_num_inference_steps": 10, "num_inference_steps": 100, "prior_guidance_scale": 1.0,
     "guidance_scale": 20.0, "image_quality": 100, "scheduler": "decoder_ddpm_v_prediction"},
    {"prompt": "p" * 256, "negative_prompt": "n" * 256, "upscale": True, "scale": 4, "width": 512, "height": 256},
])
def test_edge_values_are_accepted_by_client_and_emulator(emulator, kwargs):
    cfg = ProviderConfig("karlo", "live", emulator.karlo_base_url, "k", "environment")
    result = KarloClient(cfg, max_retries=0).text_to_image(**{"prompt": "a quiet harbour", **kwargs})
    assert len(result.images) == kwargs.get("samples", 1)
    factor = kwargs.get("scale", 1) if kwargs.get("upscale") else 1
    assert result.images[0].width == kwargs.get("width", 512) * factor
