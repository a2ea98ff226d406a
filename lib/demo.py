"""Demo mode: the one piece of lib that starts the emulator, once per process."""
from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_running = None


def base_urls() -> dict[str, str]:
    """Base URLs of this process's emulator, starting it on first use."""
    global _running
    with _lock:
        if _running is None:
            from emulator import start_in_thread

            latency = int(os.environ.get("STUDIO_DEMO_LATENCY_MS", "600"))
            _running = start_in_thread(default_latency_ms=latency)
    from lib.providers import registry

    # Each engine names the emulator face that serves it; a face the emulator does not have yet is left out.
    return {e.id: getattr(_running, e.demo_face) for e in registry.engines()
            if e.demo_face and getattr(_running, e.demo_face, None)}


def running():
    """The running demo emulator, or ``None`` (tests read its call log)."""
    return _running
