"""Karlo v2 wire protocol: t2i, variations, inpainting, upscale and nsfw_checker, with Kakao's errors.

Everything follows ../shared/reference/karlo-api.md: ``Authorization: KakaoAK <key>``,
JSON bodies, ``{"code": <negative int>, "msg": str}`` errors with their HTTP
status, ``return_type`` ``url`` (the default; served here and expiring after
``state.karlo_url_ttl_s``) or ``base64_string``.  Where the reference is unsure
the choices are written down here:

* A body without ``version`` is treated as ``v2.0`` (what clients that predate
  v2.1, such as PyKakao 0.0.7, were written against).  v2.0 sizes are 384–640,
  v2.1 sizes 256–1280, always multiples of 8.
* Upscaled output is at most 2048 px per side (t2i/variations ``upscale`` and
  the upscale endpoint alike); larger asks are a -2 naming ``scale``.
* Inpainting mask: **black (0) marks the area to repaint**, anything else is
  kept, as in Karlo v1.  The result has the input image's size and pixels
  outside the black area are returned unchanged (use ``image_format=png`` to
  see that bit for bit; webp and jpeg are lossy everywhere).
* Unknown body fields are ignored, as JSON APIs usually do.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import secrets
import time
import unicodedata
import uuid
from typing import Any

import numpy as np
from PIL import Image
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from emulator import karlo_render
from emulator.faults import read_directives

SIZE_RANGES = {"v2.0": (384, 640), "v2.1": (256, 1280)}
DEFAULT_VERSION = "v2.0"
MODEL_VERSIONS = {"v2.0": "v2.0.4.0.prod", "v2.1": "v2.1.0.0.prod"}
SCHEDULERS = ("decoder_ddim_v_prediction", "decoder_ddpm_v_prediction")
MAX_TEXT = 256
MAX_SEED = 4294967295
MAX_INPUT_BYTES = 2 * 1024 * 1024
MAX_UPSCALE_INPUT_SIDE = 1024
MAX_UPSCALED_SIDE = 2048
MAX_IMAGES = 8

_HTML_502 = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""


class KakaoError(Exception):
    """One Kakao error reply: HTTP status and ``{"code", "msg"}``."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None):
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse({"code": self.code, "msg": self.msg}, status_code=self.status, headers=self.headers)


def _bad(param: str, why: str) -> KakaoError:
    """-2, naming the field first so a client (and a person) can see which one."""
    return KakaoError(400, -2, f"invalid parameter '{param}': {why}")


# ---------------------------------------------------------------------------- validation

def _int(body: dict, name: str, default: int, lo: int, hi: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, f"must be an integer between {lo} and {hi} (got {value!r})")
    if not lo <= value <= hi:
        raise _bad(name, f"must be between {lo} and {hi} (got {value})")
    return value


def _float(body: dict, name: str, default: float, lo: float, hi: float) -> float:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(name, f"must be a number between {lo} and {hi} (got {value!r})")
    if not lo <= value <= hi:
        raise _bad(name, f"must be between {lo} and {hi} (got {value})")
    return float(value)


def _bool(body: dict, name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(name, f"must be true or false (got {value!r})")
    return value


def _choice(body: dict, name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if value not in allowed:
        raise _bad(name, f"must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _english_text(name: str, text: Any, required: bool) -> str | None:
    if text is None or (isinstance(text, str) and not text.strip()):
        if required:
            raise _bad(name, "is required" if text is None else "must not be empty")
        return None
    if not isinstance(text, str):
        raise _bad(name, f"must be a string (got {type(text).__name__})")
    if len(text) > MAX_TEXT:
        raise _bad(name, f"must be at most {MAX_TEXT} characters (got {len(text)})")
    for ch in text:
        if ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN"):
            script = unicodedata.name(ch, "NON-LATIN").split()[0].title()
            raise _bad(name, f"must be English; Karlo does not read {script} text")
    return text


def _version(body: dict) -> str:
    return _choice(body, "version", DEFAULT_VERSION, tuple(SIZE_RANGES))


def _side(body: dict, name: str, version: str) -> int:
    lo, hi = SIZE_RANGES[version]
    value = body.get(name, 512)
    if value is None:
        value = 512
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, f"must be an integer (got {value!r})")
    if value % 8 or not lo <= value <= hi:
        raise _bad(name, f"must be a multiple of 8 between {lo} and {hi} for {version} (got {value})")
    return value


def _seeds(body: dict, samples: int) -> list[int]:
    seeds = body.get("seed")
    if seeds is None:
        return [secrets.randbelow(MAX_SEED + 1) for _ in range(samples)]
    if not isinstance(seeds, list):
        raise _bad("seed", f"must be a list of {samples} integers, one per sample")
    if len(seeds) != samples:
        raise _bad("seed", f"must have one seed per sample: {samples} expected, got {len(seeds)}")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
            raise _bad("seed", f"each seed must be an integer between 0 and {MAX_SEED} (got {s!r})")
    return seeds


def _image(value: Any, name: str) -> Image.Image:
    """Decode one base64 input image (≤ 2 MB, webp/png/jpeg)."""
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, "must be a base64-encoded image")
    try:
        raw = base64.b64decode(value)
    except (binascii.Error, ValueError):
        raise _bad(name, "is not valid base64") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise _bad(name, f"must be at most 2 MB (got {len(raw) / 1e6:.1f} MB)")
    try:
        img = Image.open(io.BytesIO(raw))
        img.load()
    except Exception:
        raise _bad(name, "is not an image Karlo can read (use png, jpeg or webp)") from None
    return img


def _output_options(body: dict) -> dict[str, Any]:
    return {
        "image_format": _choice(body, "image_format", "webp", tuple(karlo_render.FORMATS)),
        "image_quality": _int(body, "image_quality", 70, 1, 100),
        "return_type": _choice(body, "return_type", "url", ("url", "base64_string")),
    }


def _generation_options(body: dict, *, with_prior: bool, with_size: bool) -> dict[str, Any]:
    """The fields t2i, variations and inpainting share, validated in the order a person reads them."""
    version = _version(body)
    opts: dict[str, Any] = {"version": version}
    if with_size:
        opts["width"] = _side(body, "width", version)
        opts["height"] = _side(body, "height", version)
    opts["samples"] = _int(body, "samples", 1, 1, MAX_IMAGES)
    if with_prior:
        opts["prior_num_inference_steps"] = _int(body, "prior_num_inference_steps", 25, 10, 100)
        opts["prior_guidance_scale"] = _float(body, "prior_guidance_scale", 5.0, 1.0, 20.0)
    opts["num_inference_steps"] = _int(body, "num_inference_steps", 50, 10, 100)
    opts["guidance_scale"] = _float(body, "guidance_scale", 5.0, 1.0, 20.0)
    opts["scheduler"] = _choice(body, "scheduler", SCHEDULERS[0], SCHEDULERS)
    opts["upscale"] = _bool(body, "upscale", False)
    opts["scale"] = _int_choice(body, "scale", 2, (2, 4))
    opts["nsfw_checker"] = _bool(body, "nsfw_checker", False)
    opts.update(_output_options(body))
    opts["seeds"] = _seeds(body, opts["samples"])
    return opts


def _int_choice(body: dict, name: str, default: int, allowed: tuple[int, ...]) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or value not in allowed:
        raise _bad(name, f"must be one of {', '.join(map(str, allowed))} (got {value!r})")
    return int(value)


def _check_upscaled(width: int, height: int, scale: int) -> None:
    if max(width, height) * scale > MAX_UPSCALED_SIDE:
        raise _bad("scale", f"{width}x{height} × {scale} would be larger than {MAX_UPSCALED_SIDE} px per side")


# ---------------------------------------------------------------------------- replies

class _Reply:
    """Turns rendered pictures into Karlo's image entries (URL or base64)."""

    def __init__(self, state, opts: dict[str, Any]):
        self.state, self.opts = state, opts

    def encode(self, img: Image.Image) -> str:
        data, mime = karlo_render.encode(img, self.opts["image_format"], self.opts["image_quality"])
        if self.opts["return_type"] == "base64_string":
            return base64.b64encode(data).decode("ascii")
        return _serve(self.state, data, mime, self.opts["image_format"])

    def entry(self, img: Image.Image, seed: int) -> dict[str, Any]:
        if self.opts.get("upscale"):
            img = karlo_render.upscale(img, self.opts["scale"])
        checked = self.opts.get("nsfw_checker")
        score = karlo_render.nsfw_score(img) if checked else None
        return {
            "id": base64.b64encode(b"karlo-" + secrets.token_bytes(9)).decode() + "-" + str(uuid.uuid4()),
            "seed": seed,
            "image": self.encode(img),
            "nsfw_content_detected": (score >= 0.5) if checked else None,
            "nsfw_score": score,
        }


def _serve(state, data: bytes, mime: str, ext: str) -> str:
    """Keep the bytes for ``karlo_url_ttl_s`` and return a CDN-like signed URL for them."""
    now = time.time()
    token = secrets.token_hex(16)
    expires = now + state.karlo_url_ttl_s
    with state.lock:
        for old in [t for t, (_, _, exp) in state.served_files.items() if exp < now - 60]:
            del state.served_files[old]  # long-expired files are dropped so memory stays flat
        state.served_files[token] = (data, mime, expires)
    return f"{state.public_base_url}/_emulator/karlo/{token}.{ext}?expires={int(expires)}&signature={token[:12]}"


def _generation_reply(opts: dict[str, Any], images: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": secrets.token_hex(8), "model_version": MODEL_VERSIONS[opts["version"]], "images": images}


# ---------------------------------------------------------------------------- endpoints

def _t2i(state, body: dict, prompt: str) -> dict:
    prompt = _english_text("prompt", prompt, required=True)
    negative = _english_text("negative_prompt", body.get("negative_prompt"), required=False)
    opts = _generation_options(body, with_prior=True, with_size=True)
    if opts["upscale"]:
        _check_upscaled(opts["width"], opts["height"], opts["scale"])
    reply = _Reply(state, opts)
    images = [
        reply.entry(karlo_render.mosaic(prompt, seed, opts["width"], opts["height"], negative_prompt=negative,
                                        steps=opts["num_inference_steps"], guidance=opts["guidance_scale"],
                                        scheduler=opts["scheduler"]), seed)
        for seed in opts["seeds"]
    ]
    return _generation_reply(opts, images)


def _variations(state, body: dict, prompt: str | None) -> dict:
    source = _image(body.get("image"), "image")
    prompt = _english_text("prompt", prompt, required=False)
    _english_text("negative_prompt", body.get("negative_prompt"), required=False)
    opts = _generation_options(body, with_prior=False, with_size=True)
    if opts["upscale"]:
        _check_upscaled(opts["width"], opts["height"], opts["scale"])
    reply = _Reply(state, opts)
    images = [
        reply.entry(karlo_render.variation(source, seed, opts["width"], opts["height"], prompt=prompt,
                                           steps=opts["num_inference_steps"], guidance=opts["guidance_scale"]), seed)
        for seed in opts["seeds"]
    ]
    return _generation_reply(opts, images)


def _inpainting(state, body: dict, prompt: str) -> dict:
    source = _image(body.get("image"), "image")
    mask = _image(body.get("mask"), "mask")
    if mask.size != source.size:
        raise _bad("mask", f"must be the same size as the image ({source.width}x{source.height}), got {mask.width}x{mask.height}")
    prompt = _english_text("prompt", prompt, required=True)
    negative = _english_text("negative_prompt", body.get("negative_prompt"), required=False)
    opts = _generation_options(body, with_prior=True, with_size=False)
    if opts["upscale"]:
        _check_upscaled(source.width, source.height, opts["scale"])
    edit_area = np.asarray(mask.convert("L")) == 0  # black marks what to repaint
    reply = _Reply(state, opts)
    images = [
        reply.entry(karlo_render.inpaint(source, edit_area, prompt, seed, negative_prompt=negative,
                                         steps=opts["num_inference_steps"], guidance=opts["guidance_scale"]), seed)
        for seed in opts["seeds"]
    ]
    return _generation_reply(opts, images)


def _image_list(body: dict) -> list[Image.Image]:
    images = body.get("images")
    if not isinstance(images, list) or not images:
        raise _bad("images", "must be a non-empty list of base64-encoded images")
    if len(images) > MAX_IMAGES:
        raise _bad("images", f"must hold at most {MAX_IMAGES} images (got {len(images)})")
    return [_image(v, "images") for v in images]


def _upscale(state, body: dict, prompt: None) -> dict:
    sources = _image_list(body)
    scale = _int_choice(body, "scale", 2, (2, 4))
    for img in sources:
        if max(img.size) > MAX_UPSCALE_INPUT_SIDE:
            raise _bad("images", f"each image must be at most {MAX_UPSCALE_INPUT_SIDE} px per side (got {img.width}x{img.height})")
        _check_upscaled(img.width, img.height, scale)
    reply = _Reply(state, _output_options(body))
    return {"images": [reply.encode(karlo_render.upscale(img, scale)) for img in sources]}


def _nsfw_checker(state, body: dict, prompt: None) -> dict:
    results = []
    for img in _image_list(body):
        score = karlo_render.nsfw_score(img)
        results.append({"nsfw_content_detected": score >= 0.5, "nsfw_score": score})
    return {"results": results}


_ENDPOINTS = {"t2i": _t2i, "variations": _variations, "inpainting": _inpainting,
              "upscale": _upscale, "nsfw_checker": _nsfw_checker}
_HAS_PROMPT = {"t2i", "variations", "inpainting"}


# ---------------------------------------------------------------------------- faults and auth

def _check_auth(request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if not header:
        raise KakaoError(401, -401, "no authorization header in request. Send 'Authorization: KakaoAK {REST_API_KEY}'.")
    if scheme != "KakaoAK" or not key.strip():
        raise KakaoError(401, -401, "wrong authorization scheme. Send 'Authorization: KakaoAK {REST_API_KEY}'.")
    if "invalid" in key:
        raise KakaoError(401, -401, "invalid appkey. Check the app's REST API key.")


def _fault_reply(fault: str | None) -> Response | None:
    if fault in ("-401", "401"):
        return KakaoError(401, -401, "invalid appkey. Check the app's REST API key.").response()
    if fault == "-9":
        return KakaoError(400, -9, "This API has been terminated.").response()
    if fault == "-10":
        return KakaoError(400, -10, "API limit has been exceeded.").response()
    if fault == "-2":
        return _bad("prompt", "rejected by the fault injector").response()
    if fault == "429":
        return KakaoError(429, -10, "Too many requests in a short time. Retry after 1 second.", {"Retry-After": "1"}).response()
    if fault == "500":
        return KakaoError(500, -1, "Internal error. Please try again.").response()
    if fault == "-1":
        return KakaoError(400, -1, "Internal error. Please try again.").response()
    if fault == "-603":
        return KakaoError(400, -603, "Timeout.").response()
    if fault == "503":
        return KakaoError(503, -9798, "Service is under maintenance.").response()
    if fault == "html502":
        return HTMLResponse(_HTML_502, status_code=502)
    if fault == "malformed":
        return Response('{"id": "3f2a", "model_version": "v2.1.0.0.prod", "images": [{"id": ', media_type="application/json")
    return None


def _loggable(body: Any) -> Any:
    """The body with base64 images shortened, so the call log stays small and readable."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    for key in ("image", "mask"):
        if isinstance(out.get(key), str) and len(out[key]) > 64:
            out[key] = f"<base64 {len(out[key])} chars>"
    if isinstance(out.get("images"), list):
        out["images"] = [f"<base64 {len(v)} chars>" if isinstance(v, str) and len(v) > 64 else v for v in out["images"]]
    return out


def _handler(state, name: str):
    endpoint = _ENDPOINTS[name]

    async def handle(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        state.log_call(request, _loggable(body) if body is not None else raw[:200].decode("utf-8", "replace"))
        deadline = None
        try:
            _check_auth(request)
            if not isinstance(body, dict):
                raise _bad("body", "must be a JSON object")
            prompt = body.get("prompt") if name in _HAS_PROMPT else None
            directives = read_directives(request.headers, prompt if isinstance(prompt, str) else None)
            deadline = state.deadline(directives.latency_ms)
            if directives.fault:
                await state.wait_until(deadline)
            if directives.fault == "hang":
                await asyncio.sleep(state.hang_seconds)
                return KakaoError(400, -603, "Timeout.").response()
            faulty = _fault_reply(directives.fault)
            if faulty is not None:
                return faulty
            clean = directives.clean_prompt if isinstance(prompt, str) else prompt
            # Pictures take real CPU time; keep the event loop free for other requests.
            result = await asyncio.to_thread(endpoint, state, body, clean)
            await state.wait_until(deadline)  # drawing happens inside the latency, not after it
            return JSONResponse(result)
        except KakaoError as err:
            if deadline is not None:
                await state.wait_until(deadline)
            return err.response()

    return handle


async def _served_file(request: Request) -> Response:
    state = request.app.state.emulator
    token = request.path_params["token"]
    with state.lock:
        entry = state.served_files.get(token)
    if entry is None:
        return Response("<Error><Code>NoSuchKey</Code></Error>", status_code=404, media_type="application/xml")
    data, mime, expires = entry
    if time.time() > expires:
        return Response("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                        status_code=403, media_type="application/xml")
    return Response(data, media_type=mime, headers={"Cache-Control": "private, max-age=600"})


def routes(state) -> list[Route]:
    """Karlo's v2 endpoints and the GET route that serves URL results."""
    out = [Route(f"/v2/inference/karlo/{name}", _handler(state, name), methods=["POST"]) for name in _ENDPOINTS]
    out.append(Route("/_emulator/karlo/{token}.{ext}", _served_file, methods=["GET"]))
    return out
