"""Black Forest Labs' FLUX API, as strict as the real service (../shared/reference/bfl-flux-api.md).

Mounted under ``/bfl`` (so its one-segment ``/v1/<model>`` paths cannot meet
OpenAI's): the base URL is ``<emulator>/bfl``.  ``POST /bfl/v1/<model>`` with
``x-key`` submits a task and answers ``{id, polling_url, cost, input_mp,
output_mp}``; the polling URL is on a different path than a client would
guess (``/bfl/eu2/v1/get_result?id=``), as the real API's regional clusters
are, so only a client that follows it gets the result.  Polls answer
``Pending`` with a growing ``progress`` until the task's time (the latency)
has passed, then ``Ready`` with ``result.sample`` (a signed delivery URL that
expires after ``flux_url_ttl_s``, ten minutes) and the seed.

Errors: bad or missing ``x-key`` → 403 ``{"detail": "Not authenticated - Invalid
Authentication"}``; unknown model → 404 ``{"detail": "Not Found"}``; a bad body →
422 FastAPI ``detail`` list; more than 24 active tasks → 429; faults ``402``
(credits), ``429``, ``500``, ``hang``, ``malformed``, ``moderated`` (Request
Moderated with reasons), ``moderation_blocked`` (Content Moderated),
``expired_url`` (the delivery link is dead on arrival).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import json
import math
import time
import uuid

from PIL import Image, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator import openai_render
from emulator.faults import read_directives

PREFIX = "/bfl"
MEGAPIXEL = 1024 * 1024
MAX_ACTIVE_TASKS = 24
# model -> (max reference images, safety_tolerance max, default output format, first-MP credits, extra-MP credits or
# None for a flat price, takes width/height (else aspect_ratio))
MODELS = {
    "flux-2-pro": (8, 5, "jpeg", 3.0, 1.5, True),
    "flux-2-max": (8, 5, "jpeg", 7.0, 3.0, True),
    "flux-2-flex": (8, 5, "jpeg", 5.0, 5.0, True),
    "flux-2-klein-4b": (4, 5, "jpeg", 1.4, 0.1, True),
    "flux-2-klein-9b": (4, 5, "jpeg", 1.5, 0.2, True),
    "flux-kontext-pro": (4, 6, "png", 4.0, None, False),
    "flux-kontext-max": (4, 6, "png", 8.0, None, False),
}
_REFS = ["input_image"] + [f"input_image_{i}" for i in range(2, 9)]
_RATIO_RANGE = (9 / 21, 21 / 9)


class BflError(Exception):
    def __init__(self, status: int, detail):
        super().__init__(str(detail))
        self.status, self.detail = status, detail

    def response(self) -> JSONResponse:
        return JSONResponse({"detail": self.detail}, status_code=self.status)


def _invalid(loc: str, msg: str, kind: str = "value_error") -> BflError:
    return BflError(422, [{"loc": ["body", loc], "msg": msg, "type": kind}])


def _check_key(request: Request) -> None:
    key = request.headers.get("x-key")
    if not key or "invalid" in key:
        raise BflError(403, "Not authenticated - Invalid Authentication")


def _decode(value, field: str) -> Image.Image:
    if not isinstance(value, str) or not value:
        raise _invalid(field, "Input should be a valid string", "string_type")
    if value.startswith(("http://", "https://")):
        raise _invalid(field, "This emulator takes input images as base64 only.")
    try:
        data = base64.b64decode(value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True)
        img = Image.open(io.BytesIO(data))
        img.load()
        return img
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError):
        raise _invalid(field, "Could not decode the input image: send a base64 jpeg, png, gif or webp.") from None


def _size(body: dict, refs: list[Image.Image], takes_size: bool) -> tuple[int, int]:
    if not takes_size:
        ratio = body.get("aspect_ratio")
        if ratio is None:
            r = refs[0].width / refs[0].height if refs else 1.0
        else:
            try:
                a, b = (int(v) for v in str(ratio).split(":"))
                r = a / b
            except ValueError:
                raise _invalid("aspect_ratio", "aspect_ratio must look like 16:9") from None
            if not _RATIO_RANGE[0] - 1e-9 <= r <= _RATIO_RANGE[1] + 1e-9:
                raise _invalid("aspect_ratio", "aspect_ratio must be between 21:9 and 9:21")
        w = math.sqrt(1024 * 1024 * r)
        return int(round(w / 16)) * 16, int(round(w / r / 16)) * 16
    width, height = body.get("width"), body.get("height")
    for name, value in (("width", width), ("height", height)):
        if value is None or value == 0:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(name, "Input should be a valid integer", "int_type")
        if value < 64:
            raise _invalid(name, "Input should be greater than or equal to 64", "greater_than_equal")
        if value % 16:
            raise _invalid(name, f"{name} must be a multiple of 16")
    if not width or not height:
        if refs:
            return refs[0].width // 16 * 16 or 64, refs[0].height // 16 * 16 or 64
        return 1024, 1024
    if width * height > 4 * 1024 * 1024:
        raise _invalid("width", f"{width}x{height} is more than 4 megapixels")
    return width, height


def _validate(model: str, body: dict) -> tuple[str, list[Image.Image], tuple[int, int], str, int | None]:
    max_refs, max_tolerance, default_format, *_rest, takes_size = MODELS[model]
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _invalid("prompt", "Field required", "missing")
    given = [f for f in _REFS if body.get(f) is not None]
    allowed = _REFS[:max_refs]
    for field in given:
        if field not in allowed:
            raise _invalid(field, f"{model} takes at most {max_refs} reference images")
    refs = [_decode(body[f], f) for f in given]
    tolerance = body.get("safety_tolerance", 2)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or not 0 <= tolerance <= max_tolerance:
        raise _invalid("safety_tolerance", f"Input should be less than or equal to {max_tolerance}", "less_than_equal")
    output_format = body.get("output_format") or default_format
    if output_format not in ("jpeg", "png"):
        raise _invalid("output_format", "Input should be 'jpeg' or 'png'", "enum")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _invalid("seed", "Input should be a valid integer", "int_type")
    return prompt, refs, _size(body, refs, takes_size), output_format, seed


def _credits(model: str, out_mp: float, in_mp: float) -> float:
    _refs, _tol, _fmt, first, extra, _size_ = MODELS[model]
    if extra is None:
        return first
    return round(first + max(out_mp - 1.0, 0.0) * extra + in_mp * extra, 2)


def _draw(prompt: str, refs: list[Image.Image], size: tuple[int, int], output_format: str, seed: int) -> bytes:
    width, height = size
    if refs:
        arr = openai_render.edit([openai_render.fit(r, width, height) for r in refs], None, prompt, seed % 7)
    else:
        arr = openai_render.scene(prompt, width, height, seed % 7)
    return openai_render.encode(arr, output_format)


def routes(state) -> list[Route]:
    tasks: dict[str, dict] = {}

    def active() -> int:
        now = time.monotonic()
        return sum(1 for t in tasks.values() if t["ready_at"] > now and t["status"] == "Pending")

    async def submit(request: Request) -> Response:
        model = request.path_params["model"]
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        logged = {k: (f"<base64 {len(v)} chars>" if k in _REFS and isinstance(v, str) else v)
                  for k, v in body.items()} if isinstance(body, dict) else raw[:200].decode("utf-8", "replace")
        state.log_call(request, logged)
        try:
            _check_key(request)
            if model not in MODELS:
                raise BflError(404, "Not Found")
            if not isinstance(body, dict):
                raise BflError(422, [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}])
            directives = read_directives(request.headers, body.get("prompt") if isinstance(body.get("prompt"), str) else None)
            fault = directives.fault
            if fault == "hang":
                await asyncio.sleep(state.hang_seconds)
            if fault == "402":
                raise BflError(402, "Insufficient credits. Add credits at https://dashboard.bfl.ai to continue.")
            if fault == "429" or active() >= MAX_ACTIVE_TASKS:
                raise BflError(429, f"You have reached the limit of {MAX_ACTIVE_TASKS} active tasks. Wait for some "
                                    "to finish and try again.")
            if fault == "500":
                raise BflError(500, "Internal Server Error")
            if fault == "malformed":
                return Response('{"id": "1f2e", "polling_url": ', media_type="application/json")
            prompt, refs, size, output_format, seed = _validate(model, body)
            clean = directives.clean_prompt or prompt
            seed = seed if seed is not None else int(hashlib.sha256(clean.encode()).hexdigest()[:8], 16) % 2**31
            # A megapixel here is 1024x1024 pixels, so a 1024x1024 picture costs the "1 MP" price (unverified).
            out_mp = size[0] * size[1] / MEGAPIXEL
            in_mp = sum(r.width * r.height for r in refs) / MEGAPIXEL
            task_id = str(uuid.uuid4())
            ms = state.default_latency_ms if directives.latency_ms is None else directives.latency_ms
            task = {"status": "Pending", "ready_at": time.monotonic() + max(ms, 0) / 1000, "started": time.time(),
                    "submitted": time.monotonic(), "fault": fault, "prompt": clean, "seed": seed, "model": model,
                    "format": output_format, "image": None}
            tasks[task_id] = task
            # Drawing happens while the task is pending, as on BFL's side.
            task["image"] = asyncio.create_task(asyncio.to_thread(_draw, clean, refs, size, output_format, seed))
            base = state.public_base_url or f"{request.url.scheme}://{request.url.netloc}"
            return JSONResponse({"id": task_id, "polling_url": f"{base}{PREFIX}/eu2/v1/get_result?id={task_id}",
                                 "cost": _credits(model, out_mp, in_mp), "input_mp": round(in_mp, 2),
                                 "output_mp": round(out_mp, 2)})
        except BflError as err:
            return err.response()

    async def get_result(request: Request) -> Response:
        state.log_call(request, None)
        try:
            _check_key(request)
        except BflError as err:
            return err.response()
        task_id = request.query_params.get("id", "")
        task = tasks.get(task_id)
        headers = {"Retry-After": "1", "X-Ratelimit-Limit": "1200"}
        empty = {"id": task_id, "result": None, "progress": None, "details": None, "preview": None}
        if task is None:
            return JSONResponse({**empty, "status": "Task not found"}, status_code=404, headers=headers)
        now = time.monotonic()
        if now < task["ready_at"] or not task["image"].done():
            span = max(task["ready_at"] - task["submitted"], 1e-6)
            return JSONResponse({**empty, "status": "Pending", "progress": round(min((now - task["submitted"]) / span,
                                                                                     0.99), 2)}, headers=headers)
        if task["fault"] == "moderated":
            return JSONResponse({**empty, "status": "Request Moderated",
                                 "details": {"Moderation Reasons": ["Violence"]}}, headers=headers)
        if task["fault"] == "moderation_blocked":
            return JSONResponse({**empty, "status": "Content Moderated",
                                 "details": {"Moderation Reasons": ["Sexual Content"]}}, headers=headers)
        data = task["image"].result()
        token = hashlib.sha256(f"{task_id}{time.time_ns()}".encode()).hexdigest()[:32]
        ttl = -1.0 if task["fault"] == "expired_url" else state.karlo_url_ttl_s  # signed links: ten minutes, as Karlo's
        with state.lock:
            state.served_files[token] = (data, f"image/{task['format']}", time.time() + ttl)
        base = state.public_base_url or f"{request.url.scheme}://{request.url.netloc}"
        sample = f"{base}{PREFIX}/delivery/{token}/sample.{task['format']}?se=signed&sig={token[:12]}"
        end = time.time()
        return JSONResponse({**empty, "status": "Ready", "result": {
            "sample": sample, "prompt": task["prompt"], "seed": task["seed"], "start_time": task["started"],
            "end_time": end, "duration": round(end - task["started"], 3)}}, headers=headers)

    async def delivery(request: Request) -> Response:
        state.log_call(request, None)
        token = request.path_params["token"]
        with state.lock:
            entry = state.served_files.get(token)
        if entry is None:
            return Response("<Error><Code>BlobNotFound</Code></Error>", status_code=404, media_type="application/xml")
        data, mime, expires = entry
        if time.time() > expires:
            return Response("<Error><Code>AuthenticationFailed</Code><Message>Signed expiry time has passed"
                            "</Message></Error>", status_code=403, media_type="application/xml")
        return Response(data, media_type=mime, headers={"Server": "Windows-Azure-Blob/1.0"})

    async def credits(request: Request) -> Response:
        try:
            _check_key(request)
        except BflError as err:
            return err.response()
        return JSONResponse({"credits": 1000.0})

    return [
        Route(PREFIX + "/v1/credits", credits, methods=["GET"]),
        Route(PREFIX + "/eu2/v1/get_result", get_result, methods=["GET"]),
        Route(PREFIX + "/delivery/{token}/{name}", delivery, methods=["GET"]),
        Route(PREFIX + "/v1/{model}", submit, methods=["POST"]),
    ]
