"""Chat completions on the emulator: validation beyond the schema, then answers with n, logprobs, tools,
structured outputs and streaming, like the real endpoint."""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import time
from typing import Any, AsyncIterator

from starlette.responses import JSONResponse, Response, StreamingResponse

from emulator import openai_render as render
from emulator.openai_models import CHAT_MODELS, is_served
from emulator.openai_schema import check
from emulator.openai_wire import BrokenStream, Call, bool_param, int_param, invalid, model_not_found, sse


def _check_chat_semantics(body: dict, messages: list, stream: bool) -> None:
    """What the API refuses beyond the schema: combinations, tool bookkeeping, JSON mode's magic word."""
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise invalid("top_logprobs", "Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
                                       "'top_logprobs' is used.")
    if body.get("stream_options") is not None and not stream:
        raise invalid("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
    tools = body.get("tools") or []
    names = [t.get("function", {}).get("name") for t in tools if t.get("type") == "function"]
    choice = body.get("tool_choice")
    if choice is not None and not tools:
        raise invalid("tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                                      "are specified.")
    if isinstance(choice, dict) and choice.get("type") == "function":
        wanted = choice.get("function", {}).get("name")
        if wanted not in names:
            raise invalid("tool_choice", f"Invalid value for 'tool_choice': function '{wanted}' not found in "
                                          "'tools' parameter.")
    for i, name in enumerate(names):
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name or ""):
            raise invalid(f"tools[{i}].function.name", f"Invalid 'tools[{i}].function.name': string does not match "
                                                        "pattern. Expected a string that matches the pattern "
                                                        "'^[a-zA-Z0-9_-]+$'.", "invalid_value")
    open_calls: set[str] = set()
    for i, m in enumerate(messages):
        if m.get("role") == "assistant":
            open_calls = {c.get("id") for c in m.get("tool_calls") or []}
        elif m.get("role") == "tool":
            if m.get("tool_call_id") not in open_calls:
                raise invalid(f"messages.[{i}].role", "Invalid parameter: messages with role 'tool' must be a "
                                                       "response to a preceeding message with 'tool_calls'.")
        else:
            open_calls = set()
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object" and not any(
            "json" in render.text_of(m.get("content")).lower() for m in messages):
        raise invalid("messages", "'messages' must contain the word 'json' in some form, to use 'response_format' "
                                   "of type 'json_object'.")


def _tool_to_call(body: dict, user: str) -> dict | None:
    """The function tool this answer calls, if any: forced by tool_choice, or named by the user under "auto"."""
    tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
    choice = body.get("tool_choice", "auto" if tools else "none")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict) and choice.get("type") == "function":
        wanted = choice.get("function", {}).get("name")
        return next(t["function"] for t in tools if t["function"]["name"] == wanted)
    if choice == "required" or isinstance(choice, dict):  # allowed_tools / custom: the first function tool
        return tools[0]["function"]
    asked = set(re.findall(r"[a-z]{4,}", user.lower()))
    for tool in tools:  # "auto": call a tool whose name's words the user used ("weather" -> get_weather)
        if asked & set(re.findall(r"[a-z]{4,}", tool["function"]["name"].lower().replace("_", " "))):
            return tool["function"]
    return None


def _json_for(schema: object, text: str) -> object:
    """A value for a caller's JSON Schema; the schema is the caller's free-form JSON, so a shape the
    generator cannot follow gives an empty object rather than a 500."""
    try:
        return render.instance_of(schema, text) if isinstance(schema, dict) else {}
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, RecursionError):
        return {}


def _answer(body: dict, clean: list, variant: int) -> tuple[str | None, list[dict] | None]:
    """(text content, tool calls) of one choice."""
    system, user = render.message_text(clean)
    last = clean[-1] if clean else {}
    if last.get("role") != "tool":
        tool = _tool_to_call(body, user)
        if tool is not None:
            args = _json_for(tool.get("parameters") or {"type": "object", "properties": {}}, user or system)
            call_id = "call_" + hashlib.sha256(f"{tool['name']}{user}{variant}".encode()).hexdigest()[:24]
            return None, [{"id": call_id, "type": "function",
                           "function": {"name": tool["name"], "arguments": json.dumps(args, ensure_ascii=False)}}]
    if last.get("role") == "tool":  # the tool answered: say what it said
        text = f"Here is what I found: {render.text_of(last.get('content')).strip()[:400]}"
    else:
        text = render.chat_reply(clean, variant)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object", "properties": {}}
        text = json.dumps(_json_for(schema, text), ensure_ascii=False)
    elif fmt.get("type") == "json_object":
        text = json.dumps({"answer": text}, ensure_ascii=False)
    return text, None


async def chat_completions(state, call: Call) -> Response:
    body = call.body = check(call.body, "CreateChatCompletionRequest",
                             top_unknown="Unrecognized request argument supplied: {name}")
    model = body.get("model")
    if not model:
        raise invalid("model", "Missing required parameter: 'model'.", "missing_required_parameter")
    if model not in CHAT_MODELS or not is_served(model, call.face, call.today):
        raise model_not_found(model, call)
    messages = body["messages"]
    stream = bool_param(body, "stream")
    _check_chat_semantics(body, messages, stream)
    limit = int_param(body, "max_completion_tokens", 1) or int_param(body, "max_tokens", 1)
    n = body.get("n") or 1
    top = body.get("top_logprobs") or 0
    want_logprobs = bool(body.get("logprobs"))

    # The directive-free text makes the reply, so "[fault:...]" never shows up in it.
    clean = [dict(m) for m in messages]
    for m in reversed(clean):
        if m.get("role") == "user":
            m["content"] = call.prompt or ""
            break
    named_tool = isinstance(body.get("tool_choice"), dict)
    choices = []
    completion_tokens = 0
    for index in range(n):
        text, tool_calls = _answer(body, clean, index)
        if tool_calls:
            # A named tool_choice finishes with "stop"; "required"/"auto" with "tool_calls" (as the API does).
            finish = "stop" if named_tool else "tool_calls"
            completion_tokens += sum(render.count_tokens(c["function"]["arguments"]) for c in tool_calls) + 7
        else:
            finish = "stop"
            if limit is not None and render.count_tokens(text) > limit:
                text, finish = text[: limit * 4], "length"
            completion_tokens += render.count_tokens(text)
        scored = render.logprobs(text, top, f"{call.request_id}:{index}") if want_logprobs and text else None
        choices.append((index, text, tool_calls, finish, scored))
    prompt_tokens = sum(render.count_tokens(render.text_of(m.get("content"))) + 4 for m in messages)
    usage = {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }
    cid = "chatcmpl-" + secrets.token_hex(12)
    created = int(time.time())
    if not stream:
        out = []
        for index, text, tool_calls, finish, scored in choices:
            message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
            if tool_calls:
                message["tool_calls"] = tool_calls
            out.append({"index": index, "message": message, "finish_reason": finish,
                        "logprobs": {"content": scored, "refusal": None} if want_logprobs else None})
        return JSONResponse({
            "id": cid, "object": "chat.completion", "created": created, "model": model, "choices": out,
            "usage": usage, "service_tier": "default", "system_fingerprint": "fp_emulator",
        })

    options = body.get("stream_options") or {}
    include_usage = bool(options.get("include_usage"))
    obfuscate = options.get("include_obfuscation", True) is not False  # on by default, as upstream

    def chunk(index: int, delta: dict, finish_reason: str | None = None, lp: list | None = None) -> bytes:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "service_tier": "default", "system_fingerprint": "fp_emulator",
                "choices": [{"index": index, "delta": delta,
                             "logprobs": {"content": lp, "refusal": None} if lp is not None else None,
                             "finish_reason": finish_reason}],
                "usage": None}
        if obfuscate:  # padding that hides token lengths from an observer; clients ignore it
            data["obfuscation"] = secrets.token_urlsafe(6)[: 1 + len(json.dumps(delta)) % 8]
        return sse(data)

    first, content, tail = [], [], []
    for index, text, tool_calls, finish, scored in choices:
        first.append(chunk(index, {"role": "assistant", "content": None if tool_calls else "", "refusal": None}))
        if tool_calls:
            content.append(chunk(index, {"tool_calls": [{"index": k, **c} for k, c in enumerate(tool_calls)]}))
        else:
            for k, piece in enumerate(render.tokens_of(text)):
                content.append(chunk(index, {"content": piece}, lp=[scored[k]] if scored else None))
        tail.append(chunk(index, {}, finish))
    if call.fault == "stream_break":
        return BrokenStream(first + content[:3])
    if include_usage:
        tail.append(sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                          "service_tier": "default", "system_fingerprint": "fp_emulator", "choices": [],
                          "usage": usage}))
    tail.append(b"data: [DONE]\n\n")
    latency = state.default_latency_ms if call.latency_ms is None else call.latency_ms
    gap = 0.003 + (latency / 1000) * 0.5 / max(len(content), 1)  # tokens trickle in, so TTFT < total time

    async def frames() -> AsyncIterator[bytes]:
        for frame in first + content:
            yield frame
            await asyncio.sleep(gap)
        for frame in tail:
            yield frame

    return StreamingResponse(frames(), media_type="text/event-stream")
