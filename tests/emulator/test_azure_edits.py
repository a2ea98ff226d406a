"""The emulator's Azure OpenAI edit routes (deployment style and v1) are as strict as Azure's: api-version, key,
deployment, multipart only, PNG/JPG inputs, OpenAI's mask rules, the content filter in Azure's shapes.

Driven through the openai SDK's ``AzureOpenAI`` client (deployment style) and plain ``OpenAI`` client (v1, as
Azure's docs show it), raw HTTP for what a client cannot send (no api-version, no key, a JSON edit)."""
from __future__ import annotations

import base64
import io

import numpy as np
import openai
import pytest
import requests
from PIL import Image

from tests.emulator.helpers import decode, photo, png_bytes

KEY = "azure-emulator-key-0123456789"
VERSION = "2025-04-01-preview"


def deployment_url(emulator, deployment="gpt-image-1.5", api_version=VERSION) -> str:
    query = f"?api-version={api_version}" if api_version else ""
    return f"{emulator.base_url}/azure/openai/deployments/{deployment}/images/edits{query}"


def azure(emulator, deployment="gpt-image-1.5", api_version=VERSION) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(base_url=f"{emulator.base_url}/azure/openai/deployments/{deployment}",
                              api_version=api_version, api_key=KEY, max_retries=0)


def v1(emulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{emulator.base_url}/azure/openai/v1/", api_key=KEY, max_retries=0)


def picture(size=(512, 512), seed=1) -> bytes:
    return png_bytes(photo(size[0], size[1], seed=seed))


def mask(size=(512, 512)) -> bytes:
    alpha = np.full((size[1], size[0], 4), 255, np.uint8)
    alpha[100:300, 50:250, 3] = 0  # transparent: the area to edit
    return png_bytes(alpha)


def webp(size=(512, 512)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 60)).save(out, "WEBP")
    return out.getvalue()


def test_the_sdks_azure_client_edits_with_a_mask_on_the_deployment_in_the_path(emulator, emulator_calls):
    made = azure(emulator).images.edit(model="ignored-by-azure", prompt="add a red kite",
                                       image=("in.png", picture(), "image/png"),
                                       mask=("mask.png", mask(), "image/png"), quality="low")
    out = decode(base64.b64decode(made.data[0].b64_json))
    assert out.size == (1024, 1024)  # gpt-image-1.5 has fixed sizes: a square input comes back 1024²
    assert made.usage.input_tokens_details.image_tokens > 0 and made.usage.output_tokens > 0
    sent = emulator_calls[-1]
    assert sent["path"] == "/azure/openai/deployments/gpt-image-1.5/images/edits"
    assert sent["headers"]["api-key"] == KEY and sent["body"]["mask"][0]["content_type"] == "image/png"


def test_several_reference_images_go_to_one_edit(emulator, emulator_calls):
    made = azure(emulator, deployment="gpt-image-2").images.edit(
        prompt="put the kite from the second picture into the first",
        image=[("a.png", picture(seed=1), "image/png"), ("b.jpg", _jpeg(), "image/jpeg")], quality="low")
    assert len(made.data) == 1 and made.usage.input_tokens_details.image_tokens > 0
    assert len(emulator_calls[-1]["body"]["image[]"]) == 2


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (512, 512), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def test_the_v1_path_takes_the_deployment_from_model_with_or_without_api_version_preview(emulator, emulator_calls):
    made = v1(emulator).images.edit(model="gpt-image-1-mini", prompt="add a red kite",
                                    image=("in.png", picture(), "image/png"), mask=("mask.png", mask(), "image/png"))
    assert made.data[0].b64_json and emulator_calls[-1]["path"] == "/azure/openai/v1/images/edits"
    assert emulator_calls[-1]["headers"].get("authorization") is None  # never logged; Bearer was accepted
    raw = requests.post(f"{emulator.base_url}/azure/openai/v1/images/edits?api-version=preview",
                        headers={"api-key": KEY}, data={"model": "gpt-image-1.5", "prompt": "add a kite"},
                        files={"image": ("in.png", picture(), "image/png")})
    assert raw.status_code == 200 and raw.json()["data"][0]["b64_json"]
    generated = v1(emulator).images.generate(model="gpt-image-1.5", prompt="a red kite", size="1024x1024",
                                             quality="low")
    assert decode(base64.b64decode(generated.data[0].b64_json)).size == (1024, 1024)


def test_v1_needs_a_known_deployment_in_model_and_no_dated_api_version(emulator):
    with pytest.raises(openai.NotFoundError) as caught:
        v1(emulator).images.edit(model="my-image-deployment", prompt="a kite", image=("in.png", picture(), "image/png"))
    assert caught.value.code == "DeploymentNotFound"
    missing = requests.post(f"{emulator.base_url}/azure/openai/v1/images/edits", headers={"api-key": KEY},
                            data={"prompt": "a kite"}, files={"image": ("in.png", picture(), "image/png")})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model"
    dated = requests.post(f"{emulator.base_url}/azure/openai/v1/images/edits?api-version={VERSION}",
                          headers={"api-key": KEY}, data={"model": "gpt-image-1.5", "prompt": "a kite"},
                          files={"image": ("in.png", picture(), "image/png")})
    assert dated.status_code == 400 and dated.json()["error"]["message"] == "API version not supported"


def test_no_api_version_unknown_version_no_key_and_unknown_deployment(emulator):
    files = {"image": ("in.png", picture(), "image/png")}
    missing = requests.post(deployment_url(emulator, api_version=None), headers={"api-key": KEY},
                            data={"prompt": "a kite"}, files=files)
    assert missing.status_code == 404 and missing.json() == {"error": {"code": "404", "message": "Resource not found"}}
    with pytest.raises(openai.BadRequestError) as caught:
        azure(emulator, api_version="2023-13-01").images.edit(prompt="a kite", image=files["image"])
    assert caught.value.body == {"code": "BadRequest", "message": "API version not supported"}
    with pytest.raises(openai.BadRequestError) as caught:
        azure(emulator, api_version="2024-10-21").images.edit(prompt="a kite", image=files["image"])
    assert "2025-04-01-preview and later" in caught.value.message
    keyless = requests.post(deployment_url(emulator), data={"prompt": "a kite"}, files=files)
    assert keyless.status_code == 401
    assert keyless.json()["error"]["message"].startswith("Access denied due to invalid subscription key")
    with pytest.raises(openai.NotFoundError) as caught:
        azure(emulator, deployment="my-dall-e-2").images.edit(prompt="a kite", image=files["image"])
    assert caught.value.code == "DeploymentNotFound"


def test_edits_are_multipart_with_png_or_jpg_pictures(emulator):
    as_json = requests.post(deployment_url(emulator), headers={"api-key": KEY}, json={
        "prompt": "a kite", "images": [{"image_url": "data:image/png;base64," + base64.b64encode(picture()).decode()}]})
    assert as_json.status_code == 400 and "multipart/form-data" in as_json.json()["error"]["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        azure(emulator).images.edit(prompt="a kite", image=("in.webp", webp(), "image/webp"))
    assert caught.value.param == "image" and caught.value.code == "unsupported_file_mimetype"
    with pytest.raises(openai.BadRequestError) as caught:  # WebP bytes under a PNG name are still WebP
        azure(emulator).images.edit(prompt="a kite", image=("in.png", webp(), "image/png"))
    assert caught.value.code == "unsupported_file_mimetype"
    with pytest.raises(openai.BadRequestError) as caught:
        azure(emulator).images.edit(prompt="a kite", image=("in.png", picture(), "image/png"), output_format="webp")
    assert caught.value.param == "output_format"


def test_the_mask_rules_are_openais(emulator):
    with pytest.raises(openai.BadRequestError) as caught:  # not the first image's size
        azure(emulator).images.edit(prompt="a kite", image=("in.png", picture(), "image/png"),
                                    mask=("mask.png", mask((256, 256)), "image/png"))
    assert caught.value.param == "mask" and "does not match image size" in caught.value.message
    opaque = png_bytes(photo(512, 512, seed=5))  # RGB: no alpha channel to mark the area
    with pytest.raises(openai.BadRequestError) as caught:
        azure(emulator).images.edit(prompt="a kite", image=("in.png", picture(), "image/png"),
                                    mask=("mask.png", opaque, "image/png"))
    assert caught.value.param == "mask" and "alpha channel" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        azure(emulator).images.edit(prompt="a kite", image=("in.png", picture(), "image/png"),
                                    mask=("mask.jpg", _jpeg(), "image/jpeg"))
    assert caught.value.param == "mask"


@pytest.mark.parametrize("fault, status, code", [("content_filter", 400, "contentFilter"),
                                                 ("output_filtered", 400, "contentFilter"),
                                                 ("moderation_blocked", 400, "content_policy_violation"),
                                                 ("blocked", 403, "Forbidden"), ("429", 429, "429")])
def test_edit_faults_answer_in_azures_shapes(emulator, fault, status, code):
    answer = requests.post(deployment_url(emulator), headers={"api-key": KEY},
                           data={"prompt": f"a storm [fault:{fault}]"}, files={"image": ("in.png", picture(), "image/png")})
    assert answer.status_code == status and answer.json()["error"]["code"] == code
    if fault == "429":
        assert answer.headers["retry-after"] == "1" and "Images_Edits" in answer.json()["error"]["message"]
