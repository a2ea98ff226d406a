"""Google's Gemini API image models ("Nano Banana"), as strict as the real service (../shared/reference/gemini-image-api.md).

Routes: ``GET /v1beta/models`` (paged), ``GET /v1beta/models/{model}``,
``POST /v1beta/models/{model}:generateContent``.  Auth is ``x-goog-api-key``
(or ``?key=``): none gets 403 PERMISSION_DENIED, a key containing ``invalid``
gets 400 INVALID_ARGUMENT with ``reason: API_KEY_INVALID`` (as the real API
does, not 401).  Bodies are proto3 JSON (camelCase or snake_case accepted);
an unknown field is a 400 naming it, an aspect ratio or size the model does
not take is a 400, retired ids (``*-preview``, ``imagen-*``) are 404.

Every 200 carries ``usageMetadata`` with per-modality token counts: images
cost the model's output tokens per image size (§9), each input image 560
tokens.  Faults (header ``X-Emulator-Fault`` or ``[fault:NAME]``): ``429``
(RESOURCE_EXHAUSTED with RetryInfo), ``402`` (prepaid credits depleted),
``500``, ``503``, ``hang``, ``malformed``, ``prompt_blocked`` (no candidates,
``promptFeedback.blockReason``), ``image_safety`` (a candidate finished with
IMAGE_SAFETY and no image), ``no_image``, ``model_not_found``, ``401`` (bad key).
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

import numpy as np
from PIL import Image, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator import openai_render
from emulator.faults import read_directives

STANDARD_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
WIDE_RATIOS = STANDARD_RATIOS + ("1:4", "4:1", "1:8", "8:1")
INPUT_MIMES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
INPUT_IMAGE_TOKENS = 560
MAX_INLINE_BYTES = 7 * 1024 * 1024
LONG_SIDE = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}

# id -> (display name, image sizes, aspect ratios, max reference images, output tokens per image size)
MODELS = {
    "gemini-3-pro-image": ("Nano Banana Pro", ("1K", "2K", "4K"), STANDARD_RATIOS, 14,
                           {"1K": 1120, "2K": 1120, "4K": 2000}),
    "gemini-3.1-flash-image": ("Nano Banana 2", ("512", "1K", "2K", "4K"), WIDE_RATIOS, 14,
                               {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520}),
    "gemini-3.1-flash-lite-image": ("Nano Banana 2 Lite", ("1K",), WIDE_RATIOS, 14, {"1K": 1120}),
    # Launched 2026-10-07 per secondary sources only (§1): served, but not in the studio's catalog.
    "gemini-nano-banana-2.1": ("Nano Banana 2.1", ("1K", "2K", "4K"), WIDE_RATIOS, 14,
                               {"1K": 1120, "2K": 1680, "4K": 2520}),
}
RETIRED_PREFIXES = ("imagen-",)
RETIRED = ("gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview", "gemini-2.5-flash-image")

_TOP_FIELDS = {"contents", "generationConfig", "generation_config", "safetySettings", "safety_settings",
               "systemInstruction", "system_instruction", "tools", "toolConfig", "tool_config", "cachedContent",
               "cached_content"}
_CONFIG_FIELDS = {"responseModalities", "response_modalities", "imageConfig", "image_config", "candidateCount",
                  "candidate_count", "temperature", "topP", "top_p", "topK", "top_k", "seed", "maxOutputTokens",
                  "max_output_tokens", "stopSequences", "stop_sequences", "thinkingConfig", "thinking_config",
                  "responseMimeType", "response_mime_type"}
_IMAGE_CONFIG_FIELDS = {"aspectRatio", "aspect_ratio", "imageSize", "image_size"}
_VERTEX_ONLY = {"personGeneration", "person_generation", "prominentPeople", "outputMimeType", "output_mime_type",
                "outputCompressionQuality", "imageOutputOptions"}


class GoogleError(Exception):
    """An error in Google's shape: ``{"error": {"code", "message", "status", "details"}}``."""

    def __init__(self, code: int, status: str, message: str, details: list | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details or []

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": self.message, "status": self.status,
                                       "details": self.details}}, status_code=self.code)


def _pick(obj: dict, camel: str, snake: str, default=None):
    return obj.get(camel, obj.get(snake, default))


def _unknown(fields: dict, allowed: set, where: str) -> None:
    for name in fields:
        if name in _VERTEX_ONLY:
            raise GoogleError(400, "INVALID_ARGUMENT",
                              f'Invalid JSON payload received. Unknown name "{name}" at \'{where}\': Cannot find field.')
        if name not in allowed:
            place = f" at '{where}'" if where else ""
            raise GoogleError(400, "INVALID_ARGUMENT",
                              f'Invalid JSON payload received. Unknown name "{name}"{place}: Cannot find field.')


def _check_key(request: Request) -> None:
    key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    if not key:
        raise GoogleError(403, "PERMISSION_DENIED",
                          "Method doesn't allow unregistered callers (callers without established identity). "
                          "Please use API Key or other form of API consumer identity to call this API.")
    if "invalid" in key:
        raise _bad_key()


def _bad_key() -> GoogleError:
    message = "API key not valid. Please pass a valid API key."
    return GoogleError(400, "INVALID_ARGUMENT", message, [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
         "metadata": {"service": "generativelanguage.googleapis.com"}},
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message}])


def _not_found(model: str) -> GoogleError:
    return GoogleError(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta, or is not supported "
                                         "for generateContent. Call ListModels to see the list of available models "
                                         "and their supported methods.")


def _model_json(model_id: str) -> dict:
    name, *_ = MODELS[model_id]
    return {"name": f"models/{model_id}", "baseModelId": model_id, "version": "001", "displayName": name,
            "description": f"{name}: Gemini native image generation and editing.", "inputTokenLimit": 65536,
            "outputTokenLimit": 32768, "supportedGenerationMethods": ["generateContent", "countTokens"],
            "temperature": 1.0, "maxTemperature": 2.0, "topP": 0.95, "topK": 64}


def _pixels(ratio: str, size: str) -> tuple[int, int]:
    """Width and height for an aspect ratio at a size: the long side as named, both sides multiples of 16."""
    a, b = (int(v) for v in ratio.split(":"))
    long_side = LONG_SIDE[size]
    if a >= b:
        w, h = long_side, long_side * b / a
    else:
        w, h = long_side * a / b, long_side
    return max(16, int(round(w / 16)) * 16), max(16, int(round(h / 16)) * 16)


def _parts(body: dict) -> tuple[str, list[bytes]]:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise GoogleError(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified")
    texts, images = [], []
    for content in contents:
        if not isinstance(content, dict) or not isinstance(content.get("parts"), list) or not content["parts"]:
            raise GoogleError(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents.parts: contents.parts must "
                                                       "not be empty.")
        if content.get("role", "user") not in ("user", "model"):
            raise GoogleError(400, "INVALID_ARGUMENT", f"Please use a valid role: user, model.")
        for part in content["parts"]:
            if not isinstance(part, dict):
                raise GoogleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. A part must be an object.")
            inline = _pick(part, "inlineData", "inline_data")
            if isinstance(part.get("text"), str):
                if content.get("role", "user") == "user":
                    texts.append(part["text"])
            elif isinstance(inline, dict):
                mime = _pick(inline, "mimeType", "mime_type", "")
                if mime not in INPUT_MIMES:
                    raise GoogleError(400, "INVALID_ARGUMENT", f"Unsupported MIME type: {mime}")
                try:  # proto3 JSON bytes: standard or URL-safe base64, padded or not
                    text = str(inline.get("data") or "").replace("-", "+").replace("_", "/")
                    data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
                except (binascii.Error, ValueError):
                    raise GoogleError(400, "INVALID_ARGUMENT", "Invalid value at 'contents.parts.inline_data.data' "
                                                               "(TYPE_BYTES), Base64 decoding failed.") from None
                if len(data) > MAX_INLINE_BYTES:
                    raise GoogleError(400, "INVALID_ARGUMENT", "Request payload size exceeds the limit: an inline "
                                                               "image must be under 7 MB.")
                images.append(data)
            elif "thoughtSignature" in part or "thought_signature" in part or "fileData" in part:
                continue
            else:
                raise GoogleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. A part needs text or "
                                                           "inlineData.")
    return "\n".join(texts), images


def _input_pictures(images: list[bytes]) -> list[np.ndarray]:
    pictures = []
    for data in images:
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.draft("RGB", (512, 512))
                pictures.append(np.asarray(img.convert("RGB")))
        except (UnidentifiedImageError, OSError):
            raise GoogleError(400, "INVALID_ARGUMENT", "Unable to process input image. Please retry or report in "
                                                       "https://developers.generativeai.google/guide/troubleshooting")
    return pictures


def _usage(prompt: str, n_inputs: int, image_tokens: int, text_out: int) -> dict:
    text_in = max(1, math.ceil(len(prompt) / 4))
    prompt_tokens = text_in + INPUT_IMAGE_TOKENS * n_inputs
    thoughts = 120
    details = [{"modality": "TEXT", "tokenCount": text_in}]
    if n_inputs:
        details.append({"modality": "IMAGE", "tokenCount": INPUT_IMAGE_TOKENS * n_inputs})
    out = [{"modality": "TEXT", "tokenCount": text_out}] + ([{"modality": "IMAGE", "tokenCount": image_tokens}]
                                                            if image_tokens else [])
    candidates = text_out + image_tokens
    return {"promptTokenCount": prompt_tokens, "candidatesTokenCount": candidates, "thoughtsTokenCount": thoughts,
            "totalTokenCount": prompt_tokens + candidates + thoughts, "promptTokensDetails": details,
            "candidatesTokensDetails": out}


def _generate(state, model: str, body: dict, clean_prompt: str | None, fault: str | None) -> dict:
    name, sizes, ratios, max_refs, tokens = MODELS[model]
    _unknown(body, _TOP_FIELDS, "")
    config = _pick(body, "generationConfig", "generation_config", {}) or {}
    if not isinstance(config, dict):
        raise GoogleError(400, "INVALID_ARGUMENT", "Invalid value at 'generation_config': expected an object.")
    _unknown(config, _CONFIG_FIELDS, "generation_config")
    image_config = _pick(config, "imageConfig", "image_config", {}) or {}
    _unknown(image_config, _IMAGE_CONFIG_FIELDS, "generation_config.image_config")
    modalities = [str(m).upper() for m in (_pick(config, "responseModalities", "response_modalities", []) or [])]
    for m in modalities:
        if m not in ("TEXT", "IMAGE", "AUDIO", "VIDEO"):
            raise GoogleError(400, "INVALID_ARGUMENT", f"Invalid value at 'generation_config.response_modalities[0]' "
                                                       f"(type.googleapis.com/google.ai.generativelanguage.v1beta."
                                                       f"GenerationConfig.Modality), \"{m}\"")
    if modalities and set(modalities) - {"TEXT", "IMAGE"}:
        raise GoogleError(400, "INVALID_ARGUMENT", "The requested combination of response modalities is not "
                                                   "supported by the model.")
    ratio = _pick(image_config, "aspectRatio", "aspect_ratio")
    size = _pick(image_config, "imageSize", "image_size") or "1K"
    if ratio is not None and ratio not in ratios:
        raise GoogleError(400, "INVALID_ARGUMENT", f"Unsupported aspect ratio {ratio!r} for {model}. "
                                                   f"Supported values: {', '.join(ratios)}.")
    if size not in sizes:
        raise GoogleError(400, "INVALID_ARGUMENT", f"Unsupported image size {size!r} for {model}. "
                                                   f"Supported values: {', '.join(sizes)}.")
    count = _pick(config, "candidateCount", "candidate_count", 1)
    if count not in (1, None):
        raise GoogleError(400, "INVALID_ARGUMENT", "Only one candidate can be specified for this model.")
    prompt, images = _parts(body)
    if len(images) > max_refs:
        raise GoogleError(400, "INVALID_ARGUMENT", f"{model} takes at most {max_refs} input images; "
                                                   f"{len(images)} were sent.")
    prompt_clean = clean_prompt if clean_prompt is not None else prompt
    pictures = _input_pictures(images)
    response_id = hashlib.sha1(f"{time.time_ns()}{prompt}".encode()).hexdigest()[:20]
    if fault == "prompt_blocked":
        return {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata":
                _usage(prompt_clean, len(images), 0, 0), "modelVersion": model, "responseId": response_id}
    if fault in ("image_safety", "no_image"):
        reason = "IMAGE_SAFETY" if fault == "image_safety" else "NO_IMAGE"
        candidate = {"content": {"role": "model", "parts": []}, "finishReason": reason, "index": 0}
        if reason == "IMAGE_SAFETY":
            candidate["finishMessage"] = "Unable to show the generated image: it may violate Google's policies."
        return {"candidates": [candidate], "usageMetadata": _usage(prompt_clean, len(images), 0, 0),
                "modelVersion": model, "responseId": response_id}
    text = "Here is the picture." if not pictures else "Here is the edited picture."
    parts = [{"text": text}]
    image_tokens = 0
    if "IMAGE" in modalities:
        if ratio is None and pictures:  # the model follows the first reference's shape
            h0, w0 = pictures[0].shape[:2]
            ratio = min(ratios, key=lambda r: abs(math.log((int(r.split(':')[0]) / int(r.split(':')[1])) / (w0 / h0))))
        width, height = _pixels(ratio or "1:1", size)
        if pictures:
            arr = openai_render.edit([openai_render.fit(Image.fromarray(p), width, height) for p in pictures], None,
                                     prompt_clean)
        else:
            arr = openai_render.scene(prompt_clean, width, height)
        parts.append({"inlineData": {"mimeType": "image/png", "data": base64.b64encode(
            openai_render.encode(arr, "png")).decode("ascii")}, "thoughtSignature": base64.b64encode(
            response_id.encode()).decode("ascii")})
        image_tokens = tokens[size]
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": _usage(prompt_clean, len(images), image_tokens, 10), "modelVersion": model,
            "responseId": response_id}


def _fault_reply(fault: str | None) -> Response | None:
    if fault == "429":
        return GoogleError(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and "
                           "billing details. For more information on this error, head to: "
                           "https://ai.google.dev/gemini-api/docs/rate-limits.", [
                               {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                                   {"quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model",
                                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel", "quotaValue": "10"}]},
                               {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}]).response()
    if fault == "402":
        return GoogleError(402, "RESOURCE_EXHAUSTED", "Your prepayment credits are depleted. Please go to AI Studio "
                           "at https://ai.studio/projects to manage your project and billing. Learn more at "
                           "https://ai.google.dev/gemini-api/docs/billing#prepay.").response()
    if fault == "500":
        return GoogleError(500, "INTERNAL", "An internal error has occurred. Please retry or report in "
                           "https://developers.generativeai.google/guide/troubleshooting").response()
    if fault == "503":
        return GoogleError(503, "UNAVAILABLE", "The model is overloaded. Please try again later.").response()
    if fault == "401":
        return _bad_key().response()
    if fault == "malformed":
        return Response('{"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "da',
                        media_type="application/json")
    if fault == "html502":
        return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", status_code=502, media_type="text/html")
    return None


def _loggable(body):
    """The body for the call log, with inline image data shortened."""
    if not isinstance(body, dict):
        return body
    out = json.loads(json.dumps(body))
    for content in out.get("contents") or []:
        for part in (content.get("parts") if isinstance(content, dict) else None) or []:
            inline = part.get("inlineData") or part.get("inline_data") if isinstance(part, dict) else None
            if isinstance(inline, dict) and isinstance(inline.get("data"), str):
                inline["data"] = f"<base64 {len(inline['data'])} chars>"
    return out


def _prompt_text(body) -> str | None:
    try:
        return "\n".join(p["text"] for c in body["contents"] for p in c["parts"] if isinstance(p.get("text"), str))
    except (KeyError, TypeError, AttributeError):
        return None


def routes(state) -> list[Route]:
    async def list_models(request: Request) -> Response:
        try:
            _check_key(request)
        except GoogleError as err:
            return err.response()
        size = int(request.query_params.get("pageSize") or 50)
        start = int(request.query_params.get("pageToken") or 0)
        ids = list(MODELS)
        page = ids[start:start + max(1, min(size, 1000))]
        reply = {"models": [_model_json(m) for m in page]}
        if start + len(page) < len(ids):
            reply["nextPageToken"] = str(start + len(page))
        return JSONResponse(reply)

    async def model_route(request: Request) -> Response:
        rest = request.path_params["rest"]
        model, _, method = rest.partition(":")
        raw = await request.body() if request.method == "POST" else b""
        body = None
        if request.method == "POST":
            try:
                body = json.loads(raw) if raw else {}
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = None
        state.log_call(request, _loggable(body) if body is not None else raw[:200].decode("utf-8", "replace"))
        deadline = None
        try:
            _check_key(request)
            if request.method == "GET":
                if method or model not in MODELS:
                    raise _not_found(model)
                return JSONResponse(_model_json(model))
            if method not in ("generateContent", "streamGenerateContent"):
                raise GoogleError(404, "NOT_FOUND", f"Method {method or '(none)'} is not found.")
            if not isinstance(body, dict):
                raise GoogleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.")
            directives = read_directives(request.headers, _prompt_text(body))
            deadline = state.deadline(directives.latency_ms)
            if directives.fault == "model_not_found" or model not in MODELS or model in RETIRED or \
                    model.startswith(RETIRED_PREFIXES):
                raise _not_found(model)
            if directives.fault:
                await state.wait_until(deadline)
            if directives.fault == "hang":
                await asyncio.sleep(state.hang_seconds)
                raise GoogleError(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.")
            faulty = _fault_reply(directives.fault)
            if faulty is not None:
                return faulty
            clean = directives.clean_prompt
            reply = await asyncio.to_thread(_generate, state, model, body, clean, directives.fault)
            await state.wait_until(deadline)
            if method == "streamGenerateContent":  # one event with the whole answer (images are sent whole)
                return Response(f"data: {json.dumps(reply)}\r\n\r\n", media_type="text/event-stream")
            return JSONResponse(reply)
        except GoogleError as err:
            if deadline is not None:
                await state.wait_until(deadline)
            return err.response()

    return [
        Route("/v1beta/models", list_models, methods=["GET"]),
        Route("/v1beta/models/{rest:path}", model_route, methods=["GET", "POST"]),
    ]
