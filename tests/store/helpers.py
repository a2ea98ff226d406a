"""Small builders shared by the store tests."""
from __future__ import annotations

import io

from PIL import Image

from lib.config import ProviderConfig


def png(width: int = 64, height: int = 48, colour=(200, 30, 30, 255)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def jpeg(width: int = 64, height: int = 48, colour=(30, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "JPEG")
    return buf.getvalue()


def cfg(provider: str = "openai", mode: str = "live", key: str | None = "sk-test-helper-key-0123456789") -> ProviderConfig:
    return ProviderConfig(provider, mode, "http://127.0.0.1:9/v1", key, "environment" if mode == "live" else "demo")


def thumbnails_drawn() -> None:
    """Wait until every thumbnail queued so far is drawn and saved (they are drawn after the put, on one thread)."""
    from lib.store import images

    images.thumbnails_drawn()
