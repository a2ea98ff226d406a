"""The emulator's Azure OpenAI deployment route is as strict as Azure: api-version, api-key, deployment, formats.

Driven through the openai SDK's own ``AzureOpenAI`` client where a client would be used, raw HTTP for what a
client cannot send (no api-version, no key)."""
from __future__ import annotations

import base64
import io

import openai
import pytest
import requests
from PIL import Image

KEY = "azure-emulator-key-0123456789"


def url(emulator, deployment="gpt-image-1.5", api_version="2025-04-01-preview") -> str:
    query = f"?api-version={api_version}" if api_version else ""
    return f"{emulator.base_url}/azure/openai/deployments/{deployment}/images/generations{query}"


def azure(emulator, deployment="gpt-image-1.5", api_version="2025-04-01-preview") -> openai.AzureOpenAI:
    return openai.AzureOpenAI(base_url=f"{emulator.base_url}/azure/openai/deployments/{deployment}",
                              api_version=api_version, api_key=KEY, max_retries=0)


def test_the_sdks_azure_client_gets_a_picture_from_the_deployment_in_the_path(emulator, emulator_calls):
    made = azure(emulator).images.generate(model="ignored-by-azure", prompt="a red kite", size="1024x1024",
                                           quality="low")
    picture = Image.open(io.BytesIO(base64.b64decode(made.data[0].b64_json)))
    assert picture.size == (1024, 1024) and made.usage.output_tokens > 0
    assert emulator_calls[-1]["headers"]["api-key"] == KEY


def test_no_api_version_is_404_and_an_unknown_one_400_in_azures_shape(emulator):
    missing = requests.post(url(emulator, api_version=None), headers={"api-key": KEY}, json={"prompt": "a kite"})
    assert missing.status_code == 404 and missing.json() == {"error": {"code": "404", "message": "Resource not found"}}
    with pytest.raises(openai.BadRequestError) as caught:
        azure(emulator, api_version="2023-13-01").images.generate(prompt="a kite")
    assert caught.value.body == {"code": "BadRequest", "message": "API version not supported"}
    with pytest.raises(openai.BadRequestError) as caught:  # GPT-image came with 2025-04-01-preview
        azure(emulator, api_version="2024-10-21").images.generate(prompt="a kite")
    assert "2025-04-01-preview and later" in caught.value.message


def test_no_key_a_bad_key_and_an_unknown_deployment(emulator):
    keyless = requests.post(url(emulator), json={"prompt": "a kite"})
    assert keyless.status_code == 401 and keyless.json()["error"]["code"] == "401"
    assert keyless.json()["error"]["message"].startswith("Access denied due to invalid subscription key")
    with pytest.raises(openai.AuthenticationError):
        openai.AzureOpenAI(base_url=f"{emulator.base_url}/azure/openai/deployments/gpt-image-1.5", max_retries=0,
                           api_version="2025-04-01-preview", api_key="invalid-key-0000").images.generate(prompt="a")
    with pytest.raises(openai.NotFoundError) as caught:
        azure(emulator, deployment="my-dall-e-3").images.generate(prompt="a kite")
    assert caught.value.code == "DeploymentNotFound"


def test_webp_and_url_answers_are_refused_as_azure_does(emulator):
    with pytest.raises(openai.BadRequestError) as caught:
        azure(emulator).images.generate(prompt="a kite", output_format="webp")
    assert caught.value.param == "output_format"
    with pytest.raises(openai.BadRequestError) as caught:
        azure(emulator).images.generate(prompt="a kite", response_format="url")
    assert caught.value.param == "response_format"


@pytest.mark.parametrize("fault, status, code", [("content_filter", 400, "contentFilter"),
                                                 ("moderation_blocked", 400, "content_policy_violation"),
                                                 ("blocked", 403, "Forbidden"), ("429", 429, "429")])
def test_faults_answer_in_azures_shapes(emulator, fault, status, code):
    answer = requests.post(url(emulator), headers={"api-key": KEY, "X-Emulator-Fault": fault},
                           json={"prompt": "a storm"})
    assert answer.status_code == status and answer.json()["error"]["code"] == code
    if fault == "moderation_blocked":
        assert answer.json()["error"]["inner_error"]["code"] == "ResponsibleAIPolicyViolation"
    if fault == "429":
        assert answer.headers["retry-after"] == "1"
