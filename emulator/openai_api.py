"""OpenAI's wire protocol as Starlette routes: models, images (generations, edits, variations), and the
chat route from ``emulator.openai_chat``, on two faces (``/v1`` and ``/compat/v1``, see
``emulator.openai_models``).

Requests are validated the way the real API does (status, ``type``, ``param``,
``code``; see ``emulator.openai_schema``), answers follow the published OpenAPI
schemas, and faults make any route fail the way OpenAI fails
(``emulator.openai_wire``).  Every response carries an ``x-request-id``.

DALL·E ``url`` results are served from ``/_emulator/files/<token>.<ext>`` for
60 minutes (tokens start with ``oai-`` in ``state.served_files``).
"""
from __future__ import annotations

import asyncio
import base64
import io
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator

import numpy as np
from PIL import Image, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from emulator import openai_render as render
from emulator.openai_chat import chat_completions
from emulator.openai_models import (COMPAT, EXTRA_QUALITY, IMAGE_MODELS, OFFICIAL, OUTPUT_TOKENS, ImageModel,
                                    is_served, served_models)
from emulator.openai_schema import check
from emulator.openai_wire import (ApiError, BrokenStream, Call, bool_param, enum_values, int_param, invalid,
                                  invalid_url, model_not_found, sse, wrap)

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
        raise model_not_found(model_id, call)
    return JSONResponse(_model_object(model_id))


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
        raise invalid("size", f"Invalid value: '{size}'. Size not supported: {problem}.")


def _image_job(call: Call, *, edit: bool) -> ImageJob:
    body, prompt = call.body, call.prompt
    model = body.get("model") or None
    if model is None:
        if call.face == OFFICIAL:
            # The 2026-08 spec's defaults (dall-e-2; gpt-image-1.5 for edits) are shut down; SDK 3.51 says
            # "Specify a model explicitly".  Assumed: today's API asks for one rather than guessing.
            raise invalid("model", "Missing required parameter: 'model'.", "missing_required_parameter")
        # A compatible server follows the legacy spec: dall-e-2 unless a GPT-image-only parameter is used.
        model = "gpt-image-1.5" if edit or any(body.get(p) is not None for p in GPT_ONLY_PARAMS) else "dall-e-2"
    if model not in IMAGE_MODELS or not is_served(model, call.face, call.today):
        raise model_not_found(model, call)
    kind = IMAGE_MODELS[model]
    if edit and not kind.edits:
        raise invalid("model", f"Invalid value: '{model}'. Image edits are not supported for this model.")
    gpt = kind.family.startswith("gpt")

    raw_prompt = body.get("prompt")
    if raw_prompt is None or (isinstance(raw_prompt, str) and not raw_prompt.strip()):
        raise invalid("prompt", "Missing required parameter: 'prompt'.", "missing_required_parameter")
    if not isinstance(raw_prompt, str):
        raise invalid("prompt", "Invalid type for 'prompt': expected a string.", "invalid_type")
    limit = GPT_PROMPT_LIMIT if gpt else PROMPT_LIMITS[kind.family]
    if len(raw_prompt) > limit:
        raise invalid("prompt", f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, "
                                 f"but got a string with length {len(raw_prompt)} instead.", "string_above_max_length")

    n_max = 1 if kind.family == "dall-e-3" else 10
    n = int_param(body, "n", 1, 10)
    n = 1 if n is None else n
    if n > n_max:
        raise invalid("n", f"Invalid 'n': integer above maximum value. Expected a value <= 1, but got {n} instead. "
                            f"{model} only supports n=1.", "integer_above_max_value")

    if gpt:
        for name in ("response_format", "style"):
            if body.get(name) is not None:
                raise invalid(name, f"Unknown parameter: '{name}'.", "unknown_parameter")
    else:
        for name in GPT_ONLY_PARAMS:
            if body.get(name) is not None and not (name == "stream" and body[name] in (False, "false")):
                raise invalid(name, f"Unknown parameter: '{name}'.", "unknown_parameter")

    size = body.get("size") or "auto"
    if kind.family == "gpt-fixed":
        if size != "auto" and size not in FIXED_SIZES:
            raise invalid("size", f"Invalid value: '{size}'. Supported values are: "
                                   f"{enum_values(FIXED_SIZES + ('auto',))}.")
    elif kind.family == "gpt-free":
        if size != "auto":
            _check_free_size(size)
    else:
        allowed = DALLE_SIZES[kind.family]
        if size == "auto":
            size = "1024x1024"
        if size not in allowed:
            raise invalid("size", f"Invalid value: '{size}'. Supported values are: {enum_values(allowed)}.")
    if size == "auto":
        size = "1024x1024"
    width, height = _parse_size(size)

    quality = body.get("quality") or "auto"
    if quality not in kind.qualities:
        raise invalid("quality", f"Invalid value: '{quality}'. Supported values are: {enum_values(kind.qualities)}.")
    if quality == "auto":
        quality = "medium" if gpt else "standard"

    background = body.get("background") or "auto"
    if background not in ("transparent", "opaque", "auto"):
        raise invalid("background", f"Invalid value: '{background}'. Supported values are: 'transparent', "
                                     "'opaque', and 'auto'.")
    output_format = body.get("output_format") or "png"
    if output_format not in ("png", "jpeg", "webp"):
        raise invalid("output_format", f"Invalid value: '{output_format}'. Supported values are: 'png', 'jpeg', "
                                        "and 'webp'.")
    if background == "transparent" and output_format == "jpeg":
        raise invalid("background", "Transparent background is not supported for jpeg output format. Use png or "
                                     "webp.", "unsupported_value")
    compression = int_param(body, "output_compression", 0, 100)
    if compression is not None and compression < 100 and output_format == "png":
        raise invalid("output_compression", "Compression less than 100 is not supported for PNG output format.",
                       "unsupported_value")
    moderation = body.get("moderation")
    if moderation is not None and moderation not in ("low", "auto"):
        raise invalid("moderation", f"Invalid value: '{moderation}'. Supported values are: 'low' and 'auto'.")
    fidelity = body.get("input_fidelity")
    if fidelity is not None and fidelity not in ("low", "high"):
        raise invalid("input_fidelity", f"Invalid value: '{fidelity}'. Supported values are: 'low' and 'high'.")
    if fidelity == "high" and model == "gpt-image-1-mini":
        raise invalid("input_fidelity", "input_fidelity 'high' is not supported for gpt-image-1-mini.",
                       "unsupported_value")

    response_format = body.get("response_format") or ("b64_json" if gpt else "url")
    if response_format not in ("url", "b64_json"):
        raise invalid("response_format", f"Invalid value: '{response_format}'. Supported values are: 'url' and "
                                          "'b64_json'.")
    style = body.get("style")
    if style is not None and (kind.family != "dall-e-3" or style not in ("vivid", "natural")):
        raise invalid("style", f"Invalid value: '{style}'. Supported values are: 'vivid' and 'natural'.")
    stream = bool_param(body, "stream")
    partial_images = int_param(body, "partial_images", 0, 3)
    if partial_images is not None and not stream:
        raise invalid("partial_images", "partial_images is only supported when stream is true.", "invalid_value")
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
        return sse({"type": f"{prefix}.{kind}", "b64_json": base64.b64encode(raw).decode("ascii"),
                     "created_at": int(time.time()), "size": job.size, "quality": job.quality,
                     "background": job.background, "output_format": job.output_format, **extra},
                    event=f"{prefix}.{kind}")

    if broken:
        first = await asyncio.to_thread(lambda: event(
            "partial_image", render.partial(pictures[0], 0, max(job.partial_images, 1)), partial_image_index=0))
        return BrokenStream([first])

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
        return invalid(param, f"Invalid file '{param}': unsupported mimetype ('{mime}'). Supported file formats are "
                               f"{enum_values(allowed)}.", "unsupported_file_mimetype")

    if content_type is not None and content_type.replace("image/jpg", "image/jpeg") not in allowed:
        raise unsupported(content_type)
    if len(data) > limit:
        raise invalid(param, f"Invalid input image - file too large ({len(data)} bytes); the limit is "
                              f"{limit // (1024 * 1024)} MB.", "image_too_large")
    try:
        pic = Image.open(io.BytesIO(data))
        pic.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise invalid(param, f"Invalid image file or mode for image '{param}', please check your image file.",
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
        raise invalid(f"{param}.file_id", f"No such File object: {ref.get('file_id')}", "invalid_value")
    m = re.fullmatch(r"data:([\w/+.-]+);base64,(.*)", url, re.DOTALL)
    if m:
        try:
            return param, base64.b64decode(m.group(2), validate=True), m.group(1).lower()
        except ValueError:
            raise invalid(f"{param}.image_url", "Invalid base64 image_url.", "invalid_image_url") from None
    token = url.split("/_emulator/files/", 1)[-1].split(".", 1)[0] if url.startswith(state.public_base_url) else ""
    with state.lock:
        entry = state.served_files.get(token)
    if entry is None:  # the emulator fetches nothing from the internet; the API would, and fail like this
        raise invalid(f"{param}.image_url", f"Error while downloading {url}.", "invalid_image_url")
    return param, entry[0], entry[1]


def _edit_inputs(state, call: Call) -> tuple[list[tuple[str, bytes, str]], tuple[bytes, str] | None]:
    """The input pictures and the mask of an edit, from multipart parts or a JSON body's references."""
    if call.files or call.request.headers.get("content-type", "").startswith(("multipart/", "application/x-www")):
        for name in ("image", "image[]", "mask"):
            if name in call.body:
                raise invalid(name, f"Invalid type for '{name}': expected one of an array of files or file, but "
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
        raise invalid("image", "Missing required parameter: 'image'.", "missing_required_parameter")
    dalle = job.kind.family == "dall-e-2"
    if dalle and len(uploads) > 1:
        raise invalid("image", "dall-e-2 edits take exactly one image.", "invalid_value")
    if len(uploads) > 16:
        raise invalid("image", f"Invalid 'image': array too long. Expected at most 16 images, got {len(uploads)}.",
                       "array_above_max_length")
    limit = DALLE2_UPLOAD_BYTES if dalle else MAX_UPLOAD_BYTES
    if dalle and json_body:
        raise invalid("model", "JSON edit bodies are only supported for GPT image models; send multipart/form-data "
                                "for dall-e-2.")
    pics = [_open_upload(param, data, mime, limit=limit, png_only=dalle) for param, data, mime in uploads]
    if dalle and pics[0].width != pics[0].height:
        raise invalid("image", "Invalid input image - image must be square.", "invalid_image")

    mask_alpha = None
    if mask_part:
        mask = _open_upload("mask", mask_part[0], None, limit=DALLE2_UPLOAD_BYTES, png_only=True)
        if mask.size != pics[0].size:
            raise invalid("mask", f"Invalid mask image - mask size {mask.width}x{mask.height} does not match image "
                                   f"size {pics[0].width}x{pics[0].height}. The mask must have the same dimensions as "
                                   "the first image.", "invalid_mask")
        if "A" not in mask.getbands() and "transparency" not in mask.info:
            raise invalid("mask", "Invalid mask image - mask must have an alpha channel (format RGBA, LA or a PNG "
                                   "with transparency). Transparent areas mark where to edit.", "invalid_mask")
        mask_alpha = np.asarray(mask.convert("RGBA"))[..., 3]
    elif dalle:  # dall-e-2 without a mask: the image's own transparent pixels mark the area to edit
        alpha = np.asarray(pics[0].convert("RGBA"))[..., 3]
        if not (alpha == 0).any():
            raise invalid("image", "Invalid input image - without a mask, the image must have transparent areas "
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
        raise model_not_found(model, call)
    if model != "dall-e-2":
        raise invalid("model", f"Invalid value: '{model}'. Image variations are only supported for dall-e-2; use "
                                "the image edits endpoint with a prompt instead.")
    n = int_param(body, "n", 1, 10) or 1
    size = body.get("size") or "1024x1024"
    if size not in DALLE_SIZES["dall-e-2"]:
        raise invalid("size", f"Invalid value: '{size}'. Supported values are: "
                               f"{enum_values(DALLE_SIZES['dall-e-2'])}.")
    response_format = body.get("response_format") or "url"
    if response_format not in ("url", "b64_json"):
        raise invalid("response_format", f"Invalid value: '{response_format}'. Supported values are: 'url' and "
                                          "'b64_json'.")
    uploads = call.files.get("image", [])
    if not uploads:
        raise invalid("image", "Missing required parameter: 'image'.", "missing_required_parameter")
    _, data, mime = uploads[0]
    pic = _open_upload("image", data, mime, limit=DALLE2_UPLOAD_BYTES, png_only=True)
    if pic.width != pic.height:
        raise invalid("image", "Invalid input image - image must be square.", "invalid_image")
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
    response = invalid_url(request).response()
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
            out.append(Route(prefix + path, wrap(state, handler, face, path, **options), methods=methods))
        # Anything else under the prefix: the API's JSON 404, not Starlette's plain text.
        out.append(Route(prefix + "/{rest:path}", _not_served, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    out.append(Route("/_emulator/files/{name}", served_file, methods=["GET"]))
    return out
