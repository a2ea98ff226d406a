"""Google's Gemini image models ("Nano Banana") through Google's own SDK, google-genai.

``generateContent`` with ``responseModalities`` TEXT+IMAGE and ``imageConfig``
(aspect ratio, image size); reference pictures go as inline data (edit by
instruction, up to the model's limit; Gemini takes no mask).  The SDK is
pointed at ``GOOGLE_GEMINI_BASE_URL`` (the emulator in demo mode) through
``HttpOptions(base_url=...)``.  Safety finishes (``IMAGE_SAFETY``,
``PROHIBITED_CONTENT``, ``promptFeedback.blockReason``) become sentences; token
usage per modality is kept for pricing.  Model facts: the ``engine = "gemini"``
rows of lib/data/models.toml (``options.aspect_ratio``, ``options.image_size``).
"""
from __future__ import annotations

import hashlib
import io
import threading
import time
from typing import Any

from PIL import Image, UnidentifiedImageError

from lib import catalog, imaging, limits
from lib.client_cache import ClientCache
from lib.errors import (AuthError, ContentRejected, InvalidInput, NotAvailable, ProviderDown, QuotaExceeded,
                        StudioError, proxy_refused)
from lib.prompts import clean_prompt
from lib.providers.base import EDIT, GENERATE, VARIATION, Capabilities, EngineModel, OnProgress, Setting
from lib.providers.openai_engine import CatalogEngine
from lib.types import GeneratedImage, ImageResult, Usage

API_VERSION = "v1beta"  # the wire notes' version (the SDK's own default has moved between releases)
ENDPOINT = "/v1beta/models/{model}:generateContent"
DEFAULT_VARIATION_PROMPT = ("Make a variation of this picture: keep its subject, composition, palette and style, "
                            "and change the details.")

# Why a candidate stopped, in words (finishReason values, gemini-image-api.md §5).
_FINISH_WORDS = {
    "IMAGE_SAFETY": "Gemini made a picture but withheld it: it judged the image unsafe (IMAGE_SAFETY). Change the "
                    "prompt or the reference pictures and try again.",
    "IMAGE_PROHIBITED_CONTENT": "Gemini withheld the picture as prohibited content (IMAGE_PROHIBITED_CONTENT). "
                                "Change the prompt or the reference pictures.",
    "SAFETY": "Gemini stopped for safety reasons (SAFETY). Rephrase the prompt.",
    "PROHIBITED_CONTENT": "Gemini refused: the request touches prohibited content (PROHIBITED_CONTENT).",
    "BLOCKLIST": "Gemini refused: the prompt has a blocked term (BLOCKLIST). Rephrase it.",
    "SPII": "Gemini refused: the request may contain sensitive personal information (SPII).",
    "RECITATION": "Gemini stopped because the answer would copy existing material (RECITATION). Rephrase the prompt.",
    "IMAGE_RECITATION": "Gemini withheld the picture because it would copy an existing image (IMAGE_RECITATION).",
    "IMAGE_OTHER": "Gemini did not return the picture (IMAGE_OTHER). Try again or change the prompt.",
    "NO_IMAGE": "Gemini answered without a picture (NO_IMAGE): it was expected to draw one and did not. Try again, "
                "or say more plainly that you want an image.",
    "MAX_TOKENS": "Gemini ran out of output tokens before the picture was done (MAX_TOKENS). Try a smaller size.",
    "LANGUAGE": "Gemini does not support the prompt's language (LANGUAGE). Write it in English.",
}
_REJECTED_FINISHES = {"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
                      "RECITATION", "IMAGE_RECITATION"}
_BLOCK_WORDS = {
    "SAFETY": "Gemini refused the prompt for safety reasons (blockReason SAFETY). Rephrase it.",
    "PROHIBITED_CONTENT": "Gemini refused the prompt as prohibited content (blockReason PROHIBITED_CONTENT).",
    "BLOCKLIST": "Gemini refused the prompt: it has a blocked term (blockReason BLOCKLIST).",
    "IMAGE_SAFETY": "Gemini refused a reference picture as unsafe (blockReason IMAGE_SAFETY).",
    "OTHER": "Gemini refused the prompt (blockReason OTHER). Rephrase it and try again.",
}


# ------------------------------------------------------------------ client

_clients = ClientCache("gemini", 32)  # a sidebar key's client goes with its browser session (lib.client_cache)


def _client(cfg, timeout: float, retries: bool):
    """One google-genai client per (base URL, key hash, headers, timeout), so connections are reused."""
    from google import genai
    from google.genai import types

    cache_key = (cfg.base_url, cfg.key_id, tuple(sorted(cfg.extra_headers.items())), round(timeout, 3))

    def build():
        # No SDK retries: google-genai retries a time-out too, and a timed-out image call may still be drawn and
        # billed; a 429 or 5xx comes back at once as a message that says to try again.
        options = types.HttpOptions(base_url=cfg.base_url, api_version=API_VERSION, headers=dict(cfg.extra_headers) or None,
                                    timeout=int(timeout * 1000), retry_options=None,
                                    # no redirect is followed: it could send the call (and the key) anywhere
                                    client_args={"follow_redirects": False},
                                    async_client_args={"follow_redirects": False})
        return genai.Client(api_key=cfg.key, http_options=options)

    return _clients.get(cfg, cache_key, build)


# ------------------------------------------------------------------ what the key may use

_listed: dict[tuple, tuple[float, frozenset[str] | None]] = {}
_listed_lock = threading.Lock()


def listed_model_ids(cfg) -> frozenset[str] | None:
    """Model ids ``GET /v1beta/models`` lists for this key that can ``generateContent``; ``None`` when it cannot say.

    Cached per (base URL, key hash) for ``limits.MODELS_TTL_S``; a failure briefly, so an offline app does not wait.
    """
    if cfg is None or not cfg.usable:
        return None
    cache_key = (cfg.base_url, hashlib.sha256((cfg.key or "").encode()).hexdigest())
    now = time.monotonic()
    with _listed_lock:
        hit = _listed.get(cache_key)
        if hit and hit[0] > now:
            return hit[1]
    try:
        from google import genai
        from google.genai import types

        client = genai.Client(api_key=cfg.key, http_options=types.HttpOptions(
            base_url=cfg.base_url, api_version=API_VERSION, timeout=int(limits.MODELS_TIMEOUT_S * 1000)))
        ids = frozenset(
            (m.name or "").removeprefix("models/") for m in client.models.list(config={"page_size": 1000})
            if "generateContent" in (m.supported_actions or []))
        expires = now + limits.MODELS_TTL_S
    except Exception:  # offline, no permission to list, not Gemini: fall back to the catalog
        ids, expires = None, now + limits.MODELS_FAILURE_TTL_S
    with _listed_lock:
        if len(_listed) > 64:
            _listed.clear()
        _listed[cache_key] = (expires, ids)
    return ids


# ------------------------------------------------------------------ the engine

class Gemini(CatalogEngine):
    id = "gemini"
    label = "Google Gemini"
    key_vars = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_var = "GOOGLE_GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com"
    key_label = "Gemini API key"
    demo_face = "gemini_base_url"
    genai_prices_provider = "google"
    blurb = "Nano Banana: draws from a prompt, edits by instruction from up to 14 reference pictures (no mask)."

    def models(self, cfg, action: str | None = None) -> list[EngineModel]:
        """The catalog's Gemini image models the key can use, then any other image model the listing names."""
        found = super().models(None, action)
        listed = listed_model_ids(cfg)
        if not listed:
            return found
        offered = [m for m in found if m.id in listed] or found
        if action in (None, GENERATE, EDIT, VARIATION):
            known = {m.id for m in catalog.engine_models(self.id)}
            for model_id in sorted(listed - known):
                # Text models list generateContent too: only names that say they draw ("image", "banana").
                if ("image" in model_id or "banana" in model_id) and not model_id.startswith("imagen"):
                    # The catalog has no facts on it: one reference picture, the server's own sizes.
                    offered.append(EngineModel(model_id, f"{model_id} (listed by Gemini)", Capabilities(
                        generate=True, reference_images=1, variation=True)))
        return offered

    def settings(self, model_id: str, action: str = GENERATE) -> list[Setting]:
        spec = self.spec(model_id)
        if spec is None:
            return []  # a model only the listing knows: its own defaults apply
        ratios = tuple(spec.options.get("aspect_ratio", ())) if spec else ()
        sizes = tuple(spec.options.get("image_size", ())) if spec else ()
        found = [Setting("aspect_ratio", "Aspect ratio", "choice", ratios, "1:1" if action == GENERATE else None,
                         optional=action != GENERATE,
                         help="'default' follows the first reference picture's shape." if action != GENERATE else None),
                 Setting("image_size", "Image size", "choice", sizes, "1K" if "1K" in sizes else sizes[0],
                         help="The long side: 1K ≈ 1024 px, 2K ≈ 2048 px, 4K ≈ 4096 px (costs more tokens).")]
        return found

    def check(self, model_id: str, action: str, prompt: str | None, settings: dict[str, Any]) -> list[tuple[str, str]]:
        return self.prompt_problems(model_id, action, prompt) + super().check(model_id, action, prompt, settings)

    def endpoint(self, model_id: str, action: str) -> str:
        return ENDPOINT.format(model=model_id)

    def target_label(self, model_id: str, settings: dict[str, Any]) -> str:
        found = self.spec(model_id)
        parts = [found.label if found else model_id, settings.get("aspect_ratio"), settings.get("image_size")]
        return " · ".join(str(p) for p in parts if p)

    def default_compare_settings(self, model_id: str) -> dict[str, Any]:
        return {"aspect_ratio": "1:1", "image_size": "1K"}

    def variation_prompt(self, model_id: str) -> str | None:
        return DEFAULT_VARIATION_PROMPT

    def estimate_usd(self, model_id: str, settings: dict[str, Any]) -> float | None:
        from lib import pricing

        spec = self.spec(model_id)
        tokens = (spec.options.get("output_tokens", {}) if spec else {}).get(settings.get("image_size") or "1K")
        return None if tokens is None else pricing.estimate_tokens(self.id, model_id, int(tokens))

    # ---------------------------------------------------------------- calls
    def generate(self, cfg, *, model: str, prompt: str, settings: dict[str, Any], timeout: float | None = None,
                 on_progress: OnProgress | None = None, retries: bool = True) -> ImageResult:
        return self._call(cfg, model, prompt, [], settings, timeout, retries)

    def edit(self, cfg, *, model: str, prompt: str, images: list[bytes], mask: bytes | None,
             settings: dict[str, Any], timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        if mask is not None:
            raise InvalidInput("Gemini edits by instruction and takes no mask: say in the prompt what to change, "
                               "or pick an engine that edits inside a mask.", provider=self.id, param="mask")
        return self._call(cfg, model, prompt, images, settings, timeout, True)

    def vary(self, cfg, *, model: str, image: bytes, prompt: str | None, settings: dict[str, Any],
             timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        return self._call(cfg, model, prompt or DEFAULT_VARIATION_PROMPT, [image], settings, timeout, True)

    def _call(self, cfg, model: str, prompt: str, images: list[bytes], settings: dict[str, Any],
              timeout: float | None, retries: bool) -> ImageResult:
        from google.genai import types

        prompt, fixes = clean_prompt(prompt)
        spec = self.spec(model)
        if spec is not None and len(images) > spec.max_input_images:
            raise InvalidInput(f"{spec.label} takes at most {spec.max_input_images} reference pictures; remove "
                               f"{len(images) - spec.max_input_images}.", provider=self.id, param="image")
        timeout = limits.provider_timeout_s() if timeout is None else timeout
        image_config = {k: v for k, v in (("aspect_ratio", settings.get("aspect_ratio")),
                                          ("image_size", settings.get("image_size"))) if v}
        config = types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"],
                                             image_config=types.ImageConfig(**image_config) if image_config else None)
        contents: list[Any] = [prompt] + [types.Part.from_bytes(data=data, mime_type=_mime(data)) for data in images]
        started = time.perf_counter()
        try:
            response = _client(cfg, timeout, retries).models.generate_content(model=model, contents=contents,
                                                                             config=config)
        except StudioError:
            raise
        except Exception as exc:
            raise translate_error(exc, cfg, model, timeout) from None
        latency_ms = (time.perf_counter() - started) * 1000
        usage = _usage(getattr(response, "usage_metadata", None))
        request_id = getattr(response, "response_id", None)
        feedback = getattr(response, "prompt_feedback", None)
        block = getattr(getattr(feedback, "block_reason", None), "value", None) or (
            str(feedback.block_reason) if feedback is not None and feedback.block_reason else None)
        if block:
            raise ContentRejected(_BLOCK_WORDS.get(block, f"Gemini refused the prompt (blockReason {block})."),
                                  provider=self.id, code=block, request_id=request_id)
        candidates = getattr(response, "candidates", None) or []
        if not candidates:
            raise ProviderDown("Gemini answered without any candidate. Try again.", provider=self.id,
                               code="no_candidates", request_id=request_id)
        candidate = candidates[0]
        parts = getattr(getattr(candidate, "content", None), "parts", None) or []
        pictures, texts = [], []
        for part in parts:
            if getattr(part, "thought", False):
                continue  # reasoning, not the answer
            inline = getattr(part, "inline_data", None)
            if inline is not None and inline.data:
                pictures.append(_picture(inline.data, inline.mime_type))
            elif getattr(part, "text", None):
                texts.append(part.text)
        finish = getattr(getattr(candidate, "finish_reason", None), "value", None) or str(candidate.finish_reason or "")
        if not pictures:
            words = _FINISH_WORDS.get(finish) or (f"Gemini answered without a picture (finish reason {finish or 'none'})."
                                                  " Try again.")
            extra = getattr(candidate, "finish_message", None)
            if extra:
                words += f" Gemini said: {extra}"
            error_type = ContentRejected if finish in _REJECTED_FINISHES else ProviderDown
            raise error_type(words, provider=self.id, code=finish or "no_image", request_id=request_id)
        notes = list(fixes) + ([f"Gemini said: {' '.join(texts)[:300]}"] if texts else [])
        params = {"aspect_ratio": settings.get("aspect_ratio"), "image_size": settings.get("image_size"),
                  "response_modalities": ["TEXT", "IMAGE"], "reference_images": len(images)}
        return ImageResult(self.id, model, ENDPOINT.format(model=model), pictures,
                           params={k: v for k, v in params.items() if v is not None}, usage=usage,
                           request_id=request_id, latency_ms=latency_ms, notes=notes)


def _mime(data: bytes) -> str:
    try:
        with Image.open(io.BytesIO(data)) as img:
            return Image.MIME.get(img.format or "", "image/png")
    except (UnidentifiedImageError, OSError):
        return "image/png"


def _picture(data: bytes, mime: str | None) -> GeneratedImage:
    try:
        picture = imaging.check_picture(data, label="The picture Gemini sent")  # header, pixel budget, cut off
    except imaging.BrokenPicture as err:
        err.provider = "gemini"
        raise
    found = picture.mime if picture.mime.startswith("image/") else None
    return GeneratedImage(data=data, mime=found or mime or "image/png", width=picture.width, height=picture.height)


def _usage(meta) -> Usage | None:
    """Gemini's usageMetadata as our Usage: thoughts count as output (they are billed as output)."""
    if meta is None:
        return None

    def by_modality(details) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in details or []:
            modality = getattr(getattr(d, "modality", None), "value", None) or str(getattr(d, "modality", ""))
            out[modality] = out.get(modality, 0) + int(getattr(d, "token_count", 0) or 0)
        return out

    prompt_in = by_modality(meta.prompt_tokens_details)
    cand_out = by_modality(meta.candidates_tokens_details)
    thoughts = int(meta.thoughts_token_count or 0)
    output = (meta.candidates_token_count or 0) + thoughts
    details = {k: v for k, v in {
        "input_text_tokens": prompt_in.get("TEXT"), "input_image_tokens": prompt_in.get("IMAGE"),
        "output_image_tokens": cand_out.get("IMAGE"),
        "output_text_tokens": (cand_out.get("TEXT") or 0) + thoughts or None,
        "reasoning_tokens": thoughts or None, "cached_tokens": meta.cached_content_token_count,
    }.items() if v}
    return Usage(input_tokens=meta.prompt_token_count, output_tokens=output, details=details)


def translate_error(exc: Exception, cfg, model: str, timeout: float) -> StudioError:
    """Whatever google-genai or the network raised, as a StudioError that says what to do."""
    from google.genai import errors

    common = {"provider": "gemini"}
    if isinstance(exc, errors.APIError):
        code, status, message = exc.code, exc.status or "", exc.message or ""
        details = (exc.details or {}).get("error", {}).get("details", []) if isinstance(exc.details, dict) else []
        reasons = {d.get("reason") for d in details if isinstance(d, dict)}
        retry = next((d.get("retryDelay") for d in details if isinstance(d, dict) and d.get("retryDelay")), None)
        common.update(http_status=code, code=status or None, detail=message[:300])
        if code == 407:
            return proxy_refused("gemini", "Gemini")
        if "API_KEY_INVALID" in reasons or code in (401, 403) and "key" in message.lower():
            return AuthError("Google did not accept the Gemini API key. Check GEMINI_API_KEY or the key in the "
                             "sidebar (it comes from aistudio.google.com).", **common)
        if code == 402:
            return QuotaExceeded("The Gemini project's prepaid credits are used up (HTTP 402). Top up billing in "
                                 "AI Studio, then try again.", **common)
        if code == 429:
            seconds = _seconds(retry)
            wait = f" Google asks to wait {seconds:g} s." if seconds else " Wait a little and try again."
            return QuotaExceeded(f"Gemini is rate-limiting this key (HTTP 429, RESOURCE_EXHAUSTED).{wait} A free-tier "
                                 "key cannot make images at all: image output needs billing.",
                                 retry_after=seconds, **common)
        if code == 403:
            return AuthError("This Gemini key may not use that model or method (HTTP 403). Check the key's project.",
                             **common)
        if code == 404:
            return NotAvailable(f"Gemini does not offer {model} (HTTP 404): it is unknown or retired. Pick another "
                                "model.", param="model", **common)
        if status == "FAILED_PRECONDITION":
            return NotAvailable(f"Gemini cannot serve this request here: {message}", **common)
        if code == 400:
            return InvalidInput(f"Gemini rejected the request: {message}", **common)
        if code in (504, 408):
            return ProviderDown(f"Gemini did not finish in time (HTTP {code}). Try again, perhaps with a smaller size.",
                                **common)
        if code >= 500:
            return ProviderDown(f"Gemini is failing (HTTP {code} {status}). Try again in a minute.", **common)
        return StudioError(f"Gemini refused the request (HTTP {code} {status}): {message}", **common)
    name = type(exc).__name__
    if "Timeout" in name:
        return ProviderDown(f"Gemini did not answer within {timeout:g} s. Try again, perhaps with a smaller size.",
                            code="timeout", **common)
    if "Connect" in name or isinstance(exc, OSError):
        return ProviderDown(f"Could not reach Gemini at {cfg.base_url} ({name}). Check GOOGLE_GEMINI_BASE_URL and the "
                            "network, or use demo mode.", code="connection", **common)
    if "JSON" in name or "Validation" in name or isinstance(exc, ValueError):
        return ProviderDown(f"Gemini's reply could not be read ({name}): the server at {cfg.base_url} is failing or is "
                            "not Gemini. Try again.", code="unreadable", **common)
    return ProviderDown(f"The Gemini call failed unexpectedly ({name}). Try again.", code=name, **common)


def _seconds(value) -> float | None:
    try:
        return float(str(value).rstrip("s")) if value else None
    except ValueError:
        return None


ENGINE = Gemini()
