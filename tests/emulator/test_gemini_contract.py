"""The Gemini face of the emulator, driven through Google's own SDK (google-genai) and raw HTTP: shapes, errors, faults."""
from __future__ import annotations

import base64
import io

import pytest
import requests
from PIL import Image

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

KEY = "AIza-contract-test-key-0123456789"


@pytest.fixture
def client(emulator):
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=emulator.gemini_base_url,
                                                                    api_version="v1beta"))


def png(size=(96, 64), colour=(200, 90, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def image_config(ratio=None, size=None):
    return types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"],
                                       image_config=types.ImageConfig(aspect_ratio=ratio, image_size=size))


def test_generate_content_returns_an_image_part_of_the_asked_shape_and_usage(client, emulator_calls):
    response = client.models.generate_content(model="gemini-3-pro-image", contents="a lighthouse at dusk",
                                              config=image_config("16:9", "2K"))
    parts = response.candidates[0].content.parts
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    image = next(p.inline_data for p in parts if p.inline_data)
    with Image.open(io.BytesIO(image.data)) as img:
        assert img.size == (2048, 1152) and image.mime_type == "image/png"
    usage = response.usage_metadata
    assert usage.candidates_token_count == 1130 and usage.total_token_count > usage.prompt_token_count
    assert {d.modality: d.token_count for d in usage.candidates_tokens_details}[types.MediaModality.IMAGE] == 1120
    sent = emulator_calls[-1]
    assert sent["path"] == "/v1beta/models/gemini-3-pro-image:generateContent"
    assert sent["headers"]["x-goog-api-key"] == KEY  # the SDK's own auth header


def test_reference_images_are_counted_and_limited(client):
    response = client.models.generate_content(
        model="gemini-3.1-flash-image", contents=["put the cat on the sofa", types.Part.from_bytes(data=png(),
                                                                                                 mime_type="image/png")],
        config=image_config(size="512"))
    assert {d.modality: d.token_count for d in response.usage_metadata.prompt_tokens_details}[types.MediaModality.IMAGE] == 560
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-3-pro-image",
                                       contents=["too many", *[types.Part.from_bytes(data=png(), mime_type="image/png")] * 15],
                                       config=image_config())
    assert caught.value.code == 400 and "at most 14" in caught.value.message


@pytest.mark.parametrize("model, config, words", [
    ("gemini-3-pro-image", ("1:8", None), "Unsupported aspect ratio"),
    ("gemini-3-pro-image", (None, "512"), "Unsupported image size"),
    ("gemini-3.1-flash-lite-image", (None, "2K"), "Unsupported image size"),
])
def test_what_a_model_does_not_take_is_a_400_naming_it(client, model, config, words):
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=model, contents="a fox", config=image_config(*config))
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT" and words in caught.value.message


def test_keys_models_and_unknown_fields_fail_as_google_fails(emulator):
    bad = genai.Client(api_key="invalid-key-0123456789", http_options=types.HttpOptions(
        base_url=emulator.gemini_base_url, api_version="v1beta"))
    with pytest.raises(errors.ClientError) as caught:
        bad.models.generate_content(model="gemini-3-pro-image", contents="a fox", config=image_config())
    assert caught.value.code == 400 and caught.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    url = emulator.gemini_base_url + "/v1beta/models/gemini-3-pro-image:generateContent"
    assert requests.post(url, json={"contents": [{"parts": [{"text": "x"}]}]}, timeout=10).status_code == 403
    reply = requests.post(url, headers={"x-goog-api-key": KEY}, timeout=10,
                          json={"contents": [{"parts": [{"text": "x"}]}],
                                "generationConfig": {"imageConfig": {"outputMimeType": "image/jpeg"}}})
    assert reply.status_code == 400 and 'Unknown name "outputMimeType"' in reply.json()["error"]["message"]
    for retired in ("gemini-2.5-flash-image", "gemini-3-pro-image-preview", "imagen-4.0-generate-001"):
        gone = requests.post(emulator.gemini_base_url + f"/v1beta/models/{retired}:generateContent", timeout=10,
                             headers={"x-goog-api-key": KEY}, json={"contents": [{"parts": [{"text": "x"}]}]})
        assert gone.status_code == 404 and gone.json()["error"]["status"] == "NOT_FOUND"


def test_model_listing_pages_like_list_models(client):
    names = [m.name for m in client.models.list(config={"page_size": 2})]
    assert names == ["models/gemini-3-pro-image", "models/gemini-3.1-flash-image", "models/gemini-3.1-flash-lite-image",
                     "models/gemini-nano-banana-2.1"]


@pytest.mark.parametrize("fault, check", [
    ("prompt_blocked", lambda r: r.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
     and not r.candidates and r.usage_metadata.prompt_token_count),
    ("image_safety", lambda r: r.candidates[0].finish_reason == types.FinishReason.IMAGE_SAFETY
     and not r.candidates[0].content.parts),
    ("no_image", lambda r: r.candidates[0].finish_reason == types.FinishReason.NO_IMAGE),
])
def test_safety_finishes_are_200s_without_a_picture(client, fault, check):
    response = client.models.generate_content(model="gemini-3-pro-image", contents=f"a fox [fault:{fault}]",
                                              config=image_config())
    assert check(response)


@pytest.mark.parametrize("fault, code, status", [("429", 429, "RESOURCE_EXHAUSTED"), ("402", 402, "RESOURCE_EXHAUSTED"),
                                                 ("500", 500, "INTERNAL"), ("503", 503, "UNAVAILABLE")])
def test_faults_are_google_errors(client, fault, code, status):
    with pytest.raises(errors.APIError) as caught:
        client.models.generate_content(model="gemini-3-pro-image", contents="a fox",
                                       config=types.GenerateContentConfig(
                                           response_modalities=["IMAGE"],
                                           http_options=types.HttpOptions(headers={"X-Emulator-Fault": fault})))
    assert (caught.value.code, caught.value.status) == (code, status)
    if fault == "429":
        assert any(d.get("retryDelay") == "26s" for d in caught.value.details["error"]["details"])


def test_snake_case_bodies_are_accepted_as_proto3_json_allows(emulator):
    data = base64.b64encode(png()).decode()
    reply = requests.post(emulator.gemini_base_url + "/v1beta/models/gemini-3-pro-image:generateContent",
                          headers={"x-goog-api-key": KEY}, timeout=30,
                          json={"contents": [{"role": "user", "parts": [
                              {"text": "make it blue"}, {"inline_data": {"mime_type": "image/png", "data": data}}]}],
                                "generation_config": {"response_modalities": ["TEXT", "IMAGE"]}})
    assert reply.status_code == 200
    parts = reply.json()["candidates"][0]["content"]["parts"]
    assert any("inlineData" in p for p in parts)
