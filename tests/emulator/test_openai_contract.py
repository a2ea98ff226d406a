"""The emulator's OpenAI models and chat routes, checked against OpenAI's published schemas and the real SDK."""
from __future__ import annotations

import json
import re

import openai
import pytest

from tests.emulator.conftest import KEY

CHAT = "gpt-5.4-mini"


def test_models_list_matches_spec_and_offers_current_and_legacy_models(http, client, spec):
    r = http.get("/models")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    spec.validate(r.json(), "ListModelsResponse")
    ids = {m.id for m in client.models.list()}
    assert {"gpt-image-2", "gpt-image-2.6-flare", "gpt-5.4-mini", "gpt-4o-mini", "gpt-6-luna"} <= ids
    assert not {"gpt-image-1", "dall-e-3", "gpt-image-1.5"} & ids  # shut down before or on 2026-12-01


def test_retrieving_one_model_and_an_unknown_one(client):
    assert client.models.retrieve("gpt-image-2").id == "gpt-image-2"
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("gpt-9-imaginary")
    assert err.value.code == "model_not_found"


def test_plain_chat_completion_matches_spec_and_is_deterministic(http, client, spec):
    body = {"model": CHAT, "messages": [{"role": "system", "content": "You are a muse."},
                                        {"role": "user", "content": "a lighthouse keeper's cat in a storm"}]}
    r = http.post("/chat/completions", json=body)
    assert r.status_code == 200
    spec.validate(r.json(), "CreateChatCompletionResponse")
    again = client.chat.completions.create(**body)
    text = again.choices[0].message.content
    assert text == r.json()["choices"][0]["message"]["content"]
    assert "lighthouse" in text and len(text) > 120  # a paragraph built on the user's subject
    assert again.choices[0].finish_reason == "stop"
    u = again.usage
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert u.completion_tokens == max(1, -(-len(text) // 4))  # English: about four characters a token
    other = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "a desert caravan"}])
    assert other.choices[0].message.content != text


def test_streamed_chat_through_the_sdk_ends_with_one_usage_chunk(client, spec, emulator_calls):
    messages = [{"role": "user", "content": "a paper boat on a rainy street"}]
    plain = client.chat.completions.create(model=CHAT, messages=messages)
    chunks = list(client.chat.completions.create(model=CHAT, messages=messages, stream=True,
                                                 stream_options={"include_usage": True}))
    for chunk in chunks:
        spec.validate(chunk.model_dump(mode="json", exclude_unset=True), "CreateChatCompletionStreamResponse")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == plain.usage.completion_tokens
    finishes = [c.choices[0].finish_reason for c in chunks[:-1] if c.choices[0].finish_reason]
    assert finishes == ["stop"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks[:-1])
    assert text == plain.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 5  # really streamed, in pieces
    assert len({c.id for c in chunks}) == 1


def test_stream_without_include_usage_has_no_usage_chunk(http, spec):
    r = http.post("/chat/completions", json={"model": CHAT, "stream": True,
                                             "messages": [{"role": "user", "content": "a kite"}]})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    for raw in events[:-1]:  # the wire itself, not the SDK's reading of it
        spec.validate(json.loads(raw), "CreateChatCompletionStreamResponse")
    assert '"choices":[]' not in r.text and '"usage":{' not in r.text


def test_max_tokens_truncates_with_finish_reason_length(client):
    for limit_param in ("max_tokens", "max_completion_tokens"):
        r = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "a castle"}],
                                           **{limit_param: 5})
        assert r.choices[0].finish_reason == "length"
        assert r.usage.completion_tokens <= 5
        assert len(r.choices[0].message.content) <= 20


def test_translation_request_answers_in_english(client):
    r = client.chat.completions.create(model=CHAT, messages=[
        {"role": "user", "content": "Translate into English: 바다 위의 빨간 고양이와 달"}])
    text = r.choices[0].message.content
    assert text.isascii()
    assert {"sea", "red", "cat", "moon"} <= set(re.findall(r"[a-z]+", text.lower()))


def test_condense_request_answers_with_comma_separated_descriptors(client):
    r = client.chat.completions.create(model=CHAT, messages=[
        {"role": "system", "content": "Condense the user's description into comma-separated descriptors."},
        {"role": "user", "content": "A small red fox sleeping in a snowy pine forest at dawn, very peaceful."}])
    items = [x.strip() for x in r.choices[0].message.content.split(",")]
    assert len(items) >= 5
    assert {"fox", "snowy", "pine", "forest", "dawn"} <= set(items)
    assert all(len(x.split()) <= 3 for x in items)


def test_imagination_chain_korean_idea_to_english_descriptors(client):
    """The app's pipeline: imagine (Korean) -> more detail -> 'translate it' -> 'condense up to 4'."""
    def ask(messages):
        return client.chat.completions.create(model=CHAT, messages=messages).choices[0].message.content

    talk = [{"role": "system", "content": "You are a helpful assistant who is good at detailing."},
            {"role": "user", "content": "우주를 여행하는 고양이 어떤 모습일지 자유롭게 상상해서 외형을 묘사해주세요."}]
    imagined = ask(talk)
    assert "고양이" in imagined and not imagined.isascii()  # answered in the asker's language
    talk += [{"role": "assistant", "content": imagined},
             {"role": "user", "content": "위 내용을 바탕으로 외형적인 모습을 더 자세히 상상해서 묘사해주세요."}]
    detailed = ask(talk)
    assert detailed.startswith(imagined) and len(detailed) > len(imagined)
    english = ask([{"role": "system", "content": "You are a helpful assistant who is good at translating."},
                   {"role": "assistant", "content": detailed}, {"role": "user", "content": "영어로 번역해주세요."}])
    assert english.isascii() and "cat" in english and len(english) > 100
    descriptors = ask([{"role": "assistant", "content": english}, {"role": "user", "content":
                       "Condense up to 4 outward description to focus on nouns and adjectives separated by ,"}])
    items = [x.strip() for x in descriptors.split(",")]
    assert len(items) == 4 and "cat" in items[0]


def test_chat_validates_model_and_messages(http, spec):
    r = http.post("/chat/completions",
                  json={"model": "gpt-9-imaginary", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    spec.validate(r.json(), "ErrorResponse")
    r = http.post("/chat/completions", json={"model": CHAT})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    r = http.post("/chat/completions", json={"model": CHAT, "messages": [{"role": "user", "content": "x"}],
                                             "stream_options": {"include_usage": True}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "stream_options"
    r = http.post("/chat/completions", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]


def test_missing_key_gets_openais_401_message(http, spec):
    r = http.post("/chat/completions", key=None, json={"model": CHAT, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 401
    spec.validate(r.json(), "ErrorResponse")
    err = r.json()["error"]
    assert err["message"].startswith("You didn't provide an API key.")
    assert err["type"] == "invalid_request_error" and err["code"] is None


def test_invalid_key_is_named_only_by_its_last_four_characters(emulator):
    bad = "sk-invalid-secret-key-abcd1234"
    c = openai.OpenAI(api_key=bad, base_url=emulator.openai_base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        c.images.generate(model="gpt-image-2", prompt="a fox")
    assert err.value.code == "invalid_api_key"
    assert "1234" in err.value.message
    assert "secret" not in err.value.message and bad not in str(err.value)


def test_every_answer_has_a_request_id_and_json_type(http, client):
    answers = [http.get("/models"), http.get("/models", key=None),
               http.post("/images/generations", json={"model": "gpt-image-2"}),
               http.post("/images/generations", json={"model": "gpt-image-2", "prompt": "a fox", "quality": "low"})]
    for r in answers:
        assert re.fullmatch(r"req_[0-9a-f]{32}", r.headers["x-request-id"])
        assert r.headers["content-type"].startswith("application/json")
    assert len({r.headers["x-request-id"] for r in answers}) == len(answers)
    assert re.fullmatch(r"req_[0-9a-f]{32}", client.models.with_raw_response.list().headers["x-request-id"])


def test_call_log_keeps_requests_but_never_the_key(client, emulator_calls):
    client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "a tiny robot"}])
    (call,) = emulator_calls
    assert call["path"] == "/v1/chat/completions"
    assert call["body"]["messages"][0]["content"] == "a tiny robot"
    assert KEY not in repr(call) and "authorization" not in {k.lower() for k in call["headers"]}
