"""Chat features answered, not dropped: n, logprobs, tools and tool_choice, structured outputs."""
from __future__ import annotations

import json

import jsonschema
import openai
import pytest

CHAT = "gpt-5.4-mini"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                                                    "days": {"type": "integer", "minimum": 1}},
                   "required": ["city", "unit"], "additionalProperties": False}}}
ASK = [{"role": "user", "content": "What is the weather in Seoul today?"}]


def _create(client, spec, **kwargs):
    """The SDK's parsed answer, after checking the bytes on the wire against the published response schema."""
    raw = client.chat.completions.with_raw_response.create(**kwargs)
    spec.validate(json.loads(raw.text), "CreateChatCompletionResponse")
    return raw.parse()


def test_n_gives_that_many_different_choices(client, spec):
    r = _create(client, spec, model=CHAT, messages=ASK, n=3)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert len({c.message.content for c in r.choices}) == 3
    assert r.usage.completion_tokens > 2 * min(len(c.message.content) for c in r.choices) // 4


def test_logprobs_and_top_logprobs_score_every_token(client, spec):
    r = _create(client, spec, model=CHAT, messages=ASK, logprobs=True, top_logprobs=3)
    scored = r.choices[0].logprobs.content
    assert "".join(t.token for t in scored) == r.choices[0].message.content
    for t in scored:
        assert t.logprob <= 0 and len(t.top_logprobs) == 3
        assert t.top_logprobs[0].token == t.token and t.logprob >= max(a.logprob for a in t.top_logprobs)
        assert bytes(t.bytes).decode("utf-8") == t.token
    plain = client.chat.completions.create(model=CHAT, messages=ASK)
    assert plain.choices[0].logprobs is None


@pytest.mark.parametrize("tool_choice,finish", [
    ({"type": "function", "function": {"name": "get_weather"}}, "stop"),  # a named choice finishes with "stop"
    ("required", "tool_calls"),
    ("auto", "tool_calls"),  # the user asked about the weather, which the tool is named for
])
def test_tools_yield_tool_calls_with_arguments_that_fit_the_schema(client, spec, tool_choice, finish):
    r = _create(client, spec, model=CHAT, messages=ASK, tools=[WEATHER], tool_choice=tool_choice)
    choice = r.choices[0]
    assert choice.finish_reason == finish and choice.message.content is None
    (tool_call,) = choice.message.tool_calls
    assert tool_call.function.name == "get_weather" and tool_call.id.startswith("call_")
    jsonschema.validate(json.loads(tool_call.function.arguments), WEATHER["function"]["parameters"])

    said = {"role": "assistant", "content": None, "tool_calls": [tool_call.model_dump()]}
    follow_up = ASK + [said,
                       {"role": "tool", "tool_call_id": tool_call.id, "content": "Sunny, 21 degrees"}]
    answer = client.chat.completions.create(model=CHAT, messages=follow_up, tools=[WEATHER])
    assert "Sunny, 21 degrees" in answer.choices[0].message.content and not answer.choices[0].message.tool_calls


def test_tools_are_not_called_when_not_asked_for(client):
    r = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Imagine a quiet harbour"}],
                                       tools=[WEATHER])
    assert r.choices[0].message.content and not r.choices[0].message.tool_calls
    none = client.chat.completions.create(model=CHAT, messages=ASK, tools=[WEATHER], tool_choice="none")
    assert none.choices[0].message.content and not none.choices[0].message.tool_calls


@pytest.mark.parametrize("body,param,words", [
    ({"tool_choice": "required"}, "tool_choice", "only allowed when 'tools' are specified"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice",
     "function 'nope' not found"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_x", "content": "42"}]},
     "messages.[1].role", "must be a response to a preceeding message with 'tool_calls'"),
    ({"response_format": {"type": "json_object"}}, "messages", "must contain the word 'json'"),
])
def test_tool_and_format_mistakes_get_the_real_400(http, body, param, words):
    r = http.post("/chat/completions", json={"model": CHAT, "messages": ASK, **body})
    assert r.status_code == 400 and r.json()["error"]["param"] == param and words in r.json()["error"]["message"]


def test_structured_output_returns_json_that_fits_the_schema(client):
    schema = {"type": "object", "additionalProperties": False, "required": ["title", "tags", "mood", "count"],
              "properties": {"title": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
                             "mood": {"type": "string", "enum": ["calm", "wild"]}, "count": {"type": "integer"},
                             "scene": {"$ref": "#/$defs/scene"}},
              "$defs": {"scene": {"type": "object", "properties": {"light": {"type": "string"}}}}}
    r = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Describe a lantern festival"}],
                                       response_format={"type": "json_schema",
                                                        "json_schema": {"name": "scene", "strict": True,
                                                                        "schema": schema}})
    jsonschema.validate(json.loads(r.choices[0].message.content), schema)
    mode = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "Answer in JSON: a fox"}],
                                          response_format={"type": "json_object"})
    assert isinstance(json.loads(mode.choices[0].message.content), dict)


def test_streams_carry_each_choice_tool_calls_and_logprobs(client):
    chunks = list(client.chat.completions.create(model=CHAT, messages=ASK, n=2, stream=True, logprobs=True))
    texts = {0: "", 1: ""}
    for c in chunks:
        for choice in c.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.delta.content:
                assert choice.logprobs.content[0].token == choice.delta.content
    plain = client.chat.completions.create(model=CHAT, messages=ASK, n=2)
    assert texts == {c.index: c.message.content for c in plain.choices}
    with client.chat.completions.stream(model=CHAT, messages=ASK, tools=[WEATHER], tool_choice="required") as events:
        final = events.get_final_completion()
    assert final.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert final.choices[0].finish_reason == "tool_calls"


def test_a_refused_tool_conversation_never_breaks_the_sdk(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT, messages=ASK, tools=[{"type": "function", "function": {"name": "a b"}}])
    assert caught.value.param == "tools[0].function.name"
