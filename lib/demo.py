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
    _bypass_proxies("127.0.0.1")
    from lib.providers import registry

    # Each engine names the emulator face that serves it; a face the emulator does not have yet is left out.
    return {e.id: getattr(_running, e.demo_face) for e in registry.engines()
            if e.demo_face and getattr(_running, e.demo_face, None)}


def _bypass_proxies(host: str) -> None:
    """The emulator runs in this process: calls to it never go through HTTP(S)_PROXY (a proxy elsewhere cannot
    reach this machine's loopback, so demo mode would fail).  Every HTTP client here reads NO_PROXY."""
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h.strip() for h in os.environ.get(name, "").split(",") if h.strip()]
        if host not in hosts and "*" not in hosts:
            os.environ[name] = ",".join([*hosts, host])


def running():
    """The running demo emulator, or ``None`` (tests read its call log)."""
    return _running
