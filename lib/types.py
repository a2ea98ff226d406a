"""Plain data passed between providers, the store, the ledger and the pages."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Usage:
    """Token counts as the provider reported them; ``None`` means not reported (never 0)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    details: dict[str, Any] = field(default_factory=dict)  # cached/image/text/reasoning tokens


@dataclass
class GeneratedImage:
    """One image that came back, already downloaded: bytes in memory, nothing expiring."""

    data: bytes
    mime: str = "image/png"
    width: int | None = None
    height: int | None = None
    seed: int | None = None  # Karlo reports one per sample
    revised_prompt: str | None = None
    nsfw: bool | None = None
    nsfw_score: float | None = None


@dataclass
class ImageResult:
    """What an image call returned, before it is stored."""

    provider: str  # "openai" | "karlo"
    model: str
    endpoint: str  # "/v1/images/generations", "/v2/inference/karlo/t2i", ...
    images: list[GeneratedImage]
    params: dict[str, Any] = field(default_factory=dict)
    usage: Usage | None = None
    request_id: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None  # first partial image, when streaming
    notes: list[str] = field(default_factory=list)  # e.g. "kept pixels outside the mask"


@dataclass
class ChatTurn:
    """One assistant reply: its text, usage and timing."""

    model: str
    text: str
    usage: Usage | None = None
    request_id: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    finish_reason: str | None = None
    complete: bool = True  # False when the stream broke or was stopped
