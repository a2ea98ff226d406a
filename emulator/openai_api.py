"""OpenAI's wire protocol as Starlette routes: models, chat completions, images (generations, edits, variations).

Requests are validated the way the real API does (status, ``type``, ``param``,
``code``), answers follow the published OpenAPI schemas, and faults from
``emulator.faults`` make any route fail the way OpenAI fails.  Every response
carries an ``x-request-id``.

Faults on this wire: 401 invalid_api_key; 429 rate_limit_exceeded with
``retry-after: 1``; 500/503 server_error; hang (answers after
``state.hang_seconds``, or never if the client hangs up); malformed (a 200 with
truncated JSON); moderation_blocked (images: 400 image_generation_user_error
with moderation_details; chat: 400 content_policy_violation); model_not_found
(404); stream_break (chat: role + 3 content chunks then the socket drops; image
streams: one partial then the drop); html502 (a proxy's HTML page).  Karlo's
negative codes mean nothing here and are ignored.

DALL·E ``url`` results are served from ``/_emulator/files/<token>.<ext>`` for
60 minutes (tokens start with ``oai-`` in ``state.served_files``).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, AsyncIterator

import numpy as np
from PIL import Image, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from emulator import openai_render as render
from emulator.faults import read_directives
from emulator.openai_schema import SchemaViolation, check
from emulator.openai_models import (CHAT_MODELS, COMPAT, EXTRA_QUALITY, IMAGE_MODELS, OFFICIAL, OUTPUT_TOKENS,
                                    ImageModel, endpoint_served, is_retired, is_served, served_models)

# ---------------------------------------------------------------- catalogue

CREATED = 1_760_000_000  # a fixed "created" for model objects
FIXED_SIZES = ("1024x1024", "1536x1024", "1024x1536")
DALLE_SIZES = {"dall-e-2": ("256x256", "512x512", "1024x1024"), "dall-e-3": ("1024x1024", "1792x1024", "1024x1792")}
PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000}
GPT_PROMPT_LIMIT = 32000
GPT_ONLY_PARAMS = ("background", "output_format", "output_compression", "moderation", "partial_images", "stream",
                   "input_fidelity")

URL_TTL_S = 3600.0  # DALL·E URLs expire after 60 minutes
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DALLE2_UPLOAD_BYTES = 4 * 1024 * 1024

_NO_KEY = ("You didn't provide an API key. You need to provide your API key in an Authorization header using "
           "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if "
           "you're accessing the API from your browser and are prompted for a username and password. You can "
           "obtain an API key from https://platform.openai.com/account/api-keys.")


# ---------------------------------------------------------------- errors and responses


class ApiError(Exception):
    """An OpenAI error body: ``{"error": {"message", "type", "param", "code"}}`` with an HTTP status."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers or {}
        self.extra = extra or {}

    def response(self) -> JSONResponse:
        body = {"message": self.message, "type": self.type, "param": self.param, "code": self.code, **self.extra}
        return JSONResponse({"error": body}, status_code=self.status, headers=self.headers)


def _invalid(param: str, message: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def _model_not_found(model: str, call: "Call | None" = None) -> ApiError:
    if call is not None and is_retired(model, call.face, call.today):
        # The shape api.openai.com has used for shut-down models (text-davinci-003 and others).
        return ApiError(404, f"The model `{model}` has been deprecated, learn more here: "
                             "https://platform.openai.com/docs/deprecations", code="model_not_found")
    return ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
                    code="model_not_found")


def _invalid_url(request: Request) -> ApiError:
    """What api.openai.com answers for a path it does not serve (or no longer serves)."""
    return ApiError(404, f"Invalid URL ({request.method} {request.url.path})")


def _redact_key(key: str) -> str:
    """Like OpenAI: never echo a key, only its last four characters."""
    prefix = "sk-" if key.startswith("sk-") else ""
    return f"{prefix}...{key[-4:]}" if len(key) >= 8 else "****"


def _check_auth(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiError(401, _NO_KEY)
    if "invalid" in key.lower():
        raise _bad_key(key)
    return key


def _bad_key(key: str) -> ApiError:
    return ApiError(401, f"Incorrect API key provided: {_redact_key(key)}. You can find your API key at "
                         "https://platform.openai.com/account/api-keys.", code="invalid_api_key")


def _fault_error(fault: str, key: str, model: str | None, chat: bool) -> ApiError | None:
    """The error a named fault turns into (None for faults that are not plain errors)."""
    if fault == "401":
        return _bad_key(key)
    if fault == "429":
        return ApiError(
            429, f"Rate limit reached for {model or 'requests'} in organization org-emulator on requests per min "
                 "(RPM): Limit 5, Used 5, Requested 1. Please try again in 1s. Visit "
                 "https://platform.openai.com/account/rate-limits to learn more.",
            type_="requests", code="rate_limit_exceeded",
            headers={"retry-after": "1", "x-ratelimit-limit-requests": "5", "x-ratelimit-remaining-requests": "0",
                     "x-ratelimit-reset-requests": "1s"})
    if fault == "500":
        return ApiError(500, "The server had an error while processing your request. Sorry about that!",
                        type_="server_error")
    if fault == "503":
        return ApiError(503, "The server is overloaded or not ready yet.", type_="server_error")
    if fault == "model_not_found":
        return _model_not_found(model or "unknown")
    if fault == "moderation_blocked":
        if chat:  # chat has no moderation_blocked; the legacy policy error is what a person sees
            return ApiError(400, "Your request was rejected as a result of our safety system. Your prompt may "
                                 "contain text that is not allowed by our safety system.",
                            code="content_policy_violation")
        return ApiError(400, "Your request was rejected by the safety system. If you believe this is an error, "
                             "contact us at help.openai.com and include the request ID. safety_violations=[violence].",
                        type_="image_generation_user_error", code="moderation_blocked",
                        extra={"moderation_details": {"moderation_stage": "input", "categories": ["violence"]}})
    return None


class _BrokenStream(StreamingResponse):
    """Send the SSE frames given, then drop the connection: no terminating chunk, no [DONE]."""

    def __init__(self, frames: list[bytes]):
        super().__init__(iter(()), media_type="text/event-stream")
        self.frames = frames

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        for frame in self.frames:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
            await asyncio.sleep(0.005)
        _QuietBrokenStreams.expected += 1
        # Returning without the final body makes uvicorn close the socket mid-stream, like a dropped connection.


class _QuietBrokenStreams(logging.Filter):
    """Keep uvicorn from logging an error for the streams we drop on purpose."""

    expected = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if _QuietBrokenStreams.expected and "without completing response" in record.getMessage():
            _QuietBrokenStreams.expected -= 1
            return False
        return True


logging.getLogger("uvicorn.error").addFilter(_QuietBrokenStreams())


# What a gateway in front of the API sends when the upstream is down: HTML, not OpenAI's JSON.
_HTML_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
             "</center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")


def _malformed(stream: bool) -> Response:
    """A 200 the client cannot parse: a truncated JSON body (or SSE event)."""
    if stream:
        return Response(b'data: {"id": "chatcmpl-emu", "object": "chat.completion.chunk", "choi\n\n',
                        media_type="text/event-stream")
    return Response(b'{"created": 1760000000, "data": [{"b64_json": "iVBORw0KGgoAAAANSUhEUgAA',
                    media_type="application/json")


def _sse(data: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


# ---------------------------------------------------------------- one request


@dataclass
class Call:
    """What every handler gets: the parsed body, uploads, directives, and the request id."""

    request: Request
    body: dict[str, Any]
    files: dict[str, list[tuple[str, bytes, str]]] = field(default_factory=dict)  # part -> [(filename, bytes, type)]
    fault: str | None = None
    prompt: str | None = None
    key: str = ""
    request_id: str = ""
    latency_ms: int | None = None  # asked for by header or directive (None: the emulator's default)
    face: str = OFFICIAL  # OFFICIAL (/v1, api.openai.com today) or COMPAT (/compat/v1, never retires)
    today: date = field(default_factory=date.today)


async def _read(request: Request, multipart: bool) -> tuple[dict | None, dict, dict]:
    """(body fields or None if unreadable, uploads, what to log) for a JSON or multipart request."""
    if request.method == "GET":
        return {}, {}, {}
    if multipart or request.headers.get("content-type", "").startswith(("multipart/", "application/x-www-form")):
        form = await request.form(max_files=64, max_part_size=4 * 1024 * 1024)
        fields: dict[str, Any] = {}
        files: dict[str, list[tuple[str, bytes, str]]] = {}
        logged: dict[str, Any] = {}
        for name, value in form.multi_items():
            if hasattr(value, "read"):
                data = await value.read()
                files.setdefault(name, []).append((value.filename or "upload", data,
                                                   (value.content_type or "application/octet-stream").lower()))
                logged.setdefault(name, []).append({"filename": value.filename, "size": len(data),
                                                    "content_type": value.content_type})
            else:
                fields[name] = value
                logged[name] = value
        await form.close()
        return fields, files, logged
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return None, {}, {"raw": raw[:2000].decode("utf-8", "replace")}
    return body, {}, body


async def _hang(state, request: Request) -> bool:
    """Sit on the request for state.hang_seconds, then answer; True if the client hung up first."""
    deadline = time.monotonic() + state.hang_seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return True
        await asyncio.sleep(min(0.1, max(deadline - time.monotonic(), 0)))
    return False


def _endpoint(state, handler, face: str, path: str, *, chat: bool = False, multipart: bool = False):
    """Wrap a handler with what every OpenAI route does: log, auth, latency, faults, request id, errors."""

    async def endpoint(request: Request) -> Response:
        request_id = "req_" + secrets.token_hex(16)
        deadline = None
        today = state.current_date()
        try:
            if not endpoint_served(path, face, today):
                state.log_call(request, {})
                raise _invalid_url(request)
            try:
                body, files, logged = await _read(request, multipart)
            except Exception:  # a broken multipart body
                body, files, logged = None, {}, {"raw": "<unreadable multipart body>"}
            state.log_call(request, logged)
            key = _check_auth(request)
            if body is None:
                raise ApiError(400, "We could not parse the body of your request. (HINT: This likely means you "
                                    "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload "
                                    "(or multipart form data for image edits and variations), but what was sent was "
                                    "not valid JSON.")
            prompt = body.get("prompt")
            if chat and isinstance(body.get("messages"), list):
                prompt = render.message_text(body["messages"])[1]
            directives = read_directives(request.headers, prompt if isinstance(prompt, str) else None)
            deadline = state.deadline(directives.latency_ms)
            fault = directives.fault
            if fault:
                await state.wait_until(deadline)
            if fault == "hang" and await _hang(state, request):
                return Response(status_code=499)  # the client gave up; nobody reads this
            error = _fault_error(fault, key, body.get("model"), chat) if fault else None
            if error:
                raise error
            if fault == "malformed":
                response = _malformed(bool(body.get("stream")) and chat)
            elif fault == "html502":
                response = HTMLResponse(_HTML_502, status_code=502)
            else:
                call = Call(request, body, files, fault, directives.clean_prompt, key, request_id,
                            directives.latency_ms, face, today)
                response = await handler(state, call)  # drawing happens inside the latency, not after it
                await state.wait_until(deadline)
        except (ApiError, SchemaViolation) as err:
            if isinstance(err, SchemaViolation):
                err = ApiError(400, err.message, param=err.param, code=err.code)
            response = err.response()
            if deadline is not None:
                await state.wait_until(deadline)
        response.headers["x-request-id"] = request_id
        return response

    return endpoint


# ---------------------------------------------------------------- models


async def list_models(state, call: Call) -> Response:
    ids = served_models(call.face, call.today)
    return JSONResponse({"object": "list", "data": [_model_object(i) for i in ids]})


def _model_object(model_id: str) -> dict:
    owner = "system" if model_id.startswith(("dall-e", "gpt-image", "chatgpt")) else "openai"
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": owner}


async def get_model(state, call: Call) -> Response:
    model_id = call.request.path_params["model"]
    if not is_served(model_id, call.face, call.today):
        raise _model_not_found(model_id, call)
    return JSONResponse(_model_object(model_id))


# ---------------------------------------------------------------- chat completions


def _int_param(body: dict, name: str, low: int | None = None, high: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):  # multipart sends numbers as text
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, f"Invalid type for '{name}': expected an integer, but got {type(value).__name__} instead.",
                       "invalid_type")
    if low is not None and value < low:
        raise _invalid(name, f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, but got "
                             f"{value} instead.", "integer_below_min_value")
    if high is not None and value > high:
        raise _invalid(name, f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, but got "
                             f"{value} instead.", "integer_above_max_value")
    return value


def _bool_param(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _invalid(name, f"Invalid type for '{name}': expected a boolean, but got a string instead.",
                       "invalid_type")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _invalid(name, f"Invalid type for '{name}': expected a boolean.", "invalid_type")
    return value


def _check_chat_semantics(body: dict, messages: list, stream: bool) -> None:
    """What the API refuses beyond the schema: combinations, tool bookkeeping, JSON mode's magic word."""
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise _invalid("top_logprobs", "Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
                                       "'top_logprobs' is used.")
    if body.get("stream_options") is not None and not stream:
        raise _invalid("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
    tools = body.get("tools") or []
    names = [t.get("function", {}).get("name") for t in tools if t.get("type") == "function"]
    choice = body.get("tool_choice")
    if choice is not None and not tools:
        raise _invalid("tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                                      "are specified.")
    if isinstance(choice, dict) and choice.get("type") == "function":
        wanted = choice.get("function", {}).get("name")
        if wanted not in names:
            raise _invalid("tool_choice", f"Invalid value for 'tool_choice': function '{wanted}' not found in "
                                          "'tools' parameter.")
    for i, name in enumerate(names):
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name or ""):
            raise _invalid(f"tools[{i}].function.name", f"Invalid 'tools[{i}].function.name': string does not match "
                                                        "pattern. Expected a string that matches the pattern "
                                                        "'^[a-zA-Z0-9_-]+$'.", "invalid_value")
    open_calls: set[str] = set()
    for i, m in enumerate(messages):
        if m.get("role") == "assistant":
            open_calls = {c.get("id") for c in m.get("tool_calls") or []}
        elif m.get("role") == "tool":
            if m.get("tool_call_id") not in open_calls:
                raise _invalid(f"messages.[{i}].role", "Invalid parameter: messages with role 'tool' must be a "
                                                       "response to a preceeding message with 'tool_calls'.")
        else:
            open_calls = set()
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object" and not any(
            "json" in render.text_of(m.get("content")).lower() for m in messages):
        raise _invalid("messages", "'messages' must contain the word 'json' in some form, to use 'response_format' "
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
        raise _invalid("model", "Missing required parameter: 'model'.", "missing_required_parameter")
    if model not in CHAT_MODELS or not is_served(model, call.face, call.today):
        raise _model_not_found(model, call)
    messages = body["messages"]
    stream = _bool_param(body, "stream")
    _check_chat_semantics(body, messages, stream)
    limit = _int_param(body, "max_completion_tokens", 1) or _int_param(body, "max_tokens", 1)
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
        return _sse(data)

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
        return _BrokenStream(first + content[:3])
    if include_usage:
        tail.append(_sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
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


# ---------------------------------------------------------------- images: validation


@dataclass
class ImageJob:
    """A validated image request, ready to render."""

    model: str
    kind: ImageModel
    prompt: str
    n: int
    width: int
    height: int
    size: str  # as echoed: the resolved WxH
    quality: str  # as echoed (auto resolved)
    background: str
    output_format: str
    compression: int | None
    response_format: str  # b64_json | url
    stream: bool
    partial_images: int
    style: str | None = None


def _parse_size(size: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d{2,5})x(\d{2,5})", size or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _check_free_size(size: str) -> None:
    """gpt-image-2 and later: any WxH with sides divisible by 16, aspect 1:3..3:1, at most 3840x2160 pixels."""
    wh = _parse_size(size)
    problem = None
    if wh is None:
        problem = "expected 'WxH' (for example '1024x1024') or 'auto'"
    else:
        w, h = wh
        if w % 16 or h % 16:
            problem = "both width and height must be multiples of 16"
        elif max(w, h) > 3840 or w * h > 3840 * 2160:
            problem = "the maximum size is 3840x2160 (longest side 3840, at most 8,294,400 pixels)"
        elif max(w, h) > 3 * min(w, h):
            problem = "the aspect ratio must be between 1:3 and 3:1"
        elif w * h < 256 * 256:
            problem = "the image must have at least 65,536 pixels"
    if problem:
        raise _invalid("size", f"Invalid value: '{size}'. Size not supported: {problem}.")


def _enum_values(values) -> str:
    """'a' and 'b'; 'a', 'b', and 'c' (the API's way of listing choices)."""
    quoted = [f"'{v}'" for v in values]
    return " and ".join(quoted) if len(quoted) < 3 else ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _image_job(call: Call, *, edit: bool) -> ImageJob:
    body, prompt = call.body, call.prompt
    model = body.get("model") or None
    if model is None:
        if call.face == OFFICIAL:
            # The 2026-08 spec's defaults (dall-e-2; gpt-image-1.5 for edits) are shut down; SDK 3.51 says
            # "Specify a model explicitly".  Assumed: today's API asks for one rather than guessing.
            raise _invalid("model", "Missing required parameter: 'model'.", "missing_required_parameter")
        # A compatible server follows the legacy spec: dall-e-2 unless a GPT-image-only parameter is used.
        model = "gpt-image-1.5" if edit or any(body.get(p) is not None for p in GPT_ONLY_PARAMS) else "dall-e-2"
    if model not in IMAGE_MODELS or not is_served(model, call.face, call.today):
        raise _model_not_found(model, call)
    kind = IMAGE_MODELS[model]
    if edit and not kind.edits:
        raise _invalid("model", f"Invalid value: '{model}'. Image edits are not supported for this model.")
    gpt = kind.family.startswith("gpt")

    raw_prompt = body.get("prompt")
    if raw_prompt is None or (isinstance(raw_prompt, str) and not raw_prompt.strip()):
        raise _invalid("prompt", "Missing required parameter: 'prompt'.", "missing_required_parameter")
    if not isinstance(raw_prompt, str):
        raise _invalid("prompt", "Invalid type for 'prompt': expected a string.", "invalid_type")
    limit = GPT_PROMPT_LIMIT if gpt else PROMPT_LIMITS[kind.family]
    if len(raw_prompt) > limit:
        raise _invalid("prompt", f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, "
                                 f"but got a string with length {len(raw_prompt)} instead.", "string_above_max_length")

    n_max = 1 if kind.family == "dall-e-3" else 10
    n = _int_param(body, "n", 1, 10)
    n = 1 if n is None else n
    if n > n_max:
        raise _invalid("n", f"Invalid 'n': integer above maximum value. Expected a value <= 1, but got {n} instead. "
                            f"{model} only supports n=1.", "integer_above_max_value")

    if gpt:
        for name in ("response_format", "style"):
            if body.get(name) is not None:
                raise _invalid(name, f"Unknown parameter: '{name}'.", "unknown_parameter")
    else:
        for name in GPT_ONLY_PARAMS:
            if body.get(name) is not None and not (name == "stream" and body[name] in (False, "false")):
                raise _invalid(name, f"Unknown parameter: '{name}'.", "unknown_parameter")

    size = body.get("size") or "auto"
    if kind.family == "gpt-fixed":
        if size != "auto" and size not in FIXED_SIZES:
            raise _invalid("size", f"Invalid value: '{size}'. Supported values are: "
                                   f"{_enum_values(FIXED_SIZES + ('auto',))}.")
    elif kind.family == "gpt-free":
        if size != "auto":
            _check_free_size(size)
    else:
        allowed = DALLE_SIZES[kind.family]
        if size == "auto":
            size = "1024x1024"
        if size not in allowed:
            raise _invalid("size", f"Invalid value: '{size}'. Supported values are: {_enum_values(allowed)}.")
    if size == "auto":
        size = "1024x1024"
    width, height = _parse_size(size)

    quality = body.get("quality") or "auto"
    if quality not in kind.qualities:
        raise _invalid("quality", f"Invalid value: '{quality}'. Supported values are: {_enum_values(kind.qualities)}.")
    if quality == "auto":
        quality = "medium" if gpt else "standard"

    background = body.get("background") or "auto"
    if background not in ("transparent", "opaque", "auto"):
        raise _invalid("background", f"Invalid value: '{background}'. Supported values are: 'transparent', "
                                     "'opaque', and 'auto'.")
    output_format = body.get("output_format") or "png"
    if output_format not in ("png", "jpeg", "webp"):
        raise _invalid("output_format", f"Invalid value: '{output_format}'. Supported values are: 'png', 'jpeg', "
                                        "and 'webp'.")
    if background == "transparent" and output_format == "jpeg":
        raise _invalid("background", "Transparent background is not supported for jpeg output format. Use png or "
                                     "webp.", "unsupported_value")
    compression = _int_param(body, "output_compression", 0, 100)
    if compression is not None and compression < 100 and output_format == "png":
        raise _invalid("output_compression", "Compression less than 100 is not supported for PNG output format.",
                       "unsupported_value")
    moderation = body.get("moderation")
    if moderation is not None and moderation not in ("low", "auto"):
        raise _invalid("moderation", f"Invalid value: '{moderation}'. Supported values are: 'low' and 'auto'.")
    fidelity = body.get("input_fidelity")
    if fidelity is not None and fidelity not in ("low", "high"):
        raise _invalid("input_fidelity", f"Invalid value: '{fidelity}'. Supported values are: 'low' and 'high'.")
    if fidelity == "high" and model == "gpt-image-1-mini":
        raise _invalid("input_fidelity", "input_fidelity 'high' is not supported for gpt-image-1-mini.",
                       "unsupported_value")

    response_format = body.get("response_format") or ("b64_json" if gpt else "url")
    if response_format not in ("url", "b64_json"):
        raise _invalid("response_format", f"Invalid value: '{response_format}'. Supported values are: 'url' and "
                                          "'b64_json'.")
    style = body.get("style")
    if style is not None and (kind.family != "dall-e-3" or style not in ("vivid", "natural")):
        raise _invalid("style", f"Invalid value: '{style}'. Supported values are: 'vivid' and 'natural'.")
    stream = _bool_param(body, "stream")
    partial_images = _int_param(body, "partial_images", 0, 3)
    if partial_images is not None and not stream:
        raise _invalid("partial_images", "partial_images is only supported when stream is true.", "invalid_value")
    partial_images = partial_images or 0
    return ImageJob(model, kind, prompt if prompt is not None else raw_prompt, n, width, height, f"{width}x{height}",
                    quality, "transparent" if background == "transparent" else "opaque", output_format,
                    compression, response_format, stream, partial_images, style)


def _output_tokens(job: ImageJob) -> int:
    quality = "high" if job.quality in EXTRA_QUALITY else job.quality
    table = OUTPUT_TOKENS[job.kind.tokens][quality]
    per_image = table.get(job.size) or round(table["1024x1024"] * job.width * job.height / (1024 * 1024))
    return round(per_image * EXTRA_QUALITY.get(job.quality, 1.0))


def _input_image_tokens(width: int, height: int, fidelity: str | None) -> int:
    """Vision-style tile count: fit in 2048, shortest side 768, 170 per 512px tile plus 85; high fidelity costs more."""
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    tokens = 85 + 170 * (-(-int(w) // 512)) * (-(-int(h) // 512))
    return tokens + (4096 if fidelity == "high" else 0)


def _usage(job: ImageJob, image_tokens_in: int = 0) -> dict:
    text_tokens = render.count_tokens(job.prompt)
    out = _output_tokens(job) * job.n
    return {"input_tokens": text_tokens + image_tokens_in, "output_tokens": out,
            "total_tokens": text_tokens + image_tokens_in + out,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens_in},
            "output_tokens_details": {"image_tokens": out, "text_tokens": 0}}


# ---------------------------------------------------------------- images: answers


def _serve_url(state, data: bytes, mime: str, ext: str) -> str:
    """Keep the bytes for an hour and return a signed-looking URL on this emulator (like DALL·E's blob URLs)."""
    now = time.time()
    token = "oai-" + secrets.token_hex(12)
    with state.lock:
        for old in [t for t, (_, _, exp) in state.served_files.items() if t.startswith("oai-") and exp < now]:
            del state.served_files[old]
        state.served_files[token] = (data, mime, now + URL_TTL_S)
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + URL_TTL_S))
    return f"{state.public_base_url}/_emulator/files/{token}.{ext}?se={expires}&sp=r&sig={secrets.token_hex(16)}"


def _revised_prompt(prompt: str, job: ImageJob) -> str:
    mood = "vivid, dramatic colours" if job.style != "natural" else "natural, true-to-life colours"
    return (f"{prompt.strip().rstrip('.')}. The scene is shown in {mood}, with a balanced composition, "
            "soft directional light and fine detail throughout.")


async def _images_response(state, job: ImageJob, pictures: list[np.ndarray], usage: dict | None) -> JSONResponse:
    # Encoding big pictures takes a while: off the event loop, so other streams keep flowing.
    encoded = await asyncio.to_thread(lambda: [render.encode(a, job.output_format, job.compression) for a in pictures])
    data = []
    for raw in encoded:
        item: dict[str, Any] = {}
        if job.response_format == "url":
            item["url"] = _serve_url(state, raw, f"image/{job.output_format}", job.output_format)
        else:
            item["b64_json"] = base64.b64encode(raw).decode("ascii")
        if job.kind.family == "dall-e-3":
            item["revised_prompt"] = _revised_prompt(job.prompt, job)
        data.append(item)
    body: dict[str, Any] = {"created": int(time.time()), "data": data}
    if job.kind.family.startswith("gpt"):
        body.update(background=job.background, output_format=job.output_format, quality=job.quality, size=job.size,
                    usage=usage)
    return JSONResponse(body)


async def _image_stream(job: ImageJob, pictures: list[np.ndarray], usage: dict, prefix: str,
                        broken: bool) -> Response:
    """SSE: partial_images previews per picture, then one completed event (carrying usage) per picture."""
    def event(kind: str, arr: np.ndarray, **extra) -> bytes:
        raw = render.encode(arr, job.output_format, job.compression)
        return _sse({"type": f"{prefix}.{kind}", "b64_json": base64.b64encode(raw).decode("ascii"),
                     "created_at": int(time.time()), "size": job.size, "quality": job.quality,
                     "background": job.background, "output_format": job.output_format, **extra},
                    event=f"{prefix}.{kind}")

    if broken:
        first = await asyncio.to_thread(lambda: event(
            "partial_image", render.partial(pictures[0], 0, max(job.partial_images, 1)), partial_image_index=0))
        return _BrokenStream([first])

    async def frames() -> AsyncIterator[bytes]:
        for arr in pictures:
            for i in range(job.partial_images):
                yield await asyncio.to_thread(lambda: event(
                    "partial_image", render.partial(arr, i, job.partial_images), partial_image_index=i))
            yield await asyncio.to_thread(event, "completed", arr, usage=usage)

    return StreamingResponse(frames(), media_type="text/event-stream")


def _family_seed(job: ImageJob) -> str:
    """What makes one model draw another picture than its neighbour: its id without the snapshot date."""
    return re.sub(r"-\d{4}-\d{2}-\d{2}$", "", job.model)


async def images_generations(state, call: Call) -> Response:
    call.body = check(call.body, "CreateImageRequest")
    job = _image_job(call, edit=False)
    transparent = job.background == "transparent"
    pictures = await asyncio.to_thread(
        lambda: [render.scene(job.prompt, job.width, job.height, i, transparent=transparent, quality=job.quality,
                              model=_family_seed(job)) for i in range(job.n)])
    usage = _usage(job) if job.kind.family.startswith("gpt") else None
    if job.stream:
        return await _image_stream(job, pictures, usage, "image_generation", call.fault == "stream_break")
    return await _images_response(state, job, pictures, usage)


_FORMAT_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def _open_upload(param: str, data: bytes, content_type: str | None, *, limit: int, png_only: bool) -> Image.Image:
    """Decode one uploaded picture; ``content_type`` None skips the part-type check (masks are not checked)."""
    allowed = ("image/png",) if png_only else ("image/jpeg", "image/png", "image/webp")

    def unsupported(mime: str) -> ApiError:
        return _invalid(param, f"Invalid file '{param}': unsupported mimetype ('{mime}'). Supported file formats are "
                               f"{_enum_values(allowed)}.", "unsupported_file_mimetype")

    if content_type is not None and content_type.replace("image/jpg", "image/jpeg") not in allowed:
        raise unsupported(content_type)
    if len(data) > limit:
        raise _invalid(param, f"Invalid input image - file too large ({len(data)} bytes); the limit is "
                              f"{limit // (1024 * 1024)} MB.", "image_too_large")
    try:
        pic = Image.open(io.BytesIO(data))
        pic.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise _invalid(param, f"Invalid image file or mode for image '{param}', please check your image file.",
                       "invalid_image_file") from None
    mime = _FORMAT_MIME.get(pic.format or "", f"image/{(pic.format or 'unknown').lower()}")
    if mime not in allowed:  # the part said one thing, the bytes are another
        raise unsupported(mime)
    return pic


def _uploads(call: Call) -> list[tuple[str, bytes, str]]:
    """(param name as the API reports it, bytes, part type) for every input picture."""
    single = [("image", data, mime) for _, data, mime in call.files.get("image", [])]
    listed = call.files.get("image[]", [])
    return single + [(f"image[{i}]", data, mime) for i, (_, data, mime) in enumerate(listed)]


def _from_reference(state, ref: dict, param: str) -> tuple[str, bytes, str]:
    """A JSON edit's ``{image_url}`` / ``{file_id}`` as upload bytes: data URLs, or this emulator's own URLs."""
    url = ref.get("image_url")
    if url is None:
        raise _invalid(f"{param}.file_id", f"No such File object: {ref.get('file_id')}", "invalid_value")
    m = re.fullmatch(r"data:([\w/+.-]+);base64,(.*)", url, re.DOTALL)
    if m:
        try:
            return param, base64.b64decode(m.group(2), validate=True), m.group(1).lower()
        except ValueError:
            raise _invalid(f"{param}.image_url", "Invalid base64 image_url.", "invalid_image_url") from None
    token = url.split("/_emulator/files/", 1)[-1].split(".", 1)[0] if url.startswith(state.public_base_url) else ""
    with state.lock:
        entry = state.served_files.get(token)
    if entry is None:  # the emulator fetches nothing from the internet; the API would, and fail like this
        raise _invalid(f"{param}.image_url", f"Error while downloading {url}.", "invalid_image_url")
    return param, entry[0], entry[1]


def _edit_inputs(state, call: Call) -> tuple[list[tuple[str, bytes, str]], tuple[bytes, str] | None]:
    """The input pictures and the mask of an edit, from multipart parts or a JSON body's references."""
    if call.files or call.request.headers.get("content-type", "").startswith(("multipart/", "application/x-www")):
        for name in ("image", "image[]", "mask"):
            if name in call.body:
                raise _invalid(name, f"Invalid type for '{name}': expected one of an array of files or file, but "
                                     "got a string instead.", "invalid_type")
        call.body = check(call.body, "CreateImageEditRequest", form=True)
        masks = call.files.get("mask", [])
        return _uploads(call), ((masks[0][1], masks[0][2]) if masks else None)
    call.body = check(call.body, "EditImageBodyJsonParam")
    uploads = [_from_reference(state, ref, f"images[{i}]") for i, ref in enumerate(call.body["images"])]
    mask = call.body.get("mask")
    return uploads, (_from_reference(state, mask, "mask")[1:] if mask else None)


async def images_edits(state, call: Call) -> Response:
    uploads, mask_part = _edit_inputs(state, call)
    call.body.pop("images", None)
    call.body.pop("mask", None)
    json_body = not call.files
    job = _image_job(call, edit=True)
    if not uploads:
        raise _invalid("image", "Missing required parameter: 'image'.", "missing_required_parameter")
    dalle = job.kind.family == "dall-e-2"
    if dalle and len(uploads) > 1:
        raise _invalid("image", "dall-e-2 edits take exactly one image.", "invalid_value")
    if len(uploads) > 16:
        raise _invalid("image", f"Invalid 'image': array too long. Expected at most 16 images, got {len(uploads)}.",
                       "array_above_max_length")
    limit = DALLE2_UPLOAD_BYTES if dalle else MAX_UPLOAD_BYTES
    if dalle and json_body:
        raise _invalid("model", "JSON edit bodies are only supported for GPT image models; send multipart/form-data "
                                "for dall-e-2.")
    pics = [_open_upload(param, data, mime, limit=limit, png_only=dalle) for param, data, mime in uploads]
    if dalle and pics[0].width != pics[0].height:
        raise _invalid("image", "Invalid input image - image must be square.", "invalid_image")

    mask_alpha = None
    if mask_part:
        mask = _open_upload("mask", mask_part[0], None, limit=DALLE2_UPLOAD_BYTES, png_only=True)
        if mask.size != pics[0].size:
            raise _invalid("mask", f"Invalid mask image - mask size {mask.width}x{mask.height} does not match image "
                                   f"size {pics[0].width}x{pics[0].height}. The mask must have the same dimensions as "
                                   "the first image.", "invalid_mask")
        if "A" not in mask.getbands() and "transparency" not in mask.info:
            raise _invalid("mask", "Invalid mask image - mask must have an alpha channel (format RGBA, LA or a PNG "
                                   "with transparency). Transparent areas mark where to edit.", "invalid_mask")
        mask_alpha = np.asarray(mask.convert("RGBA"))[..., 3]
    elif dalle:  # dall-e-2 without a mask: the image's own transparent pixels mark the area to edit
        alpha = np.asarray(pics[0].convert("RGBA"))[..., 3]
        if not (alpha == 0).any():
            raise _invalid("image", "Invalid input image - without a mask, the image must have transparent areas "
                                    "(format RGBA, LA or L with alpha) to mark where to edit.", "invalid_image")
        mask_alpha = alpha

    if call.body.get("size") in (None, "auto"):
        # Edits keep the input's shape: the closest supported size for fixed-size models, the input size otherwise.
        job.width, job.height = _edit_size(job, pics[0].size)
        job.size = f"{job.width}x{job.height}"

    def draw() -> list[np.ndarray]:
        arrays = [render.fit(p, job.width, job.height) for p in pics]
        m = mask_alpha
        if m is not None and m.shape != (job.height, job.width):
            m = np.asarray(Image.fromarray(m).resize((job.width, job.height), Image.Resampling.NEAREST))
        return [render.edit(arrays, m, job.prompt, i, transparent=job.background == "transparent", guidance=not dalle,
                            quality=job.quality, model=_family_seed(job))
                for i in range(job.n)]

    pictures = await asyncio.to_thread(draw)
    usage = None
    if not dalle:
        fidelity = call.body.get("input_fidelity")
        usage = _usage(job, sum(_input_image_tokens(p.width, p.height, fidelity) for p in pics))
    if job.stream:
        return await _image_stream(job, pictures, usage, "image_edit", call.fault == "stream_break")
    return await _images_response(state, job, pictures, usage)


def _edit_size(job: ImageJob, size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    if job.kind.family == "gpt-free":
        w16, h16 = max(16, round(w / 16) * 16), max(16, round(h / 16) * 16)
        try:
            _check_free_size(f"{w16}x{h16}")
            return w16, h16
        except ApiError:
            pass
    if job.kind.family == "dall-e-2":
        return job.width, job.height
    if w > h * 1.2:
        return 1536, 1024
    if h > w * 1.2:
        return 1024, 1536
    return 1024, 1024


async def images_variations(state, call: Call) -> Response:
    body = call.body = check(call.body, "CreateImageVariationRequest", form=True)
    model = body.get("model") or "dall-e-2"
    if model not in IMAGE_MODELS or not is_served(model, call.face, call.today):
        raise _model_not_found(model, call)
    if model != "dall-e-2":
        raise _invalid("model", f"Invalid value: '{model}'. Image variations are only supported for dall-e-2; use "
                                "the image edits endpoint with a prompt instead.")
    n = _int_param(body, "n", 1, 10) or 1
    size = body.get("size") or "1024x1024"
    if size not in DALLE_SIZES["dall-e-2"]:
        raise _invalid("size", f"Invalid value: '{size}'. Supported values are: "
                               f"{_enum_values(DALLE_SIZES['dall-e-2'])}.")
    response_format = body.get("response_format") or "url"
    if response_format not in ("url", "b64_json"):
        raise _invalid("response_format", f"Invalid value: '{response_format}'. Supported values are: 'url' and "
                                          "'b64_json'.")
    uploads = call.files.get("image", [])
    if not uploads:
        raise _invalid("image", "Missing required parameter: 'image'.", "missing_required_parameter")
    _, data, mime = uploads[0]
    pic = _open_upload("image", data, mime, limit=DALLE2_UPLOAD_BYTES, png_only=True)
    if pic.width != pic.height:
        raise _invalid("image", "Invalid input image - image must be square.", "invalid_image")
    side = int(size.split("x")[0])
    job = ImageJob(model, IMAGE_MODELS[model], "", n, side, side, size, "standard", "opaque", "png", None,
                   response_format, False, 0)
    base = render.fit(pic, side, side)
    pictures = await asyncio.to_thread(lambda: [render.variation(base, i) for i in range(n)])
    return await _images_response(state, job, pictures, None)


# ---------------------------------------------------------------- files behind DALL·E URLs


async def served_file(request: Request) -> Response:
    token = request.path_params["name"].rsplit(".", 1)[0]
    state = request.app.state.emulator
    with state.lock:
        entry = state.served_files.get(token)
    if entry is None or not token.startswith("oai-"):
        return Response("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code><Message>The "
                        "specified blob does not exist.</Message></Error>", status_code=404,
                        media_type="application/xml")
    data, mime, expires_at = entry
    if time.time() > expires_at:
        return Response("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>"
                        "Signed expiry time has passed.</Message></Error>", status_code=403,
                        media_type="application/xml")
    return Response(data, media_type=mime)


async def _not_served(request: Request) -> Response:
    response = _invalid_url(request).response()
    response.headers["x-request-id"] = "req_" + secrets.token_hex(16)
    return response


def routes(state) -> list[Route]:
    """Both faces: /v1 (api.openai.com on the emulator's date) and /compat/v1 (a compatible server)."""
    table = [
        ("/models", list_models, {"methods": ["GET"]}),
        ("/models/{model:path}", get_model, {"methods": ["GET"]}),
        ("/chat/completions", chat_completions, {"methods": ["POST"], "chat": True}),
        ("/images/generations", images_generations, {"methods": ["POST"]}),
        ("/images/edits", images_edits, {"methods": ["POST"]}),
        ("/images/variations", images_variations, {"methods": ["POST"], "multipart": True}),
    ]
    out = []
    for prefix, face in (("/v1", OFFICIAL), ("/compat/v1", COMPAT)):
        for path, handler, options in table:
            options = dict(options)
            methods = options.pop("methods")
            out.append(Route(prefix + path, _endpoint(state, handler, face, path, **options), methods=methods))
        # Anything else under the prefix: the API's JSON 404, not Starlette's plain text.
        out.append(Route(prefix + "/{rest:path}", _not_served, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    out.append(Route("/_emulator/files/{name}", served_file, methods=["GET"]))
    return out
