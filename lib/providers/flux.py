"""Black Forest Labs' FLUX (FLUX.2 pro/flex/max/klein, Kontext for editing) as an engine.

Submit ``POST {BFL_BASE_URL}/v1/<model>`` with ``x-key``; follow the
``polling_url`` the answer gives (never built here: the task lives on one
regional cluster), saying how far along it is while polling; download the
``result.sample`` URL at once (it expires in ten minutes) through
``lib.fetch`` with the catalog's delivery hosts; keep the seed.  Moderation,
402 (credits) and 429 (too many active tasks) come back in words.  Prices per
megapixel from ``lib/data/prices.toml`` (``[[per_megapixel]]``); BFL's own
``cost`` in credits is kept beside it.
"""
from __future__ import annotations

import base64
import io
import threading
import time
from typing import Any
from urllib.parse import urlparse

import requests
from PIL import Image, UnidentifiedImageError

from lib import catalog, fetch, limits
from lib.errors import (AuthError, ContentRejected, InvalidInput, NotAvailable, ProviderDown, QuotaExceeded,
                        StudioError, proxy_refused, redact)
from lib.prompts import clean_prompt
from lib.providers.base import GENERATE, OnProgress, Progress, Setting
from lib.providers.openai_engine import CatalogEngine
from lib.types import GeneratedImage, ImageResult, Usage

REFERENCE_FIELDS = ["input_image"] + [f"input_image_{i}" for i in range(2, 9)]
PENDING = {"Pending", "Reasoning", "Generating", "Queued"}
FAST_POLL_S, SLOW_POLL_S, FAST_FOR_S = 0.1, 0.5, 3.0  # quick answers are seen at once; long tasks polled gently
DEFAULT_VARIATION_PROMPT = "A variation of this picture: same subject, composition and style, different details."

_sessions: dict[tuple, requests.Session] = {}
_sessions_lock = threading.Lock()


def _session(cfg) -> requests.Session:
    """One requests session per (base URL, extra headers), so polls reuse the connection; the key goes per request."""
    cache_key = (cfg.base_url, tuple(sorted(cfg.extra_headers.items())))
    with _sessions_lock:
        found = _sessions.get(cache_key)
        if found is None:
            if len(_sessions) > 32:
                _sessions.clear()
            found = _sessions[cache_key] = requests.Session()
            found.headers.update({"accept": "application/json", **cfg.extra_headers})
    return found


def _host_matches(host: str, pattern: str) -> bool:
    import re

    return re.fullmatch(re.escape(pattern.lower()).replace(r"\*", "[a-z0-9-]+"), host.lower()) is not None


class Flux(CatalogEngine):
    id = "flux"
    label = "Black Forest Labs FLUX"
    key_vars = ("BFL_API_KEY",)
    base_url_var = "BFL_BASE_URL"
    default_base_url = "https://api.bfl.ai"
    key_label = "BFL API key (FLUX)"
    demo_face = "flux_base_url"
    blurb = "FLUX.2 and Kontext: any size up to 4 MP, edits by instruction from up to 8 references, seeds."

    def settings(self, model_id: str, action: str = GENERATE) -> list[Setting]:
        spec = self.spec(model_id)
        if spec is None:
            return []
        found = []
        if spec.size_range is not None:
            found.append(Setting("size", "Size", "size", spec.sizes, "1024x1024" if action == GENERATE else None,
                                 custom=True, optional=action != GENERATE,
                                 help=f"Any WIDTHxHEIGHT in multiples of {spec.size_multiple}, at least "
                                      f"{spec.size_range[0]} px, at most 4 megapixels. 'default' matches the input."))
        else:
            ratios = tuple(spec.options.get("aspect_ratio", ()))
            found.append(Setting("aspect_ratio", "Aspect ratio", "choice", ratios, None, optional=True,
                                 help="About one megapixel; 'default' matches the input picture."))
        found.append(Setting("output_format", "Output format", "choice", spec.output_formats, spec.output_formats[0],
                             widget="format"))
        top = int(spec.options.get("safety_tolerance_max", 5))
        found.append(Setting("safety_tolerance", "Safety tolerance", "int", default=2, minimum=0, maximum=top,
                             slider=True, help="0 is the strictest moderation."))
        found.append(Setting("seed", "Seed", "text", default="",
                             help="A whole number redraws the same picture with the same settings; empty = random "
                                  "(the seed used is recorded)."))
        return found

    def check(self, model_id: str, action: str, prompt: str | None, settings: dict[str, Any]) -> list[tuple[str, str]]:
        problems = self.prompt_problems(model_id, action, prompt) + super().check(model_id, action, prompt, settings)
        spec = self.spec(model_id)
        size = settings.get("size")
        if spec is not None and size:
            message = catalog.validate_size(spec, size)
            parsed = catalog.parse_size(size)
            if message is None and parsed and parsed[0] * parsed[1] > spec.options.get("max_pixels", 4194304):
                message = f"{size} is more than 4 megapixels; {spec.label} draws at most 2048x2048 or the same area."
            if message:
                problems.append(("size", message))
        seed = str(settings.get("seed") or "").strip()
        if seed and not seed.isdigit():
            problems.append(("seed", f"The seed must be a whole number (got {seed!r}); leave it empty for a random one."))
        return problems

    def endpoint(self, model_id: str, action: str) -> str:
        return f"/v1/{model_id}"

    def target_label(self, model_id: str, settings: dict[str, Any]) -> str:
        found = self.spec(model_id)
        parts = [found.label if found else model_id, settings.get("size") or settings.get("aspect_ratio")]
        return " · ".join(str(p) for p in parts if p)

    def default_compare_settings(self, model_id: str) -> dict[str, Any]:
        spec = self.spec(model_id)
        return {"size": "1024x1024"} if spec is not None and spec.size_range else {}

    def variation_prompt(self, model_id: str) -> str | None:
        return DEFAULT_VARIATION_PROMPT

    # ---------------------------------------------------------------- calls
    def generate(self, cfg, *, model: str, prompt: str, settings: dict[str, Any], timeout: float | None = None,
                 on_progress: OnProgress | None = None, retries: bool = True) -> ImageResult:
        return self._run(cfg, model, prompt, [], settings, timeout, on_progress)

    def edit(self, cfg, *, model: str, prompt: str, images: list[bytes], mask: bytes | None,
             settings: dict[str, Any], timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        if mask is not None:
            raise InvalidInput("FLUX edits by instruction and takes no mask here: say in the prompt what to change.",
                               provider=self.id, param="mask")
        return self._run(cfg, model, prompt, images, settings, timeout, on_progress)

    def vary(self, cfg, *, model: str, image: bytes, prompt: str | None, settings: dict[str, Any],
             timeout: float | None = None, on_progress: OnProgress | None = None) -> ImageResult:
        return self._run(cfg, model, prompt or DEFAULT_VARIATION_PROMPT, [image], settings, timeout, on_progress)

    def _run(self, cfg, model: str, prompt: str, images: list[bytes], settings: dict[str, Any],
             timeout: float | None, on_progress: OnProgress | None) -> ImageResult:
        prompt, fixes = clean_prompt(prompt)
        spec = self.spec(model)
        limit = spec.max_input_images if spec is not None else len(REFERENCE_FIELDS)
        if len(images) > limit:
            raise InvalidInput(f"{model} takes at most {limit} reference pictures; remove {len(images) - limit}.",
                               provider=self.id, param="image")
        timeout = limits.provider_timeout_s() if timeout is None else timeout
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {"prompt": prompt}
        size = catalog.parse_size(settings.get("size") or "")
        if size:
            body["width"], body["height"] = size
        if settings.get("aspect_ratio"):
            body["aspect_ratio"] = settings["aspect_ratio"]
        for name in ("output_format", "safety_tolerance"):
            if settings.get(name) is not None:
                body[name] = settings[name]
        seed = str(settings.get("seed") or "").strip()
        if seed:
            body["seed"] = int(seed)
        for field, data in zip(REFERENCE_FIELDS, images):
            body[field] = base64.b64encode(data).decode("ascii")
        started = time.perf_counter()
        submitted = self._request(cfg, "POST", cfg.base_url + f"/v1/{model}", deadline, timeout, json=body)
        polling_url = submitted.get("polling_url")
        if not isinstance(polling_url, str) or not self._may_poll(cfg, polling_url):
            raise ProviderDown(f"FLUX's answer has no usable polling_url (got {str(polling_url)[:80]!r}); the server at "
                               f"{cfg.base_url} may not be BFL's. Nothing was polled.", provider=self.id,
                               code="bad_polling_url")
        task_id = str(submitted.get("id") or "")
        result = self._poll(cfg, polling_url, deadline, timeout, on_progress)
        sample = (result.get("result") or {}).get("sample")
        if not isinstance(sample, str):
            raise ProviderDown("FLUX said the picture was ready but gave no link to it. Try again.", provider=self.id,
                               code="no_sample", request_id=task_id or None)
        data = self._download(cfg, spec, sample, deadline)
        picture = _picture(data)
        picture.seed = (result.get("result") or {}).get("seed")
        picture.seed = picture.seed if isinstance(picture.seed, int) else None
        credits = submitted.get("cost")
        details: dict[str, Any] = {}
        for name in ("input_mp", "output_mp"):
            if isinstance(submitted.get(name), (int, float)):
                details[name] = submitted[name]
        if isinstance(credits, (int, float)):
            details["bfl_credits"] = credits
        params = {k: v for k, v in body.items() if k not in REFERENCE_FIELDS and k != "prompt"}
        params["reference_images"] = len(images)
        if size:
            params["size"] = f"{size[0]}x{size[1]}"
        return ImageResult(self.id, model, f"/v1/{model}", [picture], params=params,
                           usage=Usage(details=details) if details else None, request_id=task_id or None,
                           latency_ms=(time.perf_counter() - started) * 1000, notes=fixes)

    # ---------------------------------------------------------------- wire helpers
    def _may_poll(self, cfg, url: str) -> bool:
        """The key goes only to the API itself: the base URL's own origin or one of BFL's API hosts."""
        parsed, base = urlparse(url), urlparse(cfg.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            return False
        if (parsed.scheme, parsed.hostname, parsed.port) == (base.scheme, base.hostname, base.port):
            return True
        hosts = {h for m in catalog.engine_models(self.id) for h in m.options.get("polling_hosts", ())}
        return parsed.scheme == "https" and any(_host_matches(parsed.hostname, h) for h in hosts)

    def _request(self, cfg, method: str, url: str, deadline: float, limit_s: float, **kwargs) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProviderDown(f"FLUX did not answer within {limit_s:g} s. Try again or allow more time.",
                               provider=self.id, code="timeout")
        try:  # no redirects: requests would carry x-key (it strips only Authorization) wherever one points
            resp = _session(cfg).request(method, url, headers={"x-key": cfg.key or ""}, allow_redirects=False,
                                         timeout=(min(limits.CONNECT_TIMEOUT_S, remaining), remaining), **kwargs)
        except requests.exceptions.Timeout:
            raise ProviderDown(f"FLUX did not answer within {limit_s:g} s ({method} {urlparse(url).path}). Try again "
                               "or allow more time.", provider=self.id, code="timeout") from None
        except requests.RequestException as exc:
            raise ProviderDown(f"Could not reach FLUX at {urlparse(url).hostname} ({type(exc).__name__}). Check "
                               "BFL_BASE_URL and the network, or use demo mode.", provider=self.id,
                               code="connection") from None
        try:
            reply = resp.json()
        except ValueError:
            reply = None
        if resp.status_code == 200 and isinstance(reply, dict):
            return reply
        raise self._error(cfg, resp.status_code, reply, resp.text)

    def _error(self, cfg, status: int, reply, text: str) -> StudioError:
        detail = reply.get("detail") if isinstance(reply, dict) else None
        said = redact(detail if isinstance(detail, str) else str(detail or text)[:300], [cfg.key] if cfg.key else [])
        common = {"provider": self.id, "http_status": status, "detail": said}
        if status == 407:
            return proxy_refused(self.id, "BFL")
        if status in (401, 403):
            return AuthError("BFL did not accept the API key (HTTP 403). Check BFL_API_KEY or the key in the sidebar "
                             "(from dashboard.bfl.ai).", **common)
        if status == 402:
            return QuotaExceeded("The BFL account is out of credits (HTTP 402). Add credits at dashboard.bfl.ai.",
                                 code="insufficient_credits", **common)
        if status == 429:
            return QuotaExceeded("FLUX is already running as many tasks as this account may (HTTP 429, 24 at once). "
                                 "Wait for some to finish and try again.", code="too_many_tasks", **common)
        if status == 404:
            return NotAvailable("FLUX has no such model or task (HTTP 404). Pick another model.", param="model",
                                **common)
        if status == 422 and isinstance(detail, list) and detail:
            first = detail[0] if isinstance(detail[0], dict) else {}
            field = (first.get("loc") or ["", ""])[-1]
            return InvalidInput(f"FLUX rejected {field or 'the request'}: {redact(str(first.get('msg', '')), [cfg.key] if cfg.key else [])}",
                                param=str(field) or None, code="invalid_request", **common)
        if status >= 500:
            return ProviderDown(f"FLUX is failing (HTTP {status}). Try again in a minute.", **common)
        if status == 200:
            return ProviderDown(f"FLUX's reply could not be read: the server at {cfg.base_url} is failing or is not "
                                "BFL's. Try again.", code="unreadable", **common)
        return StudioError(f"FLUX refused the request (HTTP {status}): {said}", **common)

    def _poll(self, cfg, url: str, deadline: float, limit_s: float, on_progress: OnProgress | None) -> dict:
        begun = time.monotonic()
        while True:
            reply = self._request(cfg, "GET", url, deadline, limit_s)
            status = reply.get("status")
            if status == "Ready":
                return reply
            if status in PENDING:
                if on_progress is not None:
                    fraction = reply.get("progress")
                    on_progress(Progress(fraction=float(fraction) if isinstance(fraction, (int, float)) else None,
                                         text=f"FLUX: {status.lower()}"))
                pause = FAST_POLL_S if time.monotonic() - begun < FAST_FOR_S else SLOW_POLL_S
                if time.monotonic() + pause >= deadline:
                    raise ProviderDown(f"FLUX did not answer within {limit_s:g} s: it was still drawing. Try again "
                                       "or allow more time.", provider=self.id, code="timeout")
                time.sleep(pause)
                continue
            details = reply.get("details") if isinstance(reply.get("details"), dict) else {}
            reasons = ", ".join(map(str, details.get("Moderation Reasons") or [])) or None
            if status == "Request Moderated":
                raise ContentRejected("BFL's moderation refused the prompt or an input picture"
                                      + (f" ({reasons})" if reasons else "") + ". Change them and try again.",
                                      provider=self.id, code="request_moderated")
            if status == "Content Moderated":
                raise ContentRejected("FLUX drew the picture but BFL's moderation withheld it"
                                      + (f" ({reasons})" if reasons else "")
                                      + ". Change the prompt; a higher safety tolerance may let it through.",
                                      provider=self.id, code="content_moderated")
            if status == "Task not found":
                raise ProviderDown("FLUX no longer knows this task (it expired or lives on another cluster). Try "
                                   "again.", provider=self.id, code="task_not_found")
            raise ProviderDown(f"FLUX could not make the picture (status {str(status)[:40]!r}). Try again.",
                               provider=self.id, code="generation_error")

    def _download(self, cfg, spec, url: str, deadline: float) -> bytes:
        hosts = spec.delivery_hosts if spec is not None else ()
        try:
            return fetch.fetch_image(url, base_url=cfg.base_url, delivery_hosts=hosts, provider=self.id,
                                     deadline_s=max(1.0, min(limits.DOWNLOAD_TIMEOUT_S, deadline - time.monotonic())),
                                     headers=dict(cfg.extra_headers) or None)
        except ProviderDown as err:
            if err.http_status in (403, 404, 410):
                raise ProviderDown(f"FLUX's link to the picture had expired or vanished before it was downloaded "
                                   f"(HTTP {err.http_status}). Its links last ten minutes: try again.",
                                   provider=self.id, http_status=err.http_status, code="expired_url") from None
            raise


def _picture(data: bytes) -> GeneratedImage:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            return GeneratedImage(data=data, mime=Image.MIME.get(img.format or "", "image/jpeg"), width=img.width,
                                  height=img.height)
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ProviderDown("FLUX's picture could not be read (it is not an image, or it was cut short). Try again.",
                           provider="flux", code="bad_image") from None


ENGINE = Flux()
