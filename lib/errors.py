"""The one error type a provider call raises, with a message written for a person.

Shaped after openai-python's tree: a base class carrying the HTTP status, the
provider's error code and the parameter at fault, and a few subclasses that
pages and retries can tell apart.  ``str(err)`` is always safe to show: it never
contains a key (see ``redact``).
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache

# Anything that looks like a secret is cut out of every message we show or store.
_SECRET_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)(KakaoAK|Bearer)\s+\S+"),
]
# A provider may echo a key whole or in part (Kakao keys have no prefix to match): any run of at least this
# many characters of a known key is cut, wherever it appears.
FRAGMENT_CHARS = 8
# Request ids are shown and stored; only ids of this plain shape are kept (anything else may smuggle text).
_PLAIN_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
REDACTED = "[redacted]"

# Every live key this process has been configured with (lib.config.ProviderConfig registers its own), so an
# error built anywhere is redacted without being handed the keys. In memory only; the oldest are let go.
_known: dict[str, None] = {}
_known_lock = threading.Lock()
_KNOWN_MAX = 256


def remember_secret(secret: str | None) -> None:
    """Add a key to the ones every ``redact`` cuts out."""
    secret = (secret or "").strip()
    if len(secret) < 4:
        return
    with _known_lock:
        _known.pop(secret, None)
        _known[secret] = None
        while len(_known) > _KNOWN_MAX:
            _known.pop(next(iter(_known)))


def _all_secrets(secrets) -> list[str]:
    with _known_lock:
        known = list(_known)
    found = {s.strip() for s in [*(secrets or ()), *known] if s and len(s.strip()) >= 4}
    return sorted(found, key=len, reverse=True)


@lru_cache(maxsize=64)
def _fragment_finder(longs: tuple[str, ...]) -> tuple[frozenset[str], re.Pattern]:
    """Every ``FRAGMENT_CHARS``-gram of the keys, and one pattern that finds any of them (a scan in C)."""
    grams = frozenset(s[i:i + FRAGMENT_CHARS] for s in longs for i in range(len(s) - FRAGMENT_CHARS + 1))
    return grams, re.compile("|".join(re.escape(g) for g in sorted(grams)))


def _cut_fragments(text: str, secrets: list[str]) -> str:
    """``text`` with every run of ``FRAGMENT_CHARS``+ characters of a secret (any case) replaced by ``[redacted]``."""
    longs = tuple(sorted({s.lower() for s in secrets if len(s) >= FRAGMENT_CHARS}))
    if not longs or len(text) < FRAGMENT_CHARS:
        return text
    grams, finder = _fragment_finder(longs)
    low = text.lower()
    if finder.search(low) is None:  # the usual case: no piece of any key anywhere
        return text
    pieces, start, i = [], 0, 0
    while i <= len(low) - FRAGMENT_CHARS:
        if low[i:i + FRAGMENT_CHARS] not in grams:
            i += 1
            continue
        end = i + FRAGMENT_CHARS
        while end < len(low) and any(low[i:end + 1] in s for s in longs):
            end += 1
        pieces += [text[start:i], REDACTED]
        start = i = end
    return "".join(pieces) + text[start:]


def redact_known(text: str | None, secrets: tuple[str, ...] | list[str] = ()) -> str | None:
    """Cut the known keys (``secrets`` and every remembered one) out of ``text``, whole or in pieces of
    ``FRAGMENT_CHARS`` or more; unlike ``redact`` it leaves words that merely look like keys alone (for prompts)."""
    if text is None:
        return None
    text = str(text)
    known = _all_secrets(secrets)
    for secret in known:
        text = text.replace(secret, REDACTED)
    return _cut_fragments(text, known)


def redact(text: str | None, secrets: tuple[str, ...] | list[str] = ()) -> str | None:
    """Remove API keys from ``text``: the known ones whole or in part, and anything shaped like one."""
    if text is None:
        return None
    text = redact_known(text, secrets)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) + " " + REDACTED) if m.lastindex else REDACTED, text)
    return text


def plain_request_id(value, secrets: tuple[str, ...] | list[str] = ()) -> str | None:
    """A provider's request id if it is of a plain shape and holds no key; otherwise ``None`` (not kept)."""
    if value is None:
        return None
    value = str(value).strip()
    if not _PLAIN_REQUEST_ID.fullmatch(value) or redact(value, secrets) != value:
        return None
    return value


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
        self.message = message  # the properties below redact every remembered key
        self.provider = provider
        self.http_status = http_status
        self.code = code
        self.param = param
        self.detail = detail
        self.request_id = request_id
        self.retry_after = retry_after

    # Provider text reaches these (an echoed key, a hostile request id): whatever is assigned, at any time,
    # is redacted, so an error can be shown, logged and stored as it stands.
    @property
    def message(self) -> str:
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        self._message = redact(value) or ""
        self.args = (self._message,)

    @property
    def detail(self) -> str | None:
        return self._detail

    @detail.setter
    def detail(self, value: str | None) -> None:
        self._detail = redact(value)

    @property
    def code(self) -> str | None:
        return self._code

    @code.setter
    def code(self, value: str | None) -> None:
        self._code = redact(value) if isinstance(value, str) else value

    @property
    def param(self) -> str | None:
        return self._param

    @param.setter
    def param(self, value: str | None) -> None:
        self._param = redact(value) if isinstance(value, str) else value

    @property
    def request_id(self) -> str | None:
        return self._request_id

    @request_id.setter
    def request_id(self, value: str | None) -> None:
        self._request_id = plain_request_id(value)

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
