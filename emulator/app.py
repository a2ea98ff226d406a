"""The emulator's Starlette app: OpenAI routes, Karlo routes, and a call log for tests."""
from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class EmulatorState:
    """Settings and memory shared by every route of one emulator."""

    default_latency_ms: int = 0
    hang_seconds: float = 300.0  # "hang" fault: longer than any client timeout we use
    karlo_url_ttl_s: float = 600.0  # Karlo result URLs live about ten minutes
    public_base_url: str = ""  # set by the server once the port is known; Karlo URLs start with it
    calls: list[dict[str, Any]] = field(default_factory=list)
    call_log_max: int = 200  # the newest calls only: demo mode runs for days, and bodies hold whole pictures
    served_files: dict[str, tuple[bytes, str, float]] = field(default_factory=dict)  # token -> (bytes, mime, expires_at)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The emulator's date (a date or "YYYY-MM-DD"); None: STUDIO_TODAY, else the UTC date, read per request.
    today: date | str | None = None

    def current_date(self) -> date:
        from emulator.openai_models import today_from

        return today_from(self.today)

    def log_call(self, request: Request, body: Any) -> None:
        """Remember what arrived (never the Authorization header), so tests can assert on it."""
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        with self.lock:
            self.calls.append({"ts": time.time(), "method": request.method, "path": request.url.path,
                               "headers": headers, "body": body})
            if len(self.calls) > self.call_log_max:
                del self.calls[: len(self.calls) - self.call_log_max]

    def deadline(self, latency_ms: int | None) -> float:
        """When a call asking for ``latency_ms`` (or the default) should answer.

        Latency is the server's whole time, as with a real provider: drawing the
        picture happens inside it, so a call answers after max(latency, work).
        """
        ms = self.default_latency_ms if latency_ms is None else latency_ms
        return time.monotonic() + max(ms, 0) / 1000

    async def wait_until(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)


def create_app(*, default_latency_ms: int = 0, hang_seconds: float = 300.0, karlo_url_ttl_s: float = 600.0,
               today: date | str | None = None) -> Starlette:
    from emulator import azure_api, flux_api, gemini_api, karlo_api, openai_api

    state = EmulatorState(default_latency_ms=default_latency_ms, hang_seconds=hang_seconds,
                          karlo_url_ttl_s=karlo_url_ttl_s, today=today)

    async def list_calls(request: Request) -> JSONResponse:
        with state.lock:
            return JSONResponse(list(state.calls))

    async def clear_calls(request: Request) -> JSONResponse:
        with state.lock:
            state.calls.clear()
        return JSONResponse({"cleared": True})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    routes = [
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/calls", list_calls, methods=["GET"]),
        Route("/_emulator/calls", clear_calls, methods=["DELETE"]),
        *openai_api.routes(state),
        *karlo_api.routes(state),
        *gemini_api.routes(state),
        *flux_api.routes(state),
        *azure_api.routes(state),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = state
    return app
