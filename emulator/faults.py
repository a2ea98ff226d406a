"""How a request asks the emulator to misbehave: a header or a directive in the prompt.

Header ``X-Emulator-Fault: <name>`` or the prompt text ``[fault:<name>]`` pick a
fault; ``X-Emulator-Latency-Ms: <ms>`` or ``[latency:<ms>]`` add latency.  The
prompt directive lets a person trigger faults from the UI in demo mode; the
header lets tests do it without touching the prompt.  Directives are removed
from the prompt before the image is drawn, so they do not change the picture.

Fault names (each protocol module decides what they look like on its wire):
  401, 429, 500, 503, hang, malformed, moderation_blocked, model_not_found,
  stream_break (chat: the stream drops after a few chunks),
  -1, -2, -9, -10, -401, -603 (Karlo error codes), html502 (an HTML 502 from a proxy),
  402, prompt_blocked, image_safety, no_image (Gemini), moderated, expired_url (FLUX),
  content_filter, output_filtered, blocked (Azure).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

FAULT_HEADER = "x-emulator-fault"
LATENCY_HEADER = "x-emulator-latency-ms"
_FAULT_RE = re.compile(r"\[fault:([\w\-]+)\]", re.IGNORECASE)
_LATENCY_RE = re.compile(r"\[latency:(\d+)\]", re.IGNORECASE)

KNOWN_FAULTS = {
    "401", "429", "500", "503", "hang", "malformed", "moderation_blocked", "model_not_found",
    "stream_break", "-1", "-2", "-9", "-10", "-401", "-603", "html502",
    "402", "prompt_blocked", "image_safety", "no_image", "moderated", "expired_url",
    "content_filter", "output_filtered", "blocked",
}


@dataclass(frozen=True)
class Directives:
    fault: str | None
    latency_ms: int | None
    clean_prompt: str | None


def read_directives(headers, prompt: str | None) -> Directives:
    """Fault and latency for one request; the header wins over the prompt."""
    fault = (headers.get(FAULT_HEADER) or "").strip().lower() or None
    latency = headers.get(LATENCY_HEADER)
    latency_ms = int(latency) if latency and latency.strip().isdigit() else None
    clean = prompt
    if prompt:
        m = _FAULT_RE.search(prompt)
        if m and fault is None:
            fault = m.group(1).lower()
        m = _LATENCY_RE.search(prompt)
        if m and latency_ms is None:
            latency_ms = int(m.group(1))
        clean = _LATENCY_RE.sub("", _FAULT_RE.sub("", prompt)).strip()
    if fault is not None and fault not in KNOWN_FAULTS:
        fault = None
    return Directives(fault, latency_ms, clean)
