"""Run the emulator: in a background thread (demo mode, tests) or as a process (``python -m emulator``)."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from emulator.app import create_app


@dataclass
class RunningEmulator:
    """A live emulator: where to reach it and how to stop it."""

    base_url: str  # http://127.0.0.1:PORT
    server: uvicorn.Server
    thread: threading.Thread
    app: object

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def compat_base_url(self) -> str:
        """An OpenAI-compatible server (DALL·E contract, nothing retired)."""
        return self.base_url + "/compat/v1"

    @property
    def karlo_base_url(self) -> str:
        return self.base_url

    @property
    def gemini_base_url(self) -> str:
        return self.base_url  # google-genai adds /v1beta itself

    @property
    def flux_base_url(self) -> str:
        return self.base_url + "/bfl"  # BFL's one-segment /v1/<model> paths, apart from OpenAI's

    @property
    def state(self):
        return self.app.state.emulator

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # signals belong to the host process (Streamlit, pytest)
        pass


def start_in_thread(host: str = "127.0.0.1", port: int = 0, **app_options) -> RunningEmulator:
    """Start an emulator on a free loopback port (or ``port``) and return once it accepts connections."""
    # IPPROTO_TCP, not 0: asyncio turns on TCP_NODELAY only for sockets that say they are TCP; without it
    # Nagle's algorithm holds the tail of each response for the client's delayed ACK (~40 ms a call).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    actual_port = sock.getsockname()[1]
    app = create_app(**app_options)
    base_url = f"http://{host}:{actual_port}"
    app.state.emulator.public_base_url = base_url
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1, lifespan="off")
    server = _ThreadServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="studio-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the emulator did not start within 10 s")
        time.sleep(0.01)
    return RunningEmulator(base_url, server, thread, app)
