"""The models and endpoints each face of the emulator serves, as one dated table.

``/v1`` is api.openai.com on a given day: a model or endpoint whose shutdown
date has come is gone (404).  ``/compat/v1`` is an OpenAI-compatible server of
the kind people run themselves (LocalAI-like): it never retires anything, so it
still speaks the DALL·E contract next to today's GPT Image models.

Shutdown dates: openai-python 3.51 ``types/image_model.py`` and ``ChatModel``
docstrings, and https://developers.openai.com/api/docs/deprecations (see
docs/emulator-assumptions.md).  A model is gone *on* its shutdown day.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timezone

OFFICIAL = "official"  # /v1
COMPAT = "compat"  # /compat/v1


@dataclass(frozen=True)
class ImageModel:
    family: str  # dall-e-2 | dall-e-3 | gpt-fixed (three sizes) | gpt-free (any WxH within limits)
    qualities: tuple[str, ...] = ("low", "medium", "high", "auto")
    edits: bool = True
    tokens: str = "gpt-image-1"  # which row of OUTPUT_TOKENS bills its pictures


_PLUS = ("low", "medium", "high", "xhigh", "max", "auto")
IMAGE_MODELS: dict[str, ImageModel] = {
    "gpt-image-1": ImageModel("gpt-fixed"),
    "gpt-image-1-mini": ImageModel("gpt-fixed", tokens="gpt-image-1-mini"),
    "gpt-image-1.5": ImageModel("gpt-fixed"),
    "gpt-image-1.5-2025-12-16": ImageModel("gpt-fixed"),
    "chatgpt-image-latest": ImageModel("gpt-fixed"),
    "gpt-image-2": ImageModel("gpt-free", tokens="gpt-image-2"),
    "gpt-image-2-2026-04-21": ImageModel("gpt-free", tokens="gpt-image-2"),
    "gpt-image-2.5-sunburst": ImageModel("gpt-free", _PLUS, tokens="gpt-image-2"),
    "gpt-image-2.5-sunburst-2026-09-08": ImageModel("gpt-free", _PLUS, tokens="gpt-image-2"),
    "gpt-image-2.5-flare": ImageModel("gpt-free", _PLUS, tokens="gpt-image-2"),
    "gpt-image-2.5-flare-2026-09-08": ImageModel("gpt-free", _PLUS, tokens="gpt-image-2"),
    "gpt-image-2.6-sunburst": ImageModel("gpt-free", tokens="gpt-image-2"),
    "gpt-image-2.6-flare": ImageModel("gpt-free", tokens="gpt-image-2"),
    "dall-e-2": ImageModel("dall-e-2", ("standard", "auto")),
    "dall-e-3": ImageModel("dall-e-3", ("standard", "hd", "auto"), edits=False),
}

# Output image tokens per picture (openai-api.md §4).  gpt-image-1: community-measured counts, which
# gpt-image-1.5's per-image prices at $32/M reproduce.  gpt-image-1-mini: its published per-image prices
# divided by its $8/M output rate.  gpt-image-2 and later: third-party per-image estimates (~$0.02/0.07/0.19
# at 1024x1024) divided by $30/M (uncertain).  Other sizes scale by area from 1024x1024.
OUTPUT_TOKENS: dict[str, dict[str, dict[str, int]]] = {
    "gpt-image-1": {"low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
                    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
                    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208}},
    "gpt-image-1-mini": {"low": {"1024x1024": 625, "1024x1536": 750, "1536x1024": 750},
                         "medium": {"1024x1024": 1375, "1024x1536": 1875, "1536x1024": 1875},
                         "high": {"1024x1024": 4500, "1024x1536": 6500, "1536x1024": 6500}},
    "gpt-image-2": {"low": {"1024x1024": 667}, "medium": {"1024x1024": 2333}, "high": {"1024x1024": 6333}},
}
EXTRA_QUALITY = {"xhigh": 1.5, "max": 2.0}  # the 2.5 models' extra qualities: multiples of high (assumed)

CHAT_MODELS = [
    "gpt-6-luna", "gpt-6-sol", "gpt-6-astra", "gpt-6.1-terra", "gpt-6.1-sol", "gpt-5.5", "gpt-5.4", "gpt-5.4-mini",
    "gpt-5.4-nano", "gpt-5.2", "gpt-5.1", "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4.1-mini",
    "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "gpt-4", "gpt-3.5-turbo",
]

# api.openai.com shutdown dates: from this day on the model answers 404 on /v1.
SHUTDOWNS: dict[str, date] = {
    "dall-e-2": date(2026, 5, 12),
    "dall-e-3": date(2026, 5, 12),
    "gpt-image-1": date(2026, 10, 23),
    "gpt-image-1-mini": date(2026, 12, 1),
    "gpt-image-1.5": date(2026, 12, 1),
    "gpt-image-1.5-2025-12-16": date(2026, 12, 1),
    "chatgpt-image-latest": date(2026, 12, 1),
    "gpt-3.5-turbo": date(2026, 10, 23),
    "gpt-4": date(2026, 10, 23),
    "gpt-4.1-nano": date(2026, 10, 23),
    "gpt-5": date(2026, 12, 11),
    "gpt-5-mini": date(2026, 12, 11),
    "gpt-5-nano": date(2026, 12, 11),
    "gpt-4o": date(2027, 1, 14),
    "gpt-4o-mini": date(2027, 1, 14),
    "gpt-4.1": date(2027, 1, 14),
    "gpt-4.1-mini": date(2027, 1, 14),
}
# Endpoints api.openai.com removed (path under /v1): retired with dall-e-2, its only model.
ENDPOINT_SHUTDOWNS: dict[str, date] = {"/images/variations": date(2026, 5, 12)}


def today_from(setting: date | str | None) -> date:
    """The emulator's date: a pinned ``today`` option, else ``STUDIO_TODAY`` (YYYY-MM-DD), else the UTC date.

    The emulator cannot import lib.clock, so it reads the same variable itself, per request.
    """
    if isinstance(setting, date):
        return setting
    text = setting or os.environ.get("STUDIO_TODAY", "").strip()
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    return datetime.now(timezone.utc).date()


def is_served(model: str, face: str, today: date) -> bool:
    """Does this face know the model today?"""
    if model not in IMAGE_MODELS and model not in CHAT_MODELS:
        return False
    if face == COMPAT:
        return True
    shutdown = SHUTDOWNS.get(model)
    return shutdown is None or today < shutdown


def is_retired(model: str, face: str, today: date) -> bool:
    """Known, but shut down on this face (it existed once, so the answer says "deprecated")."""
    return face == OFFICIAL and model in SHUTDOWNS and today >= SHUTDOWNS[model]


def endpoint_served(path: str, face: str, today: date) -> bool:
    shutdown = ENDPOINT_SHUTDOWNS.get(path)
    return face == COMPAT or shutdown is None or today < shutdown


def served_models(face: str, today: date) -> list[str]:
    return [m for m in CHAT_MODELS + list(IMAGE_MODELS) if is_served(m, face, today)]
