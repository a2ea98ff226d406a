"""OpenAI images: generate, edit (with a mask) and make variations, returning downloaded pictures and their usage.

Every request is checked against the catalog before it is sent, so a person
hears "use 992 or 1008" rather than a 400 from the server. GPT image models
always answer in base64; the legacy DALL-E contract is asked for base64 too
(``response_format=b64_json``), and a URL answered anyway (they expire) is
downloaded at once. With ``partial_images`` the call
streams and hands each preview to ``on_partial`` as it arrives.
"""
from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from typing import Any

import openai

from lib import catalog, imaging, limits
from lib.client_cache import ClientCache
from lib.config import ProviderConfig
from lib.errors import ContentRejected, InvalidInput, NotAvailable, ProviderDown, StudioError
from lib.fetch import fetch_image
from lib.prompts import clean_prompt
from lib.providers.openai_common import make_client, translate_error
from lib.retrying import call_with_deadline
from lib.types import GeneratedImage, ImageResult, Usage

GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
VARIATIONS = "/v1/images/variations"
DEFAULT_VARIATION_PROMPT = (
    "Create a variation of this image: keep its subject, composition, palette and style, and change the details."
)

_MIME_BY_PIL_FORMAT = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
_MIME_BY_OUTPUT_FORMAT = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
_FILE_MIME = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
_EXT_BY_MIME = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}

OnPartial = Callable[[int, bytes], None]


# ------------------------------------------------------------------ client

# The oldest client is let go: a process serving many keys does not keep them all; a sidebar key's client goes
# with its browser session (lib.client_cache).
_clients = ClientCache("openai_images", 16)


def _client(cfg: ProviderConfig) -> openai.OpenAI:
    """One SDK client per (base URL, key's hash, extra headers), reused so connections are pooled.

    The SDK itself never retries: ``lib.retrying`` decides, within the call's deadline."""
    cache_key = (cfg.base_url, cfg.key_id, tuple(sorted(cfg.extra_headers.items())))
    return _clients.get(cfg, cache_key, lambda: make_client(cfg, max_retries=0))


# ------------------------------------------------------------------ public calls

def generate(
    cfg: ProviderConfig,
    *,
    model: str,
    prompt: str,
    size: str | None = "auto",
    quality: str | None = "auto",
    background: str | None = None,
    output_format: str | None = None,
    output_compression: int | None = None,
    n: int = 1,
    moderation: str | None = None,
    partial_images: int = 0,
    on_partial: OnPartial | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
) -> ImageResult:
    """Images from a prompt through ``POST /v1/images/generations``.

    ``timeout`` is the whole call's time limit, retries included (``None``:
    ``STUDIO_TIMEOUT_S``). ``max_retries`` is how often a call is sent again
    when that is safe (see ``lib.retrying``; ``None``: ``limits.MAX_RETRIES``);
    a caller that gives up on its own clock (Compare) passes 0 so a call it
    abandoned is not sent, and billed, again behind its back.
    """
    prompt, prompt_fixes = clean_prompt(prompt)
    spec = _usable_model(cfg, model)
    size, quality = _legacy_defaults(spec, size, quality)
    _refuse_problems(spec, prompt=prompt, size=size, n=n, quality=quality, output_format=output_format,
                     background=background, output_compression=output_compression, moderation=moderation,
                     partial_images=partial_images)
    params = _params(spec, model=model, n=n, size=size, quality=quality, background=background,
                     output_format=output_format, output_compression=output_compression, moderation=moderation,
                     partial_images=partial_images)
    return _noted(prompt_fixes, _call(cfg, GENERATIONS, model, params, {"prompt": prompt}, output_format, on_partial,
                                      timeout, lambda client, **kw: client.images.generate(**kw),
                                      max_retries=max_retries))


def edit(
    cfg: ProviderConfig,
    *,
    model: str,
    prompt: str,
    images: list[tuple[str, bytes]],
    mask: bytes | None = None,
    size: str | None = "auto",
    quality: str | None = "auto",
    background: str | None = None,
    output_format: str | None = None,
    output_compression: int | None = None,
    n: int = 1,
    input_fidelity: str | None = None,
    partial_images: int = 0,
    on_partial: OnPartial | None = None,
    timeout: float | None = None,
) -> ImageResult:
    """Images changed by a prompt (inside the mask's transparent area, if any) through ``POST /v1/images/edits``.

    ``images`` are ``(filename, bytes)``; the mask applies to the first one.
    """
    prompt, prompt_fixes = clean_prompt(prompt)
    spec = _usable_model(cfg, model)
    size, quality = _legacy_defaults(spec, size, quality)
    if spec is not None:
        _refuse_edit_inputs(spec, images, mask, input_fidelity)
    _refuse_problems(spec, prompt=prompt, size=size, n=n, quality=quality, output_format=output_format,
                     background=background, output_compression=output_compression, partial_images=partial_images)
    params = _params(spec, model=model, n=n, size=size, quality=quality, background=background,
                     output_format=output_format, output_compression=output_compression,
                     input_fidelity=input_fidelity, partial_images=partial_images)
    parts = _file_parts(images)
    # One image goes as `image`, several as `image[]`: the SDK picks the field name from the type.
    files: dict[str, Any] = {"prompt": prompt, "image": parts[0] if len(parts) == 1 else parts}
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    return _noted(prompt_fixes, _call(cfg, EDITS, model, params, files, output_format, on_partial, timeout,
                                      lambda client, **kw: client.images.edit(**kw)))


def variation(
    cfg: ProviderConfig,
    *,
    model: str,
    image: tuple[str, bytes],
    n: int = 1,
    size: str | None = None,
    prompt: str = DEFAULT_VARIATION_PROMPT,
    timeout: float | None = None,
) -> ImageResult:
    """Variations of one image: GPT image models edit it with ``prompt``; dall-e-2 uses the legacy endpoint.

    The legacy ``/v1/images/variations`` is retired on api.openai.com, so there it
    is refused before sending; an OpenAI-compatible server may still offer it.
    """
    spec = catalog.image_model(model)
    if spec is None or not spec.can("variation_endpoint"):
        return edit(cfg, model=model, prompt=prompt, images=[image], n=n, size=size or "auto", timeout=timeout)
    if cfg.is_official_openai:
        raise InvalidInput(
            f"{model} variations used /v1/images/variations, which api.openai.com no longer serves. "
            f"Pick a GPT image model (e.g. {spec.replacement or 'gpt-image-2'}): it makes variations through edits.",
            provider="openai", param="model", code="endpoint_retired",
        )
    _refuse_edit_inputs(spec, [image], None, None)
    size = size or "1024x1024"
    _refuse_problems(spec, prompt=None, size=size, n=n, needs_prompt=False)
    params = {"model": model, "n": n, "size": size}
    return _call(cfg, VARIATIONS, model, params, {"image": _file_parts([image])[0]}, None, None, timeout,
                 lambda client, **kw: client.images.create_variation(**kw))


def _noted(fixes: list[str], result: ImageResult) -> ImageResult:
    """The result, carrying the fixes made to its prompt so the card and the ledger show them."""
    result.notes[:0] = fixes
    return result


# ------------------------------------------------------------------ checks before sending

def _usable_model(cfg: ProviderConfig, model: str) -> catalog.ImageModel | None:
    """The catalog row, refusing a model retired on api.openai.com; ``None`` for a model we do not know."""
    if not cfg.usable:
        raise InvalidInput(cfg.problem or "OpenAI is not configured.", provider="openai")
    spec = catalog.image_model(model)
    if spec is not None and cfg.is_official_openai and spec.is_retired():
        raise NotAvailable(
            f"{model} was retired on {spec.retires.isoformat()}; api.openai.com no longer serves it. "
            f"Use {spec.replacement or 'a current GPT image model'} instead.",
            provider="openai", param="model", code="model_retired",
        )
    return spec


def _legacy_defaults(spec: catalog.ImageModel | None, size: str | None, quality: str | None) -> tuple[str | None, str | None]:
    """DALL-E has no "auto": leave those out so the server's own default applies."""
    if spec is not None and spec.legacy:
        size = None if size == "auto" else size
        quality = None if quality == "auto" else quality
    return size, quality


def _refuse_problems(spec: catalog.ImageModel | None, *, prompt: str | None, needs_prompt: bool = True, **request) -> None:
    if spec is None:  # a model the catalog does not know: the server judges it
        if needs_prompt and not (prompt or "").strip():
            raise InvalidInput("Write a prompt first: describe the picture you want.", provider="openai", param="prompt")
        return
    problems = catalog.check_request(spec, prompt, needs_prompt=needs_prompt, **request)
    if problems:
        raise InvalidInput(" ".join(message for _p, message in problems), provider="openai", param=problems[0][0],
                           code="invalid_request")


def _refuse_edit_inputs(spec: catalog.ImageModel, images: list[tuple[str, bytes]], mask: bytes | None,
                        input_fidelity: str | None) -> None:
    def refuse(message: str, param: str) -> None:
        raise InvalidInput(message, provider="openai", param=param, code="invalid_request")

    if not spec.can("edit") and not spec.can("variation_endpoint"):
        refuse(f"{spec.id} cannot edit images; pick a model such as gpt-image-2.", "model")
    if not images:
        refuse("Add an image to edit.", "image")
    limit = spec.max_input_images if spec.can("multi_image_edit") else 1
    if len(images) > limit:
        refuse(f"{spec.id} takes at most {limit} image{'s' if limit > 1 else ''}; remove {len(images) - limit}.", "image")
    for name, data in images:
        if len(data) > spec.max_input_bytes:
            refuse(f"{name} is {len(data) / 2**20:.1f} MB; {spec.id} takes images under "
                   f"{spec.max_input_bytes / 2**20:.0f} MB. Make it smaller.", "image")
        try:
            header = imaging.check_picture(data, label=name or "The image")
        except imaging.BrokenPicture as err:
            refuse(f"{name} is not an image this app can read; upload a PNG." if err.code == "unreadable_image"
                   else err.message, "image")
        if header.format.lower().replace("mpo", "jpeg") not in spec.input_formats:
            refuse(f"{spec.id} takes {' or '.join(f.upper() for f in spec.input_formats)} images and {name} is "
                   f"{header.format}; convert it first.", "image")
        if spec.square_input:
            width, height = header.width, header.height
            if width != height:
                refuse(f"{spec.id} takes only square images and {name} is {width}x{height}; crop or pad it to a square.",
                       "image")
    if mask is not None:
        if not spec.can("mask"):
            refuse(f"{spec.id} does not take a mask; remove it or pick a model such as gpt-image-2.", "mask")
        if len(mask) > 4 * 2**20:
            refuse(f"The mask is {len(mask) / 2**20:.1f} MB; masks must be PNGs under 4 MB.", "mask")
    if input_fidelity and input_fidelity not in spec.input_fidelity:
        offered = f"choose {', '.join(spec.input_fidelity)}" if spec.input_fidelity else "leave it unset"
        refuse(f"{spec.id} does not take input fidelity {input_fidelity!r}; {offered}.", "input_fidelity")


def _params(spec: catalog.ImageModel | None, **given) -> dict[str, Any]:
    """What goes on the wire besides prompt and files: unset values are left out (the server's defaults apply)."""
    params = {k: v for k, v in given.items() if v is not None}
    if not params.get("partial_images"):
        params.pop("partial_images", None)
    if spec is not None and spec.legacy:
        # The DALL-E contract has none of the GPT image parameters; it answers with URLs by default.
        for name in ("background", "output_format", "output_compression", "moderation", "input_fidelity", "partial_images"):
            params.pop(name, None)
    return params


def _file_parts(images: list[tuple[str, bytes]]) -> list[tuple[str, bytes, str]]:
    """``(name, bytes, mime)`` tuples: the SDK can replay them on a retry, and the server sees the real type.

    The type comes from the bytes (a normalised photo is a JPEG whatever the page
    called it), and the name's extension is made to match.
    """
    parts = []
    for name, data in images:
        stem, _dot, ext = (name or "image.png").rpartition(".")
        mime = _MIME_BY_PIL_FORMAT.get(imaging.sniff_format(data) or "") or _FILE_MIME.get(ext.lower(), "image/png")
        parts.append((f"{stem or ext}.{_EXT_BY_MIME[mime]}", data, mime))
    return parts


# ------------------------------------------------------------------ the call itself

def _call(
    cfg: ProviderConfig,
    endpoint: str,
    model: str,
    params: dict[str, Any],
    body_extra: dict[str, Any],
    output_format: str | None,
    on_partial: OnPartial | None,
    timeout: float,
    send: Callable[..., Any],
    *,
    max_retries: int | None = None,
) -> ImageResult:
    timeout = limits.provider_timeout_s() if timeout is None else timeout
    client = _client(cfg)
    streaming = bool(params.get("partial_images"))
    spec = catalog.image_model(model)
    if spec is not None and spec.legacy:
        # The DALL-E contract answers with a link unless asked: the picture inline saves a second request per result
        # (and the link's expiry); a server that answers with a link anyway is still followed (_image_from_item).
        body_extra = {**body_extra, "response_format": "b64_json"}
    started = time.perf_counter()

    def attempt(seconds_left: float):
        if streaming:
            return _read_stream(send(client, **params, **body_extra, stream=True, timeout=seconds_left),
                                on_partial, output_format, started)
        return send(client, **params, **body_extra, timeout=seconds_left)

    def explain(exc: Exception, limit: float) -> StudioError:  # everything the SDK or the network raises, in words
        return _explained(translate_error(exc, cfg, model=model, timeout=limit), model, exc)

    got = call_with_deadline(attempt, explain, timeout_s=timeout,
                             max_retries=limits.MAX_RETRIES if max_retries is None else max_retries)
    try:
        if streaming:
            images, usage, request_id, ttft_ms = got
        else:  # the call is made (and billed): what follows is never sent again
            request_id = getattr(got, "_request_id", None)
            ttft_ms = None
            images = [_image_from_item(item, output_format, cfg, timeout, model) for item in (got.data or [])]
            usage = _usage(getattr(got, "usage", None))
    except StudioError:
        raise
    except Exception as exc:
        raise explain(exc, timeout) from exc
    if not images:
        raise ProviderDown("OpenAI answered without any image. Try again.", provider="openai", code="no_images",
                           request_id=request_id)
    return ImageResult(
        provider="openai", model=model, endpoint=endpoint, images=images, params=params, usage=usage,
        request_id=request_id, latency_ms=(time.perf_counter() - started) * 1000, ttft_ms=ttft_ms,
    )


def _read_stream(stream, on_partial: OnPartial | None, output_format: str | None, started: float):
    """Partials go to ``on_partial`` as they come; completed images are returned with the usage they carry."""
    images: list[GeneratedImage] = []
    usage: Usage | None = None
    ttft_ms: float | None = None
    request_id = None
    try:
        response = getattr(stream, "response", None)
        request_id = response.headers.get("x-request-id") if response is not None else None
        for event in stream:
            kind = getattr(event, "type", "")
            if kind.endswith("partial_image"):
                if ttft_ms is None:
                    ttft_ms = (time.perf_counter() - started) * 1000
                if on_partial is not None:
                    on_partial(int(getattr(event, "partial_image_index", 0) or 0), _b64(event.b64_json))
            elif kind.endswith("completed"):
                images.append(_decoded(_b64(event.b64_json), event.output_format or output_format))
                # Each completed event repeats the whole call's usage (n images), so keep the last, never add.
                usage = _usage(getattr(event, "usage", None)) or usage
    except StudioError:
        raise
    except Exception as exc:
        dropped = not isinstance(exc, openai.APIError) or isinstance(exc, openai.APIConnectionError)
        if dropped and (ttft_ms is not None or images):  # the connection went away after the stream began
            raise ProviderDown(
                "The image stream from OpenAI broke before the final image arrived. Try again, "
                "or set partial images to 0.", provider="openai", code="stream_broken", request_id=request_id,
            ) from exc
        raise
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
    if not images:
        raise ProviderDown(
            "The image stream from OpenAI ended before the final image arrived. Try again, or set partial images to 0.",
            provider="openai", code="stream_broken", request_id=request_id,
        )
    return images, usage, request_id, ttft_ms


_STAGES = {"input": "checking your prompt and images", "output": "checking the finished image"}


def _explained(err: StudioError, model: str, exc: Exception) -> StudioError:
    """Add what only the images side knows: the replacement of a gone model, the moderation stage."""
    addition = None
    if isinstance(err, NotAvailable):
        better = catalog.replacement(model)
        if better and better not in err.message:
            addition = f"Try {better} instead."
    elif isinstance(err, ContentRejected):
        body = getattr(exc, "body", None)
        details = body.get("moderation_details") if isinstance(body, dict) else None
        stage = _STAGES.get((details or {}).get("moderation_stage"))
        if stage:
            addition = f"It stopped the call while {stage}."
    if addition:
        err.message = f"{err.message} {addition}"
        err.args = (err.message,)
    return err


def _b64(data: str | None) -> bytes:
    try:
        return base64.b64decode(data or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderDown("OpenAI sent an image this app could not decode. Try again.", provider="openai",
                           code="malformed_image") from exc


def _image_from_item(item, output_format: str | None, cfg: ProviderConfig, timeout: float,
                     model: str | None = None) -> GeneratedImage:
    if getattr(item, "b64_json", None):
        data = _b64(item.b64_json)
    elif getattr(item, "url", None):
        data = _download(item.url, cfg, timeout, model)
    else:
        raise ProviderDown("OpenAI answered with an empty image entry. Try again.", provider="openai", code="no_images")
    image = _decoded(data, output_format)
    image.revised_prompt = getattr(item, "revised_prompt", None)
    return image


def _download(url: str, cfg: ProviderConfig, timeout: float, model: str | None = None) -> bytes:
    """Fetch a result URL now (they expire after an hour), from the base URL's origin or the model's delivery
    hosts only, capped in bytes and time (lib.fetch). No API key goes with it."""
    spec = catalog.image_model(model) if model else None
    try:
        return fetch_image(url, base_url=cfg.base_url, delivery_hosts=spec.delivery_hosts if spec else (),
                           provider="openai", deadline_s=min(timeout, limits.DOWNLOAD_TIMEOUT_S), headers=cfg.extra_headers)
    except ProviderDown as exc:
        exc.message = f"The image was made but not downloaded: {exc.message} Result links expire after an hour."
        exc.args = (exc.message,)
        raise


def _decoded(data: bytes, output_format: str | None) -> GeneratedImage:
    """Size and type read from the bytes themselves (the header only), refusing a cut-off or oversized picture."""
    try:
        picture = imaging.check_picture(data, label="The picture OpenAI sent")
    except imaging.BrokenPicture as err:
        err.provider = "openai"
        raise
    mime = _MIME_BY_PIL_FORMAT.get(picture.format)
    return GeneratedImage(data=data, mime=mime or _MIME_BY_OUTPUT_FORMAT.get(output_format or "png", "image/png"),
                          width=picture.width, height=picture.height)


def _usage(raw) -> Usage | None:
    """Our ``Usage`` from the SDK's; ``details`` keeps the API's own nesting (input/output token details)."""
    if raw is None:
        return None
    dumped = raw.model_dump(exclude_none=True) if hasattr(raw, "model_dump") else dict(raw)
    details = {k: v for k, v in dumped.items() if k not in ("input_tokens", "output_tokens")}
    return Usage(input_tokens=dumped.get("input_tokens"), output_tokens=dumped.get("output_tokens"), details=details)
