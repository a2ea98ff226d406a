"""What every OpenAI route of the emulator shares: errors in OpenAI's shape, auth, faults, request parsing.

``wrap`` turns a handler into a route: it logs the call, checks the key, applies
faults and latency from ``emulator.faults``, refuses endpoints the face no longer
serves, turns ``ApiError`` / ``SchemaViolation`` into OpenAI's error JSON and
puts an ``x-request-id`` on every answer.

Faults on this wire: 401 invalid_api_key; 429 rate_limit_exceeded with
``retry-after: 1``; 500/503 server_error; hang (answers after
``state.hang_seconds``, or never if the client hangs up); malformed (a 200 with
truncated JSON); moderation_blocked (images: 400 image_generation_user_error
with moderation_details; chat: 400 content_policy_violation); model_not_found
(404); stream_break (chat: role + 3 content chunks then the socket drops; image
streams: one partial then the drop); html502 (a proxy's HTML page).  Karlo's
negative codes mean nothing here and are ignored.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from emulator import openai_render as render
from emulator.faults import read_directives
from emulator.openai_models import OFFICIAL, endpoint_served, is_retired
from emulator.openai_schema import SchemaViolation

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


def invalid(param: str, message: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def model_not_found(model: str, call: "Call | None" = None) -> ApiError:
    if call is not None and is_retired(model, call.face, call.today):
        # The shape api.openai.com has used for shut-down models (text-davinci-003 and others).
        return ApiError(404, f"The model `{model}` has been deprecated, learn more here: "
                             "https://platform.openai.com/docs/deprecations", code="model_not_found")
    return ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
                    code="model_not_found")


def invalid_url(request: Request) -> ApiError:
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
        return model_not_found(model or "unknown")
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


class BrokenStream(StreamingResponse):
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


def sse(data: dict, event: str | None = None) -> bytes:
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


async def read_body(request: Request, multipart: bool) -> tuple[dict | None, dict, dict]:
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


def wrap(state, handler, face: str, path: str, *, chat: bool = False, multipart: bool = False):
    """Wrap a handler with what every OpenAI route does: log, auth, latency, faults, request id, errors."""

    async def endpoint(request: Request) -> Response:
        request_id = "req_" + secrets.token_hex(16)
        deadline = None
        today = state.current_date()
        try:
            if not endpoint_served(path, face, today):
                state.log_call(request, {})
                raise invalid_url(request)
            try:
                body, files, logged = await read_body(request, multipart)
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
        except Exception:  # an emulator bug: logged loudly, answered the way the API answers its own failures
            logging.getLogger("emulator").exception("emulator error on %s %s", request.method, request.url.path)
            response = ApiError(500, "The server had an error while processing your request. Sorry about that!",
                                type_="server_error").response()
        response.headers["x-request-id"] = request_id
        return response

    return endpoint


# ---------------------------------------------------------------- parameters


def int_param(body: dict, name: str, low: int | None = None, high: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):  # multipart sends numbers as text
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, f"Invalid type for '{name}': expected an integer, but got {type(value).__name__} instead.",
                       "invalid_type")
    if low is not None and value < low:
        raise invalid(name, f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, but got "
                             f"{value} instead.", "integer_below_min_value")
    if high is not None and value > high:
        raise invalid(name, f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, but got "
                             f"{value} instead.", "integer_above_max_value")
    return value


def bool_param(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise invalid(name, f"Invalid type for '{name}': expected a boolean, but got a string instead.",
                       "invalid_type")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(name, f"Invalid type for '{name}': expected a boolean.", "invalid_type")
    return value


def enum_values(values) -> str:
    """'a' and 'b'; 'a', 'b', and 'c' (the API's way of listing choices)."""
    quoted = [f"'{v}'" for v in values]
    return " and ".join(quoted) if len(quoted) < 3 else ", ".join(quoted[:-1]) + ", and " + quoted[-1]
