"""The one error type a provider call raises, with a message written for a person.

Shaped after openai-python's tree: a base class carrying the HTTP status, the
provider's error code and the parameter at fault, and a few subclasses that
pages and retries can tell apart.  ``str(err)`` is always safe to show: it never
contains a key (see ``redact``).
"""
from __future__ import annotations

import re

# Anything that looks like a secret is cut out of every message we show or store.
_SECRET_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)(KakaoAK|Bearer)\s+\S+"),
]


def redact(text: str | None, secrets: tuple[str, ...] | list[str] = ()) -> str | None:
    """Remove API keys from ``text``: the known ones exactly, and anything shaped like one."""
    if text is None:
        return None
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) + " [redacted]") if m.lastindex else "[redacted]", text)
    return text


class StudioError(Exception):
    """A provider call that did not give a usable result.

    ``message`` tells a person what happened and what to do; ``detail`` keeps the
    provider's own words (redacted) for the ledger.
    """

    status_label = "error"  # the ledger status this error records

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        http_status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        detail: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.http_status = http_status
        self.code = code
        self.param = param
        self.detail = detail
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class InvalidInput(StudioError):
    """Our own validation refused the request before anything was sent."""

    status_label = "rejected"


class AuthError(StudioError):
    """The key is missing, wrong or not allowed to do this."""


class NotAvailable(StudioError):
    """The model or the whole API is gone (retired model, terminated API)."""


class ContentRejected(StudioError):
    """The provider's safety system refused the prompt or the result."""

    status_label = "rejected"


class QuotaExceeded(StudioError):
    """Rate limit or quota: try later or slow down."""


class ProviderDown(StudioError):
    """A server error, a timeout, a dropped connection or a reply we cannot read."""


class Cancelled(StudioError):
    """The person stopped the call."""

    status_label = "cancelled"
