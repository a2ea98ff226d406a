"""What the OpenAI image and chat modules share: building the SDK client and turning its errors into plain words."""
from __future__ import annotations

import json

import openai

from lib import limits
from lib.config import ProviderConfig
from lib.errors import (
    AuthError,
    ContentRejected,
    InvalidInput,
    NotAvailable,
    ProviderDown,
    QuotaExceeded,
    StudioError,
    proxy_refused,
    redact,
)


def make_client(cfg: ProviderConfig, *, timeout: float | None = None, max_retries: int = 0) -> openai.OpenAI:
    """An SDK client for this config: its own key, base URL and timeout (default ``STUDIO_TIMEOUT_S``).

    ``max_retries`` defaults to 0: the SDK would retry time-outs (billing twice, and waiting three times the
    limit); ``lib.retrying`` retries only what is safe, within the call's deadline.  An Azure deployment URL
    gets the SDK's ``AzureOpenAI`` client (its deployment path, api-version and ``api-key`` header)."""
    from lib.providers import azure

    options = dict(
        timeout=limits.provider_timeout_s() if timeout is None else timeout,
        max_retries=max_retries,
        default_headers=dict(cfg.extra_headers) or None,
        # A provider's redirect is not followed: it could send the call (and read back the answer) anywhere,
        # an internal service included. Shown as "answered 307" in words instead.
        http_client=openai.DefaultHttpxClient(follow_redirects=False),
    )
    deployment = azure.deployment(cfg.base_url)
    if deployment is not None:
        return azure.client(cfg, deployment, **options)
    return openai.OpenAI(api_key=cfg.key or "missing", base_url=cfg.base_url, **options)


def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


def _named(cfg: ProviderConfig) -> tuple[str, str, str]:
    """Who answered and which variables set its key and address, for messages (OpenAI, or a compatible server)."""
    from lib.providers import registry  # late: the engines import this module

    engine = registry.get(cfg.provider)
    if engine is None:
        return "OpenAI", "OPENAI_API_KEY", "OPENAI_BASE_URL"
    return engine.label, (engine.key_vars or ("OPENAI_API_KEY",))[0], engine.base_url_var or "OPENAI_BASE_URL"


def translate_error(exc: Exception, cfg: ProviderConfig, *, model: str | None = None, timeout: float | None = None) -> StudioError:
    """One of our errors, with a message a person can act on, for any exception the SDK raises."""
    secrets = [cfg.key] if cfg.key else []
    where = cfg.base_url
    name, key_var, base_var = _named(cfg)
    common = {"provider": "openai"}
    if isinstance(exc, openai.APITimeoutError):
        limit = f" within {timeout:g} s" if timeout else ""
        return ProviderDown(
            f"{name} did not answer{limit}. Try again, or ask for a smaller size, lower quality or fewer images.",
            code="timeout", **common,
        )
    if isinstance(exc, openai.APIConnectionError):
        # A connection that was never made (refused, no such host) sent nothing: safe to try again.
        never_sent = type(exc.__cause__).__name__ == "ConnectError"
        return ProviderDown(
            f"Could not reach {where}. Check {base_var} and that the server is running.",
            code="connection_refused" if never_sent else "connection_error", detail=redact(str(exc), secrets), **common,
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return ProviderDown(
            f"{name} sent a reply this app could not read. Try again; if it keeps happening the server at "
            f"{where} is not speaking the OpenAI protocol.",
            code="malformed_response", http_status=getattr(exc, "status_code", None), **common,
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 407:
            return proxy_refused("openai", f"the {name} server")
        body = exc.body if isinstance(exc.body, dict) else {}
        server_msg = redact(str(body.get("message") or exc.message), secrets)
        code = str(exc.code) if exc.code is not None else None
        param = exc.param if isinstance(exc.param, str) else None
        fields = dict(http_status=status, code=code, param=param, detail=server_msg,
                      request_id=exc.request_id, **common)
        if status == 401:
            return AuthError(
                f"{name} refused the API key (401). Check {key_var}, or paste a valid key in the sidebar.", **fields
            )
        if status == 403:
            return AuthError(
                f"This key may not use {model or 'this model'} (403). Check the project's model access or verify "
                "your organisation on platform.openai.com.", **fields
            )
        if status == 404 or code == "model_not_found":
            return NotAvailable(
                f"The model {model or ''} is not available at {where} (it may be retired). "
                "Pick a current model from the list.".replace("model  is", "model is"), **fields
            )
        if code in ("moderation_blocked", "content_policy_violation"):
            stage = ""
            details = body.get("moderation_details") or {}
            if details.get("categories"):
                stage = f" (flagged: {', '.join(map(str, details['categories']))})"
            return ContentRejected(
                f"{name}'s safety system rejected this request{stage}. Reword the prompt; your text is kept.", **fields
            )
        if status == 429:
            if code == "insufficient_quota":
                return QuotaExceeded(
                    f"This {name} account is out of credit. Add billing credit, or switch to demo mode.",
                    retry_after=_retry_after(exc), **fields,
                )
            wait = _retry_after(exc)
            when = f" in {wait:g} s" if wait else " in a moment"
            return QuotaExceeded(f"{name}'s rate limit was hit. Try again{when}.", retry_after=wait, **fields)
        if status >= 500:
            return ProviderDown(
                f"{name} had a server error ({status}). Nothing was charged for a failed call; try again shortly.", **fields
            )
        if status in (400, 422):
            named = f" the parameter `{param}`" if param else " the request"
            return InvalidInput(f"{name} rejected{named}: {server_msg}", **fields)
        return StudioError(f"{name} answered {status}: {server_msg}", **fields)
    if isinstance(exc, openai.APIError):  # e.g. an error event inside a stream
        return ProviderDown(
            f"The stream from {name} broke: {redact(str(exc.message), secrets)}", code=str(exc.code or "stream_error"), **common
        )
    if isinstance(exc, (json.JSONDecodeError, ValueError)):
        return ProviderDown(
            f"{name} sent a reply this app could not read. Try again.", code="malformed_response",
            detail=redact(str(exc), secrets), **common,
        )
    return ProviderDown(f"The call to OpenAI failed: {redact(str(exc), secrets)}", code=type(exc).__name__, **common)
