"""The one error type a provider call raises, with a message written for a person.

Shaped after openai-python's tree: a base class carrying the HTTP status, the
provider's error code and the parameter at fault, and a few subclasses that
pages and retries can tell apart.  ``str(err)`` is always safe to show: it never
contains a key (see ``redact``).
"""
from __future__ import annotations

import base64
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


def remember_storage_secret(secret: str | None) -> None:
    """A database password or bucket secret, redacted like a key when it is at least ``FRAGMENT_CHARS`` long.
    A shorter one (a test server's ``test``) is left alone: cutting every "test" from every message would mangle
    more than it hides, and a real bucket secret (40 characters) or database password is long."""
    if secret and len(secret.strip()) >= FRAGMENT_CHARS:
        remember_secret(secret)


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


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower(text: str) -> str:
    """``text`` in lower case, one character for one: a span found in it is the same span of ``text``
    (``"İ".lower()`` is two characters, which would shift every cut after it)."""
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


# A provider may echo a key percent-encoded (a URL or query string), JSON- or HTML-escaped, or in base64 (an echoed
# "Authorization: Basic base64(user:key)", a token built from it, that token in base64 again) or in hex. Escapes are decoded into a view of the text
# whose characters remember where they came from; base64 and hex need no decoding: every key's base64 forms (standard
# and URL-safe, at each of the 3 byte alignments), their own base64 forms and its hex are searched like the key
# itself, and a hit cuts its whole run.
# (escaped twice, as a URL inside a query string or JSON inside JSON is, counts as one: %2573, \\u0073)
_ESCAPE = re.compile(r"%(?:25)*[0-9A-Fa-f]{2}|\\+u[0-9A-Fa-f]{4}|\\+x[0-9A-Fa-f]{2}|\\+/|&#[0-9]{1,7};"
                     r"|&#[xX][0-9A-Fa-f]{1,6};")
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
_TO_URLSAFE = str.maketrans("+/", "-_")


def _base64_forms(secret: str) -> set[str]:
    """The base64 characters that ``secret``'s bytes alone decide, wherever it sits in a base64 stream: one
    stretch per alignment (0, 1 or 2 bytes before it in its 3-byte group), standard and URL-safe."""
    raw, forms = secret.encode("utf-8"), set()
    for before in range(3):
        encoded = base64.b64encode(bytes(before) + raw).decode("ascii")
        first, last = -(-before // 3), (before + len(raw)) // 3  # the 3-byte groups wholly inside the secret
        stable = encoded[4 * first:4 * last]
        if len(stable) >= FRAGMENT_CHARS:  # 8 bytes of a key always give 2 whole groups, 8 such characters
            forms |= {stable, stable.translate(_TO_URLSAFE)}
    return forms


def _encoded_forms(secret: str) -> set[str]:
    """Every form of ``secret`` searched like the key itself: its base64 forms, their base64 forms (a token inside a
    token: ``Bearer base64(Basic base64(user:key))``) and its hex (lower case; the search ignores case)."""
    once = _base64_forms(secret)
    return {*once, *(twice for form in once for twice in _base64_forms(form)), secret.encode("utf-8").hex()}


_WINDOWS = re.compile("(?s).{%d}" % (FRAGMENT_CHARS // 2))  # the text cut into windows at 0, 4, 8, ...


class _Finder:
    """What finding pieces of the keys needs, built once per set of keys: every ``FRAGMENT_CHARS``-gram of them and
    of their base64 forms (lower case), and every half-gram, so a text is looked up at every 4th position only."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        half = FRAGMENT_CHARS // 2
        self.plain = tuple(sorted({_lower(s) for s in secrets if len(s) >= FRAGMENT_CHARS}))
        self.shorts = tuple(sorted({_lower(s) for s in secrets if len(s) < FRAGMENT_CHARS}))  # matched whole
        self.longs = tuple(sorted({*self.plain, *(_lower(f) for s in secrets for f in _encoded_forms(s))}))
        self.grams = frozenset(s[i:i + FRAGMENT_CHARS] for s in self.longs for i in range(len(s) - FRAGMENT_CHARS + 1))
        self.halves = frozenset(s[i:i + half] for s in self.longs for i in range(len(s) - half + 1))  # = the grams' halves
        self.spaced = any(" " in s for s in secrets)  # then "+" may stand for a space (form encoding)

    def spans(self, low: str) -> list[tuple[int, int]]:
        """The (start, end) of every run in ``low`` (lower case: any case matches) whose every ``FRAGMENT_CHARS``
        characters are a piece of a key or of its base64 forms, not overlapping, a base64 one widened to its whole run; and of
        every short key.

        Any 8-character piece at p covers a 4-character window at a multiple of 4 (p..p+3 holds one), so only those
        windows are looked up; a window that is part of a piece is then checked at the 4 starts around it.
        """
        n, half, grams, spans, covered = FRAGMENT_CHARS, FRAGMENT_CHARS // 2, self.grams, [], 0
        halves, size = self.halves, len(low)
        windows = _WINDOWS.findall(low)
        hits = () if halves.isdisjoint(windows) else [i * half for i, w in enumerate(windows) if w in halves]
        for q in hits:  # usually none: isdisjoint runs in C
            for p in range(max(q - half + 1, covered), q + 1):
                if low[p:p + n] not in grams:
                    continue
                end = p + n
                while end < size and low[end + 1 - n:end + 1] in grams:  # as far as every window is a piece
                    end += 1
                if not any(low[p:p + n] in s for s in self.plain):  # a base64 form: the whole run goes
                    while p > 0 and low[p - 1] in _BASE64_CHARS:
                        p -= 1
                    while end < size and (low[end] in _BASE64_CHARS or low[end] == "="):
                        end += 1
                spans.append((p, end))
                covered = end
                break
        for short in self.shorts:
            at = low.find(short)
            while at >= 0:
                spans.append((at, at + len(short)))
                at = low.find(short, at + len(short))
        return spans


@lru_cache(maxsize=8)
def _finder(secrets: tuple[str, ...]) -> _Finder:
    return _Finder(secrets)


def _cut(text: str, spans, origin: list[int] | None = None) -> str:
    """``text`` with every span replaced by ``[redacted]`` (touching spans by one). With ``origin``, spans are in
    an unescaped view's coordinates: its character i came from ``text[origin[i]:origin[i + 1]]``."""
    if origin is not None:
        spans = [(origin[a], origin[b]) for a, b in spans]
    pieces, start = [], 0
    for a, b in sorted(spans):
        if b <= start:
            continue
        if a > start or not pieces:
            pieces += [text[start:a], REDACTED]
        start = b
    return "".join(pieces) + text[start:]


def _unescape(unit: str) -> str:
    r"""One escaped character (``%73``, ``%2573``, ``\u0073``, ``\\u0073``, ``\x73``, ``\/``, ``&#115;``,
    ``&#x73;``) as itself."""
    if unit[0] == "%":
        return chr(int(unit[-2:], 16))
    if unit[0] == "\\":
        unit = unit.lstrip("\\")
        return "/" if unit == "/" else chr(int(unit[1:], 16))
    number = unit[2:-1]
    code = int(number[1:], 16) if number[:1] in "xX" else int(number)
    return chr(code) if code <= 0x10FFFF else "\ufffd"


def _origin(text: str) -> list[int]:
    """For the unescaped view of ``text``: where each of its characters starts in ``text`` (and the end)."""
    origin, pos = [], 0
    for m in _ESCAPE.finditer(text):
        origin += range(pos, m.start())
        origin.append(m.start())
        pos = m.end()
    origin += range(pos, len(text) + 1)
    return origin


def redact_known(text: str | None, secrets: tuple[str, ...] | list[str] = ()) -> str | None:
    """Cut the known keys (``secrets`` and every remembered one) out of ``text``, whole or in pieces of
    ``FRAGMENT_CHARS`` or more, in any case, as written or percent-encoded, JSON/HTML-escaped, in base64 (once or
    twice) or hex; unlike ``redact`` it leaves words that merely look like keys alone (for prompts)."""
    if text is None:
        return None
    text = str(text)
    known = _all_secrets(secrets)
    if not known or len(text) < 4:
        return text
    finder = _finder(tuple(sorted(known)))  # one order for one set of keys: one cached finder
    spans = finder.spans(_lower(text))
    if spans:
        text = _cut(text, spans)
    if _ESCAPE.search(text) is None:
        return text  # the usual case
    view = _ESCAPE.sub(lambda m: _unescape(m.group()), text)
    low = _lower(view)
    spans = finder.spans(low)
    if finder.spaced and "+" in low:
        spans += finder.spans(low.replace("+", " "))  # same length: the same coordinates
    return _cut(text, spans, _origin(text)) if spans else text


def redact(text: str | None, secrets: tuple[str, ...] | list[str] = ()) -> str | None:
    """Remove API keys from ``text``: the known ones whole or in part, and anything shaped like one."""
    if text is None:
        return None
    text = redact_known(text, secrets)
    low = text.lower()
    if "sk-" in text:
        text = _SECRET_PATTERNS[0].sub(REDACTED, text)
    if "bearer" in low or "kakaoak" in low:
        text = _SECRET_PATTERNS[1].sub(lambda m: m.group(1) + " " + REDACTED, text)
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


def proxy_refused(provider: str, name: str) -> ProviderDown:
    """A 407 from the proxy the environment sets (every engine honours HTTPS_PROXY / HTTP_PROXY / ALL_PROXY)."""
    return ProviderDown(f"The proxy set in HTTPS_PROXY / HTTP_PROXY refused to pass the call on to {name} (HTTP 407: "
                        "proxy sign-in needed), so nothing reached it. Check the user and password in the proxy's URL "
                        "(http://user:password@host:port).", provider=provider, http_status=407, code="proxy_auth")
