"""Kakao's Karlo image API (v2): a small requests client with PyKakao's method names, timeouts and retries.

``KarloClient(cfg)`` talks to ``cfg.base_url`` (``KARLO_BASE_URL``; the emulator
in demo mode) with ``Authorization: KakaoAK <key>``.  Method names and defaults
match PyKakao 0.0.7's ``Karlo`` where they overlap (``text_to_image``,
``transform_image``, ``upscale_image``, ``check_nsfw``, ``string_to_image``,
``image_to_string``); ``inpaint_image`` is ours.  Two defaults differ on
purpose: we ask for ``return_type="base64_string"`` (Karlo URLs expire after
about ten minutes) and send ``version="v2.1"`` (PyKakao cannot send a version).
Every parameter is checked before anything is sent; every failure is a
``lib.errors.StudioError`` whose message says what to do.
"""
from __future__ import annotations

import base64
import binascii
import io
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import requests
import urllib3
from PIL import Image, UnidentifiedImageError

from lib import catalog, imaging, limits
from lib.client_cache import ClientCache
from lib.config import ProviderConfig
from lib.errors import (
    AuthError,
    InvalidInput,
    NotAvailable,
    ProviderDown,
    QuotaExceeded,
    StudioError,
    proxy_refused,
    redact,
)
from lib.fetch import fetch_image
from lib.prompts import clean_prompt
from lib.retrying import call_with_deadline, is_safe_to_retry
from lib.types import GeneratedImage, ImageResult

MASK_CONVENTION = (
    "Karlo inpainting masks: black (0) marks the area to repaint, every other value is kept; "
    "the mask has the image's size. (OpenAI masks and lib.imaging use transparent = edit; "
    "karlo_mask() converts.)"
)
"""The one place Karlo's mask convention is written down (the emulator mirrors it).

Karlo v1 documented black = edit; v2's docs are not on record and one public
client had to invert its mask, so if a live server repaints the wrong area,
this constant and ``karlo_mask`` are what to change.
"""

API_PATH = "/v2/inference/karlo/"
DEFAULT_VERSION = "v2.1"
# Width and height range per version, multiples of 8: from the Karlo rows of lib/data/models.toml (one place).
SIZE_RANGES = {m.id.removeprefix("karlo-"): m.size_range for m in catalog.engine_models("karlo") if m.size_range}
SCHEDULERS = ("decoder_ddim_v_prediction", "decoder_ddpm_v_prediction")
IMAGE_FORMATS = ("webp", "jpeg", "png")
RETURN_TYPES = ("base64_string", "url")
MAX_TEXT = 256
MAX_SEED = 4294967295
MAX_SAMPLES = 8
MAX_INPUT_BYTES = 2 * 1024 * 1024
MAX_UPSCALE_INPUT_SIDE = 1024
MAX_UPSCALED_SIDE = 2048
FREE_IMAGES_PER_MONTH = 500

_PARAM_IN_MSG = re.compile(r"'(\w+)'")
_IMAGE_FIELDS = ("image", "mask", "images")


@dataclass
class NsfwVerdict:
    """Karlo's NSFW checker on one image."""

    nsfw_content_detected: bool
    nsfw_score: float


# ---------------------------------------------------------------------------- text helpers

def looks_korean(text: str | None) -> bool:
    """True when ``text`` has any Hangul (Karlo reads English only)."""
    return any("HANGUL" in unicodedata.name(ch, "") for ch in text or "")


def is_english(text: str | None) -> bool:
    """True when every letter in ``text`` is Latin: what Karlo means by "English only"."""
    return all(not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN") for ch in text or "")


# ---------------------------------------------------------------------------- images

def image_to_string(img: Image.Image) -> str:
    """A PIL image as base64 PNG, like PyKakao's (without its line breaks, which JSON does not need)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def string_to_image(base64_string: str, mode: str = "RGBA") -> Image.Image:
    """base64 to a PIL image in ``mode``, like PyKakao's."""
    return Image.open(io.BytesIO(base64.b64decode(str(base64_string)))).convert(mode)


def karlo_mask(studio_mask_png: bytes) -> bytes:
    """A studio mask (transparent = edit, see lib.imaging) as a Karlo mask (black = edit), same size."""
    img = Image.open(io.BytesIO(studio_mask_png)).convert("RGBA")
    edit = np.asarray(img.getchannel("A")) < 128
    out = io.BytesIO()
    Image.fromarray(np.where(edit, 0, 255).astype(np.uint8), "L").save(out, "PNG")
    return out.getvalue()


def fit_image(data: bytes, *, max_side: int = 2048) -> tuple[bytes, list[str]]:
    """An image Karlo takes (RGB, at most ``max_side`` px, at most 2 MB) and one sentence per change made.

    Transparency is flattened onto white (Karlo reads no alpha).  A PNG that is
    still over 2 MB is sent as a high-quality WebP instead, then shrunk if needed.
    """
    fixes: list[str] = []
    img = Image.open(io.BytesIO(data))
    img.load()
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] < 255:
            fixes.append("Flattened transparent areas onto white: Karlo reads no transparency.")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        img = flat
    else:
        img = img.convert("RGB")
    if max(img.size) > max_side:
        before = img.size
        ratio = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * ratio)), max(1, round(img.height * ratio))), Image.Resampling.LANCZOS)
        fixes.append(f"Downscaled from {before[0]}×{before[1]} to {img.width}×{img.height} px (Karlo takes up to {max_side} px here).")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    quality = 92
    while buf.tell() > MAX_INPUT_BYTES:
        buf = io.BytesIO()
        if quality < 60:
            img = img.resize((max(1, img.width * 4 // 5), max(1, img.height * 4 // 5)), Image.Resampling.LANCZOS)
        img.save(buf, "WEBP", quality=max(quality, 60))
        quality -= 8
    if quality != 92:
        fixes.append(f"Re-encoded as WebP ({img.width}×{img.height}) to get under Karlo's 2 MB limit.")
    return buf.getvalue(), fixes


def _bad(param: str, message: str) -> InvalidInput:
    return InvalidInput(message, provider="karlo", param=param)


def _image_b64(value: Any, param: str, *, max_side: int | None = None) -> tuple[str, Image.Image]:
    """Base64 text for an input image (bytes, base64 text or a PIL image), checked against Karlo's limits."""
    if isinstance(value, Image.Image):
        value = image_to_string(value)
    if isinstance(value, (bytes, bytearray)):
        raw, text = bytes(value), base64.b64encode(value).decode("ascii")
    elif isinstance(value, str) and value.strip():
        try:
            raw, text = base64.b64decode(value), value
        except (binascii.Error, ValueError):
            raise _bad(param, f"{param} is not valid base64 text. Pass the image's bytes or its base64 encoding.") from None
    else:
        raise _bad(param, f"{param} is missing: give an image (png, jpeg or webp).")
    if len(raw) > MAX_INPUT_BYTES:
        raise _bad(param, f"{param} is {len(raw) / 1e6:.1f} MB; Karlo takes images up to 2 MB. Use a smaller or more compressed image.")
    try:
        img = Image.open(io.BytesIO(raw))
        img.load()
    except (UnidentifiedImageError, OSError):
        raise _bad(param, f"{param} is not an image Karlo can read. Use png, jpeg or webp.") from None
    if max_side and max(img.size) > max_side:
        raise _bad(param, f"{param} is {img.width}×{img.height}; Karlo upscales images up to {max_side} px per side.")
    return text, img


# ---------------------------------------------------------------------------- validation

def _check_text(param: str, text: Any, *, required: bool) -> None:
    if text is None or (isinstance(text, str) and not text.strip()):
        if required:
            raise _bad(param, f"{param} is empty: describe the picture in English.")
        return
    if not isinstance(text, str):
        raise _bad(param, f"{param} must be text.")
    if len(text) > MAX_TEXT:
        raise _bad(param, f"{param} is {len(text)} characters; Karlo takes at most {MAX_TEXT}. Shorten it.")
    if not is_english(text):
        hint = " It looks like Korean: translate it first." if looks_korean(text) else ""
        raise _bad(param, f"{param} must be in English; Karlo does not read other scripts.{hint}")


def _check_int(param: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _bad(param, f"{param} must be a whole number from {lo} to {hi} (got {value!r}).")


def _check_float(param: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise _bad(param, f"{param} must be a number from {lo:g} to {hi:g} (got {value!r}).")


def _check_choice(param: str, value: Any, allowed: tuple) -> None:
    if value not in allowed or isinstance(value, bool):
        raise _bad(param, f"{param} must be one of {', '.join(map(str, allowed))} (got {value!r}).")


def _check_size(param: str, value: Any, version: str) -> None:
    lo, hi = SIZE_RANGES[version]
    if isinstance(value, bool) or not isinstance(value, int) or value % 8 or not lo <= value <= hi:
        raise _bad(param, f"{param} must be a multiple of 8 from {lo} to {hi} px for Karlo {version} (got {value!r}).")


def _check_upscale(upscale: Any, scale: Any, width: int, height: int) -> None:
    if upscale is not None and not isinstance(upscale, bool):
        raise _bad("upscale", f"upscale must be True or False (got {upscale!r}).")
    _check_choice("scale", scale, (2, 4))
    if upscale and max(width, height) * scale > MAX_UPSCALED_SIDE:
        raise _bad("scale", f"scale ×{scale} would make {width}×{height} larger than Karlo's {MAX_UPSCALED_SIDE} px per side. Use ×2 or a smaller size.")


def _check_seeds(seed: Any, samples: int) -> None:
    if seed is None:
        return
    if not isinstance(seed, (list, tuple)) or len(seed) != samples:
        raise _bad("seed", f"seed needs one number per sample: {samples} expected (got {seed!r}).")
    for s in seed:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
            raise _bad("seed", f"each seed must be a whole number from 0 to {MAX_SEED} (got {s!r}).")


def _check_output(image_format: Any, image_quality: Any, return_type: Any) -> None:
    _check_choice("image_format", image_format, IMAGE_FORMATS)
    _check_int("image_quality", image_quality, 1, 100)
    _check_choice("return_type", return_type, RETURN_TYPES)


def _check_generation(body: dict[str, Any]) -> None:
    """Every field t2i, variations and inpainting share, in the order a person fills them in."""
    _check_choice("version", body.get("version", DEFAULT_VERSION), tuple(SIZE_RANGES))
    samples = body.get("samples", 1)  # a field left as None is not sent: Karlo's default applies
    _check_int("samples", samples, 1, MAX_SAMPLES)
    for name, default, lo, hi, check in (
        ("prior_num_inference_steps", 25, 10, 100, _check_int), ("prior_guidance_scale", 5.0, 1.0, 20.0, _check_float),
        ("num_inference_steps", 50, 10, 100, _check_int), ("guidance_scale", 5.0, 1.0, 20.0, _check_float),
    ):
        check(name, body.get(name, default), lo, hi)
    _check_choice("scheduler", body.get("scheduler", SCHEDULERS[0]), SCHEDULERS)
    _check_seeds(body.get("seed"), samples)
    if not isinstance(body.get("nsfw_checker", False), bool):
        raise _bad("nsfw_checker", f"nsfw_checker must be True or False (got {body['nsfw_checker']!r}).")
    _check_output(body.get("image_format", "webp"), body.get("image_quality", 70), body.get("return_type", "url"))


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    """Leave out unset fields, as PyKakao does, so the server applies its defaults."""
    return {k: v for k, v in body.items() if v is not None}


# ---------------------------------------------------------------------------- errors

def _api_error(status: int, code: int | None, msg: str, *, retry_after: float | None) -> StudioError:
    """Kakao's ``{code, msg}`` as an error a person can act on."""
    common = {"provider": "karlo", "http_status": status, "code": None if code is None else str(code), "detail": msg}
    if code == -9:
        return NotAvailable(
            "Kakao has ended the Karlo API for this app (code -9). Use demo mode (remove the Kakao key), "
            "or point KARLO_BASE_URL at a Karlo-compatible server.", **common)
    if code == -401 or status == 401:
        return AuthError(
            "Kakao did not accept the REST API key (code -401). Check KAKAO_REST_API_KEY or the key in the "
            "sidebar: it must be the app's REST API key from developers.kakao.com.", **common)
    if status == 429:
        return QuotaExceeded("Karlo is rate-limiting this app (HTTP 429). Wait a little and try again.",
                             retry_after=retry_after, **common)
    if code == -10:
        return QuotaExceeded(
            f"This app's Karlo quota is used up (code -10): Kakao gives {FREE_IMAGES_PER_MONTH} free images a "
            "month. Wait for next month, or use demo mode.", **common)
    if code == -2:
        m = _PARAM_IN_MSG.search(msg)
        param = m.group(1) if m else None
        named = f" `{param}`" if param else ""
        return InvalidInput(f"Karlo rejected the parameter{named} (code -2): {msg}", param=param, **common)
    if code in (-3, -5):
        return AuthError(f"Karlo is not enabled for this app, or the app may not use it (code {code}). "
                         "Turn Karlo on for the app at developers.kakao.com.", **common)
    if code in (-7, -9798):
        return ProviderDown(f"Karlo is under maintenance (code {code}). Try again later.", **common)
    if code == -603:
        return ProviderDown("Karlo timed out on its side (code -603). Try again, perhaps with fewer samples.", **common)
    if status >= 500 or code == -1:
        return ProviderDown(f"Karlo had an internal error (HTTP {status}{f', code {code}' if code else ''}). "
                            "Try again in a minute.", **common)
    return StudioError(f"Karlo refused the request (HTTP {status}{f', code {code}' if code else ''}): {msg}", **common)


def _retryable(err: StudioError) -> bool:
    # Karlo's -1 (internal error) and -603 (its own time-out) are answered before anything is drawn and billed.
    return is_safe_to_retry(err) or err.http_status == 429 or err.code in ("-1", "-603")


# ---------------------------------------------------------------------------- the client

# The oldest is let go, so a process serving many keys keeps few; a sidebar key's session (its cookies) goes with
# its browser session (lib.client_cache).
_sessions = ClientCache("karlo", 16, on_evict=lambda session: session.close())


def _shared_session(cfg: ProviderConfig) -> requests.Session:
    """One session per (base URL, key, extra headers), kept for the process: its connections stay open between
    calls, so a call skips a new TCP and TLS handshake.  Per key, so no cookie a server sets for one key's calls
    travels with another's; the key itself goes per request, never on the session."""
    cache_key = (cfg.base_url, cfg.key_id, tuple(sorted(cfg.extra_headers.items())))  # the key's hash, not the key

    def build() -> requests.Session:
        session = requests.Session()
        session.headers.update({"Content-Type": "application/json", **cfg.extra_headers})
        return session

    return _sessions.get(cfg, cache_key, build)



def _cleaned(prompt: str | None, negative_prompt: str | None) -> tuple[str | None, str | None, list[str]]:
    """Both prompts without control characters, and a sentence for each change (shown on the result card)."""
    prompt, prompt_fixes = clean_prompt(prompt)
    negative_prompt, negative_fixes = clean_prompt(negative_prompt)
    return prompt, negative_prompt, prompt_fixes + [f.replace("the prompt", "the negative prompt") for f in negative_fixes]

class KarloClient:
    """One provider config's Karlo: each method is one POST, validated first, retried when that can help."""

    def __init__(
        self,
        cfg: ProviderConfig,
        *,
        read_timeout: float | None = None,
        max_retries: int = limits.MAX_RETRIES,
        session: requests.Session | None = None,
    ) -> None:
        """``read_timeout`` is each call's whole time limit, retries included (default ``STUDIO_TIMEOUT_S``)."""
        self.cfg = cfg
        self.base_url = cfg.base_url.rstrip("/")
        self.timeout_s = limits.provider_timeout_s() if read_timeout is None else read_timeout
        self.max_retries = max_retries
        if session is None:
            self.session = _shared_session(cfg)
        else:
            self.session = session
            self.session.headers.update({"Content-Type": "application/json", **cfg.extra_headers})

    # PyKakao offers these as methods; keep them reachable the same way.
    string_to_image = staticmethod(string_to_image)
    image_to_string = staticmethod(image_to_string)

    def text_to_image(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        width: int = 512,
        height: int = 512,
        upscale: bool | None = None,
        scale: int = 2,
        image_format: str = "webp",
        image_quality: int = 70,
        samples: int = 1,
        return_type: str = "base64_string",
        prior_num_inference_steps: int = 25,
        prior_guidance_scale: float = 5.0,
        num_inference_steps: int = 50,
        guidance_scale: float = 5.0,
        scheduler: str = "decoder_ddim_v_prediction",
        seed: list[int] | None = None,
        nsfw_checker: bool = False,
        version: str = DEFAULT_VERSION,
    ) -> ImageResult:
        """Pictures from a prompt (POST /v2/inference/karlo/t2i)."""
        prompt, negative_prompt, fixes = _cleaned(prompt, negative_prompt)
        body = _drop_none({
            "version": version, "prompt": prompt, "negative_prompt": negative_prompt, "width": width,
            "height": height, "upscale": upscale, "scale": scale, "image_format": image_format,
            "image_quality": image_quality, "samples": samples, "return_type": return_type,
            "prior_num_inference_steps": prior_num_inference_steps, "prior_guidance_scale": prior_guidance_scale,
            "num_inference_steps": num_inference_steps, "guidance_scale": guidance_scale, "scheduler": scheduler,
            "seed": _seed_list(seed), "nsfw_checker": nsfw_checker,
        })
        _check_text("prompt", prompt, required=True)
        _check_text("negative_prompt", negative_prompt, required=False)
        _check_choice("version", version, tuple(SIZE_RANGES))
        _check_size("width", width, version)
        _check_size("height", height, version)
        _check_upscale(upscale, scale, width, height)
        _check_generation(body)
        return self._generate("t2i", body, version, notes=fixes)

    def transform_image(
        self,
        image: bytes | str | Image.Image,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        width: int = 512,
        height: int = 512,
        upscale: bool | None = None,
        scale: int = 2,
        image_format: str = "webp",
        image_quality: int = 70,
        samples: int = 1,
        return_type: str = "base64_string",
        num_inference_steps: int = 50,
        guidance_scale: float = 5.0,
        scheduler: str = "decoder_ddim_v_prediction",
        seed: list[int] | None = None,
        nsfw_checker: bool = False,
        version: str = DEFAULT_VERSION,
    ) -> ImageResult:
        """Variations of an image (POST /v2/inference/karlo/variations); ``image`` is bytes, base64 or PIL."""
        prompt, negative_prompt, fixes = _cleaned(prompt, negative_prompt)
        _check_text("prompt", prompt, required=False)
        _check_text("negative_prompt", negative_prompt, required=False)
        _check_choice("version", version, tuple(SIZE_RANGES))
        _check_size("width", width, version)
        _check_size("height", height, version)
        _check_upscale(upscale, scale, width, height)
        image_b64, _ = _image_b64(image, "image")
        body = _drop_none({
            "version": version, "image": image_b64, "prompt": prompt, "negative_prompt": negative_prompt,
            "width": width, "height": height, "upscale": upscale, "scale": scale, "image_format": image_format,
            "image_quality": image_quality, "samples": samples, "return_type": return_type,
            "num_inference_steps": num_inference_steps, "guidance_scale": guidance_scale, "scheduler": scheduler,
            "seed": _seed_list(seed), "nsfw_checker": nsfw_checker,
        })
        _check_generation(body)
        return self._generate("variations", body, version, notes=fixes)

    def inpaint_image(
        self,
        image: bytes | str | Image.Image,
        mask: bytes | str | Image.Image,
        prompt: str,
        negative_prompt: str | None = None,
        upscale: bool | None = None,
        scale: int = 2,
        image_format: str = "webp",
        image_quality: int = 70,
        samples: int = 1,
        return_type: str = "base64_string",
        prior_num_inference_steps: int = 25,
        prior_guidance_scale: float = 5.0,
        num_inference_steps: int = 50,
        guidance_scale: float = 5.0,
        scheduler: str = "decoder_ddim_v_prediction",
        seed: list[int] | None = None,
        nsfw_checker: bool = False,
        version: str = DEFAULT_VERSION,
    ) -> ImageResult:
        """Repaint the black area of ``mask`` (see ``MASK_CONVENTION``) from ``prompt``; output has the image's size."""
        prompt, negative_prompt, fixes = _cleaned(prompt, negative_prompt)
        _check_text("prompt", prompt, required=True)
        _check_text("negative_prompt", negative_prompt, required=False)
        image_b64, img = _image_b64(image, "image")
        mask_b64, mask_img = _image_b64(mask, "mask")
        if mask_img.size != img.size:
            raise _bad("mask", f"mask is {mask_img.width}×{mask_img.height} but the image is {img.width}×{img.height}; "
                               "they must be the same size.")
        _check_upscale(upscale, scale, img.width, img.height)
        body = _drop_none({
            "version": version, "image": image_b64, "mask": mask_b64, "prompt": prompt,
            "negative_prompt": negative_prompt, "upscale": upscale, "scale": scale, "image_format": image_format,
            "image_quality": image_quality, "samples": samples, "return_type": return_type,
            "prior_num_inference_steps": prior_num_inference_steps, "prior_guidance_scale": prior_guidance_scale,
            "num_inference_steps": num_inference_steps, "guidance_scale": guidance_scale, "scheduler": scheduler,
            "seed": _seed_list(seed), "nsfw_checker": nsfw_checker,
        })
        _check_generation(body)
        return self._generate("inpainting", body, version, notes=fixes)

    def upscale_image(
        self,
        images: list[bytes | str | Image.Image],
        scale: int = 2,
        image_format: str = "webp",
        image_quality: int = 70,
        return_type: str = "base64_string",
    ) -> ImageResult:
        """Each image resampled ×2 or ×4 (POST /v2/inference/karlo/upscale; inputs up to 1024 px per side)."""
        encoded = self._image_list(images, max_side=MAX_UPSCALE_INPUT_SIDE)
        _check_choice("scale", scale, (2, 4))
        for _, img in encoded:
            if max(img.size) * scale > MAX_UPSCALED_SIDE:
                raise _bad("scale", f"scale ×{scale} would make a {img.width}×{img.height} image larger than Karlo's "
                                    f"{MAX_UPSCALED_SIDE} px per side. Use ×2.")
        _check_output(image_format, image_quality, return_type)
        body = {"images": [b64 for b64, _ in encoded], "scale": scale, "image_format": image_format,
                "image_quality": image_quality, "return_type": return_type}
        started = time.perf_counter()
        reply = self._post("upscale", body)
        raw = reply.get("images")
        if not isinstance(raw, list) or len(raw) != len(encoded):
            raise self._unreadable("upscale", "its 'images' list is missing or the wrong length")
        images_out = [self._image(value, "upscale") for value in raw]
        return ImageResult("karlo", "karlo-upscale", API_PATH + "upscale", images_out, params=_params(body),
                           latency_ms=(time.perf_counter() - started) * 1000)

    def check_nsfw(self, images: list[bytes | str | Image.Image]) -> list[NsfwVerdict]:
        """Karlo's NSFW verdict for each image (POST /v2/inference/karlo/nsfw_checker)."""
        body = {"images": [b64 for b64, _ in self._image_list(images)]}
        reply = self._post("nsfw_checker", body)
        try:
            return [NsfwVerdict(bool(r["nsfw_content_detected"]), float(r["nsfw_score"])) for r in reply["results"]]
        except (KeyError, TypeError, ValueError):
            raise self._unreadable("nsfw_checker", "its 'results' are not in Karlo's shape") from None

    # ------------------------------------------------------------------------ plumbing

    def _image_list(self, images: Any, *, max_side: int | None = None) -> list[tuple[str, Image.Image]]:
        if not isinstance(images, (list, tuple)) or not images:
            raise _bad("images", "images must be a list of one to eight images.")
        if len(images) > MAX_SAMPLES:
            raise _bad("images", f"images holds {len(images)}; Karlo takes at most {MAX_SAMPLES} at once.")
        return [_image_b64(value, "images", max_side=max_side) for value in images]

    def _generate(self, endpoint: str, body: dict[str, Any], version: str, notes: list[str] = ()) -> ImageResult:
        started = time.perf_counter()
        reply = self._post(endpoint, body)
        entries = reply.get("images")
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise self._unreadable(endpoint, "it has no 'images'")
        images = []
        for entry in entries:
            image = self._image(entry.get("image"), endpoint)
            image.seed = entry.get("seed")
            image.nsfw = entry.get("nsfw_content_detected")
            image.nsfw_score = entry.get("nsfw_score")
            images.append(image)
        notes = [*notes, *([f"model_version {reply['model_version']}"] if reply.get("model_version") else [])]
        return ImageResult("karlo", f"karlo-{version}", API_PATH + endpoint, images, params=_params(body),
                           request_id=reply.get("id"), latency_ms=(time.perf_counter() - started) * 1000, notes=notes)

    def _image(self, value: Any, endpoint: str) -> GeneratedImage:
        """Bytes for one returned image: decoded from base64, or downloaded now (URLs expire)."""
        if not isinstance(value, str) or not value:
            raise self._unreadable(endpoint, "an image is missing")
        if value.startswith(("http://", "https://")):
            data = self._download(value)
        else:
            try:
                data = base64.b64decode(value)
            except (binascii.Error, ValueError):
                raise self._unreadable(endpoint, "an image is neither a URL nor base64") from None
        try:
            picture = imaging.check_picture(data, label="The picture Karlo sent")  # header, budget, cut off
        except imaging.BrokenPicture as err:
            err.provider = "karlo"
            raise
        return GeneratedImage(data=data, mime=picture.mime, width=picture.width, height=picture.height)

    def _download(self, url: str) -> bytes:
        """A result URL, fetched now (they last ~10 minutes) from Karlo's own origin or its delivery hosts only,
        capped in bytes and time (lib.fetch)."""
        hosts = tuple(dict.fromkeys(h for m in catalog.load().images if m.engine == "karlo" for h in m.delivery_hosts))
        try:
            return fetch_image(url, base_url=self.base_url, delivery_hosts=hosts, provider="karlo",
                               deadline_s=min(self.timeout_s, limits.DOWNLOAD_TIMEOUT_S), headers=self.cfg.extra_headers)
        except ProviderDown as exc:
            if exc.http_status in (403, 404, 410):
                raise ProviderDown(f"The picture's Karlo link had expired before it was downloaded (HTTP {exc.http_status}). "
                                   "Karlo links last about ten minutes: try again.", provider="karlo",
                                   http_status=exc.http_status, code=exc.code) from None
            raise ProviderDown(f"Karlo made the picture but it was not downloaded: {exc.message}", provider="karlo",
                               http_status=exc.http_status, code=exc.code) from None

    def _unreadable(self, endpoint: str, why: str) -> ProviderDown:
        return ProviderDown(f"Karlo's reply to {endpoint} could not be read: {why}. The server at "
                            f"{self.base_url} may not be Karlo, or it is failing; try again.", provider="karlo")

    def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries on 429, 5xx, -1 and -603; the parsed JSON reply, or a StudioError."""
        url = self.base_url + API_PATH + endpoint
        headers = {"Authorization": f"KakaoAK {self.cfg.key or ''}"}

        def attempt(seconds_left: float) -> dict[str, Any]:
            resp = self.session.post(url, json=body, headers=headers, allow_redirects=False,  # never elsewhere
                                     timeout=(min(limits.CONNECT_TIMEOUT_S, seconds_left), seconds_left))
            reply, err = self._read(resp)
            if err is not None:
                raise err
            return reply

        def explain(exc: Exception, limit: float) -> StudioError:
            if isinstance(exc, requests.exceptions.ReadTimeout):
                # Not retried: the server may still be drawing, and a second try would count twice.
                return ProviderDown(f"Karlo did not answer within {limit:g} s. Try again, perhaps with fewer "
                                    "samples or a smaller size.", provider="karlo", code="timeout")
            # Refused or never connected: nothing was sent, so it is safe to try again (a reset mid-reply is not).
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            never_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
                reason, urllib3.exceptions.NewConnectionError)
            return ProviderDown(
                f"Could not reach Karlo at {self.base_url} ({type(exc).__name__}). Check KARLO_BASE_URL and the "
                "network, or use demo mode.", provider="karlo", code="connection_refused" if never_sent else None)

        return call_with_deadline(attempt, explain, timeout_s=self.timeout_s, max_retries=self.max_retries,
                                  retryable=_retryable)

    def _read(self, resp: requests.Response) -> tuple[dict[str, Any], StudioError | None]:
        secrets = [self.cfg.key] if self.cfg.key else []
        if resp.status_code == 407:
            return {}, proxy_refused("karlo", "Karlo")
        try:
            reply = resp.json()
        except ValueError:
            if "html" in resp.headers.get("content-type", ""):
                gateway = " A proxy or gateway in front of Karlo is failing." if resp.status_code >= 500 else ""
                message = f"Karlo answered with an HTML page (HTTP {resp.status_code}) instead of JSON.{gateway} Try again in a minute."
            else:
                message = (f"Karlo's reply (HTTP {resp.status_code}) is not valid JSON: the server at {self.base_url} "
                           "is failing or is not Karlo. Try again in a minute.")
            return {}, ProviderDown(message, provider="karlo", http_status=resp.status_code,
                                    detail=redact(resp.text[:300], secrets))
        if resp.status_code == 200 and isinstance(reply, dict) and "code" not in reply:
            return reply, None
        code = reply.get("code") if isinstance(reply, dict) else None
        msg = redact(str(reply.get("msg", "")) if isinstance(reply, dict) else str(reply)[:300], secrets) or ""
        retry_after = _seconds(resp.headers.get("retry-after"))
        if resp.status_code == 200 and code is None:
            return {}, self._unreadable(resp.url.rsplit("/", 1)[-1], "it is not a JSON object")
        return {}, _api_error(resp.status_code, code if isinstance(code, int) else None, msg, retry_after=retry_after)


def _seed_list(seed: Any) -> Any:
    """Seeds as a JSON list (tuples too); anything else is passed on for validation to name."""
    return list(seed) if isinstance(seed, tuple) else seed


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _params(body: dict[str, Any]) -> dict[str, Any]:
    """What was asked, for the ledger: the body without the images themselves."""
    return {k: v for k, v in body.items() if k not in _IMAGE_FIELDS}
