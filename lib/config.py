"""Where each provider's key and base URL come from, and whether it runs live, in demo or not at all.

Keys are looked up in this order: the sidebar (this browser session only), the
environment, then ``.streamlit/secrets.toml``.  A provider without a key is
served by the built-in emulator (demo mode) unless ``STUDIO_DEMO=0`` forbids
it; ``STUDIO_DEMO=1`` puts every provider in demo mode.  Nothing here writes a
key anywhere: ``ProviderConfig.key`` is excluded from ``repr`` so it cannot leak
into logs or error text by accident.
"""
from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse, urlsplit

from lib.errors import remember_secret

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
KARLO_DEFAULT_BASE_URL = "https://api.kakaobrain.com"
DEMO_KEY = "demo-key"


def _engines():
    """The registered engines: their key variables, base-URL variables and names (imported late: engines import us)."""
    from lib.providers import registry

    return registry.engines()


def key_variables() -> tuple[str, ...]:
    """Every variable that may hold an API key, in one list (the store scrubs their values from what it writes)."""
    return tuple(dict.fromkeys(var for e in _engines() for var in e.key_vars))


def provider_variables() -> tuple[str, ...]:
    """Every variable an engine reads (keys and base URLs): what a clean test environment removes."""
    return tuple(dict.fromkeys([*key_variables(), *(e.base_url_var for e in _engines() if e.base_url_var)]))


def __getattr__(name: str):
    # PROVIDERS and DISPLAY_NAMES follow the registry, so a new engine needs no edit here.
    if name == "PROVIDERS":
        return tuple(e.id for e in _engines())
    if name == "DISPLAY_NAMES":
        return {e.id: e.label for e in _engines()}
    raise AttributeError(name)


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one provider right now."""

    provider: str  # an engine id from lib.providers.registry: "openai", "karlo", ...
    mode: str  # "live" | "demo" | "misconfigured"
    base_url: str
    key: str | None = field(default=None, repr=False)
    key_source: str | None = None  # "sidebar" | "environment" | "secrets.toml" | "demo"
    problem: str | None = None  # why it is misconfigured, written for a person
    extra_headers: dict[str, str] = field(default_factory=dict)  # e.g. emulator fault injection
    # The browser session's lib.client_cache.KeyScope for a sidebar key: clients holding the key live there and
    # go with the session.
    key_scope: object | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.key and self.key_source != "demo":
            remember_secret(self.key)  # so every error and ledger text is redacted against it, wherever it is built

    @property
    def name(self) -> str:
        from lib.providers import registry

        return registry.label(self.provider)

    @property
    def key_id(self) -> str:
        """A SHA-256 of the key: what caches are keyed by, so no cache holds the key as its key."""
        return hashlib.sha256((self.key or "").encode()).hexdigest()

    @property
    def backend(self) -> str:
        """What the ledger records: ``live`` or ``demo``."""
        return "demo" if self.mode == "demo" else "live"

    @property
    def usable(self) -> bool:
        return self.mode != "misconfigured"

    @property
    def is_official_openai(self) -> bool:
        return self.provider == "openai" and urlparse(self.base_url).hostname == "api.openai.com"


# The proxy variables every HTTP library here reads (httpx2 in the openai SDK, httpx in google-genai, requests in
# Karlo and FLUX, lib.fetch): all of them send a user and password written into the URL as Proxy-Authorization.
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def proxy_credentials(proxy_url: str) -> tuple[str, str] | None:
    """The (user, password) written into a proxy URL (``http://user:pass@proxy:3128``, percent-decoded), or
    ``None``. The password, and ``user:password`` (what a Basic header encodes), are remembered as secrets: a
    message or a reply that echoes them is redacted like a key."""
    text = (proxy_url or "").strip()
    if "@" not in text:
        return None
    try:
        parts = urlsplit(text if "://" in text else f"http://{text}")
        user, password = parts.username, parts.password
    except ValueError:
        return None
    if password is None:
        return (unquote(user), "") if user else None
    user, password = unquote(user or ""), unquote(password)
    remember_secret(password)
    remember_secret(f"{user}:{password}")
    return user, password


def remember_proxy_credentials() -> None:
    """Remember the password of every proxy the environment sets (see ``proxy_credentials``)."""
    for var in PROXY_VARIABLES:
        proxy_credentials(os.environ.get(var, ""))


def proxy_problems() -> list[str]:
    """Sentences for proxy variables the app cannot fully use. Every engine and every picture download honours an
    http:// proxy (with a user and password in its URL); the SOCKS extras of httpx and requests are not installed,
    and ``lib.fetch`` speaks plain HTTP to its proxy, so an https:// proxy carries the API calls only."""
    problems = []
    for var in PROXY_VARIABLES[::2]:
        value = (os.environ.get(var) or os.environ.get(var.lower()) or "").strip()
        scheme = value.split("://", 1)[0].lower() if "://" in value else "http"
        if not value or scheme == "http":
            continue
        if scheme == "https":
            problems.append(f"{var} names an https:// proxy: API calls go through it, but picture downloads cannot "
                            f"(they speak plain HTTP to a proxy). Use the proxy's http:// address in {var}.")
        else:
            problems.append(f"{var} names a {scheme}:// proxy, which this app cannot use: calls and downloads would "
                            f"fail. Set {var} to an http:// proxy (http://user:password@host:port).")
    return problems


def data_dir() -> Path:
    return Path(os.environ.get("STUDIO_DATA_DIR", "./data")).expanduser()


def demo_setting() -> str | None:
    """``"1"`` forces demo mode, ``"0"`` forbids it, ``None`` means demo only where a key is missing."""
    value = os.environ.get("STUDIO_DEMO", "").strip()
    return value if value in ("0", "1") else None


def read_secrets_file(paths: list[Path] | None = None) -> tuple[dict, str | None]:
    """The merged secrets.toml (project file wins) and a problem message if one is unreadable."""
    if paths is None:
        paths = [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]
    merged: dict = {}
    for path in paths:
        if not path.exists():
            continue
        try:
            merged.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            return merged, f"{path} could not be read ({type(exc).__name__}: {str(exc)[:120]}). Fix or remove it, then restart the app."
    return merged, None


def check_base_url(url: str) -> str | None:
    """A problem message for an unusable base URL, or ``None`` when it looks right."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return f"The base URL {url!r} is not an http(s) address. Use something like {OPENAI_DEFAULT_BASE_URL}."
    return None


def resolve(
    session_keys: dict[str, str] | None = None,
    *,
    demo_base_urls: dict[str, str] | None = None,
    extra_headers: dict[str, str] | None = None,
    key_scope: object | None = None,
) -> dict[str, ProviderConfig]:
    """Work out every provider's config.

    ``demo_base_urls`` maps provider to the emulator's base URL; it is asked for
    only when some provider needs demo mode (see ``lib.demo``), so pass a
    callable-free dict or leave it ``None`` and let this module start nothing.
    ``key_scope`` (a ``lib.client_cache.KeyScope``) goes on configs whose key came from ``session_keys``.
    """
    session_keys = session_keys or {}
    remember_proxy_credentials()
    secrets, secrets_problem = read_secrets_file()
    forced = demo_setting()
    configs: dict[str, ProviderConfig] = {}
    for engine in _engines():
        provider = engine.id
        key, source = None, None
        if session_keys.get(provider, "").strip():
            key, source = session_keys[provider].strip(), "sidebar"
        for var in engine.key_vars:
            if key is not None:
                break
            if os.environ.get(var, "").strip():
                key, source = os.environ[var].strip(), "environment"
            elif str(secrets.get(var, "")).strip():
                key, source = str(secrets[var]).strip(), "secrets.toml"
        url_var = engine.base_url_var
        set_url = ((os.environ.get(url_var) or str(secrets.get(url_var, ""))).strip() if url_var else "")
        base_url = set_url or (engine.default_base_url or "")
        # A server that needs no key (a local OpenAI-compatible one) is live once its base URL is set.
        reachable = key is not None or (engine.key_optional and bool(set_url))
        if engine.needs_base_url and not set_url:
            reachable = False

        wants_demo = forced == "1" or (not reachable and forced != "0")
        if wants_demo:
            if demo_base_urls is None or provider not in demo_base_urls:
                from lib import demo  # the one place lib starts the emulator

                demo_base_urls = {**(demo_base_urls or {}), **demo.base_urls()}
            if provider in demo_base_urls:
                configs[provider] = ProviderConfig(
                    provider, "demo", demo_base_urls[provider], DEMO_KEY, "demo", extra_headers=dict(extra_headers or {})
                )
                continue
        problem = None
        if not reachable:
            if engine.needs_base_url and not set_url:
                problem = (f"{engine.label} is not set up: set {url_var} (and {engine.key_vars[0]} if the server needs a "
                           "key) in the environment or .streamlit/secrets.toml.")
            else:
                problem = (f"No {provider} key: set {engine.key_vars[0]} in the environment or .streamlit/secrets.toml, "
                           "or paste one in the sidebar.")
            problem += (" (STUDIO_DEMO=0 forbids demo mode.)" if forced == "0" or not wants_demo
                        else " (The demo emulator does not serve it.)")
        if problem and secrets_problem:
            problem = f"{secrets_problem} {problem}"
        problem = problem or check_base_url(base_url) or engine.base_url_problem(base_url)
        configs[provider] = ProviderConfig(
            provider,
            "misconfigured" if problem else "live",
            base_url.rstrip("/"),
            key,
            source,
            problem,
            key_scope=key_scope if source == "sidebar" else None,
        )
    return configs


def settings_problems() -> list[str]:
    """Sentences for app-wide settings that cannot be used (``STUDIO_TODAY``, ``STUDIO_TIMEOUT_S``)."""
    from lib import clock, limits

    problems = []
    for check in (clock.pinned_today, limits.provider_timeout_s):
        try:
            check()
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def known_secrets(configs: dict[str, ProviderConfig]) -> list[str]:
    """Every live key in play, for ``lib.errors.redact``."""
    return [c.key for c in configs.values() if c.key and c.mode == "live"]
