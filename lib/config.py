"""Where each provider's key and base URL come from, and whether it runs live, in demo or not at all.

Keys are looked up in this order: the sidebar (this browser session only), the
environment, then ``.streamlit/secrets.toml``.  A provider without a key is
served by the built-in emulator (demo mode) unless ``STUDIO_DEMO=0`` forbids
it; ``STUDIO_DEMO=1`` puts every provider in demo mode.  Nothing here writes a
key anywhere: ``ProviderConfig.key`` is excluded from ``repr`` so it cannot leak
into logs or error text by accident.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
KARLO_DEFAULT_BASE_URL = "https://api.kakaobrain.com"
DEMO_KEY = "demo-key"

_KEY_VARS = {"openai": "OPENAI_API_KEY", "karlo": "KAKAO_REST_API_KEY"}
_URL_VARS = {"openai": "OPENAI_BASE_URL", "karlo": "KARLO_BASE_URL"}
_DEFAULT_URLS = {"openai": OPENAI_DEFAULT_BASE_URL, "karlo": KARLO_DEFAULT_BASE_URL}
PROVIDERS = ("openai", "karlo")
DISPLAY_NAMES = {"openai": "OpenAI", "karlo": "Karlo"}


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one provider right now."""

    provider: str  # "openai" | "karlo"
    mode: str  # "live" | "demo" | "misconfigured"
    base_url: str
    key: str | None = field(default=None, repr=False)
    key_source: str | None = None  # "sidebar" | "environment" | "secrets.toml" | "demo"
    problem: str | None = None  # why it is misconfigured, written for a person
    extra_headers: dict[str, str] = field(default_factory=dict)  # e.g. emulator fault injection

    @property
    def name(self) -> str:
        return DISPLAY_NAMES[self.provider]

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
) -> dict[str, ProviderConfig]:
    """Work out every provider's config.

    ``demo_base_urls`` maps provider to the emulator's base URL; it is asked for
    only when some provider needs demo mode (see ``lib.demo``), so pass a
    callable-free dict or leave it ``None`` and let this module start nothing.
    """
    session_keys = session_keys or {}
    secrets, secrets_problem = read_secrets_file()
    forced = demo_setting()
    configs: dict[str, ProviderConfig] = {}
    for provider in PROVIDERS:
        key, source = None, None
        if session_keys.get(provider, "").strip():
            key, source = session_keys[provider].strip(), "sidebar"
        elif os.environ.get(_KEY_VARS[provider], "").strip():
            key, source = os.environ[_KEY_VARS[provider]].strip(), "environment"
        elif str(secrets.get(_KEY_VARS[provider], "")).strip():
            key, source = str(secrets[_KEY_VARS[provider]]).strip(), "secrets.toml"
        base_url = (os.environ.get(_URL_VARS[provider]) or str(secrets.get(_URL_VARS[provider], "")) or _DEFAULT_URLS[provider]).strip()

        wants_demo = forced == "1" or (key is None and forced != "0")
        if wants_demo:
            if demo_base_urls is None or provider not in demo_base_urls:
                from lib import demo  # the one place lib starts the emulator

                demo_base_urls = demo.base_urls()
            configs[provider] = ProviderConfig(
                provider, "demo", demo_base_urls[provider], DEMO_KEY, "demo", extra_headers=dict(extra_headers or {})
            )
            continue
        problem = None
        if key is None:
            problem = (
                f"No {provider} key: set {_KEY_VARS[provider]} in the environment or .streamlit/secrets.toml, "
                "or paste one in the sidebar. (STUDIO_DEMO=0 forbids demo mode.)"
            )
        if problem and secrets_problem:
            problem = f"{secrets_problem} {problem}"
        problem = problem or check_base_url(base_url)
        configs[provider] = ProviderConfig(
            provider,
            "misconfigured" if problem else "live",
            base_url.rstrip("/"),
            key,
            source,
            problem,
        )
    return configs


def known_secrets(configs: dict[str, ProviderConfig]) -> list[str]:
    """Every live key in play, for ``lib.errors.redact``."""
    return [c.key for c in configs.values() if c.key and c.mode == "live"]
