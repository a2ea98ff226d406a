"""Faults on the OpenAI side: each one reaches the real SDK as the exception a live failure would raise."""
from __future__ import annotations

import json

import openai
import pytest

from tests.emulator.conftest import KEY

CHAT = "gpt-5.4-mini"
FAULT = "X-Emulator-Fault"


def _image(client, fault: str, **kwargs):
    return client.images.generate(model="gpt-image-2", prompt="a fox", quality="low",
                                  extra_headers={FAULT: fault}, **kwargs)


def _chat(client, fault: str | None = None, content: str = "a fox", **kwargs):
    return client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": content}],
                                          extra_headers={FAULT: fault} if fault else None, **kwargs)


@pytest.mark.parametrize("fault,exc_class,status", [
    ("401", openai.AuthenticationError, 401),
    ("429", openai.RateLimitError, 429),
    ("500", openai.InternalServerError, 500),
    ("503", openai.InternalServerError, 503),
    ("model_not_found", openai.NotFoundError, 404),
    ("moderation_blocked", openai.BadRequestError, 400),
])
@pytest.mark.parametrize("route", ["images", "chat"])
def test_status_faults_raise_the_sdks_error_classes(client, spec, fault, exc_class, status, route):
    with pytest.raises(exc_class) as err:
        _image(client, fault) if route == "images" else _chat(client, fault)
    e = err.value
    assert e.status_code == status
    assert e.request_id and e.request_id.startswith("req_")
    spec.validate(e.response.json(), "ErrorResponse")
    assert e.response.headers["content-type"].startswith("application/json")


def test_rate_limit_carries_retry_after_and_its_code(client):
    with pytest.raises(openai.RateLimitError) as err:
        _image(client, "429")
    assert err.value.code == "rate_limit_exceeded" and err.value.type == "requests"
    assert err.value.response.headers["retry-after"] == "1"


def test_sdk_retries_a_rate_limit_once_when_allowed(emulator, emulator_calls):
    retrying = openai.OpenAI(api_key=KEY, base_url=emulator.openai_base_url, max_retries=1, timeout=20)
    with pytest.raises(openai.RateLimitError):
        _image(retrying, "429")
    assert [c["headers"].get("x-stainless-retry-count") for c in emulator_calls] == ["0", "1"]


def test_invalid_key_fault_names_only_the_keys_tail(client):
    with pytest.raises(openai.AuthenticationError) as err:
        _chat(client, "401")
    assert err.value.code == "invalid_api_key"
    assert KEY[-4:] in err.value.message and KEY not in err.value.message


def test_moderation_blocked_image_has_openais_shape(client):
    with pytest.raises(openai.BadRequestError) as err:
        _image(client, "moderation_blocked")
    e = err.value
    assert e.code == "moderation_blocked" and e.type == "image_generation_user_error"
    assert e.body["moderation_details"]["moderation_stage"] in ("input", "output")
    assert e.body["moderation_details"]["categories"]


def test_moderation_fault_on_chat_is_a_content_policy_400(client):
    with pytest.raises(openai.BadRequestError) as err:
        _chat(client, "moderation_blocked")
    assert err.value.code == "content_policy_violation"
    assert "safety system" in err.value.message


def test_fault_from_the_prompt_directive(client):
    with pytest.raises(openai.RateLimitError):
        client.images.generate(model="gpt-image-2", prompt="a fox [fault:429]", quality="low")
    with pytest.raises(openai.InternalServerError):
        _chat(client, content="hello [fault:500]")


def test_directives_do_not_change_the_picture_or_the_reply(client):
    plain = client.images.generate(model="gpt-image-2", prompt="a fox by a river", quality="low")
    tagged = client.images.generate(model="gpt-image-2", prompt="a fox by a river [latency:1]", quality="low")
    assert plain.data[0].b64_json == tagged.data[0].b64_json
    assert plain.usage.input_tokens_details.text_tokens == tagged.usage.input_tokens_details.text_tokens
    assert _chat(client, content="a fox [latency:1]").choices[0].message.content == \
        _chat(client, content="a fox").choices[0].message.content


def test_hang_makes_the_sdk_time_out(emulator):
    impatient = openai.OpenAI(api_key=KEY, base_url=emulator.openai_base_url, max_retries=0, timeout=0.5)
    with pytest.raises(openai.APITimeoutError):
        _image(impatient, "hang")
    with pytest.raises(openai.APITimeoutError):
        _chat(impatient, "hang")


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_answers_are_200s_that_do_not_parse(http, client, stream):
    r = http.post("/chat/completions", fault="malformed",
                  json={"model": CHAT, "stream": stream, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200
    payload = r.text[6:] if stream else r.text
    with pytest.raises(ValueError):
        json.loads(payload)
    with pytest.raises(ValueError):  # the SDK fails while reading (json.JSONDecodeError is a ValueError)
        result = _chat(client, "malformed", stream=stream)
        list(result) if stream else result.choices


def test_malformed_image_answer(client):
    with pytest.raises(ValueError):
        _image(client, "malformed")


def test_chat_stream_break_drops_after_a_few_chunks_without_usage(client):
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in _chat(client, "stream_break", stream=True, stream_options={"include_usage": True}):
            received.append(chunk)
    assert 1 < len(received) < 8
    assert any(c.choices and c.choices[0].delta.content for c in received)
    assert all(c.usage is None and c.choices[0].finish_reason is None for c in received)


def test_image_stream_break_sends_one_partial_then_drops(client):
    received = []
    with pytest.raises(openai.APIConnectionError):
        for event in _image(client, "stream_break", stream=True, partial_images=2):
            received.append(event.type)
    assert received == ["image_generation.partial_image"]


def test_every_route_honours_faults(http, compat_http):
    """Faults come before validation, so even incomplete requests fail the way the fault says."""
    for face, method, path, kwargs in ((http, "get", "/models", {}),
                                       (http, "post", "/images/edits", {"data": {"model": "gpt-image-2", "prompt": "x"}}),
                                       (compat_http, "post", "/images/variations", {"data": {"model": "dall-e-2"}})):
        r = getattr(face, method)(path, fault="503", **kwargs)
        assert r.status_code == 503 and r.json()["error"]["type"] == "server_error"


def test_html_502_from_a_proxy_is_not_json(http, client):
    r = http.post("/chat/completions", fault="html502",
                  json={"model": CHAT, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in r.text
    with pytest.raises(openai.InternalServerError) as err:
        _image(client, "html502")
    assert err.value.status_code == 502 and err.value.code is None
