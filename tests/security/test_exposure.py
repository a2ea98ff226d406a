"""The app as started by its own config serves this machine only and shows visitors no traceback."""
from __future__ import annotations

import socket
import tomllib

import pytest
import requests

from tests.browser_support import ROOT, start_app, stop_app


def _outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_config_binds_loopback_and_hides_tracebacks():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"]["showErrorDetails"] == "none"
    assert '--server.address "${STREAMLIT_SERVER_ADDRESS:-127.0.0.1}"' in (ROOT / "scripts" / "run.sh").read_text()


def test_started_app_answers_on_loopback_only(tmp_path):
    outward = _outward_address()
    if outward is None:
        pytest.skip("this machine has no address besides loopback to try")
    proc, app = start_app(tmp_path / "data", tmp_path / "streamlit.log")
    try:
        assert requests.get(app["url"] + "/_stcore/health", timeout=5).ok
        port = int(app["url"].rsplit(":", 1)[1])
        with pytest.raises(OSError):
            socket.create_connection((outward, port), timeout=2).close()
    finally:
        stop_app(proc)


def test_ledger_files_are_private_like_the_pictures(studio_env):
    import os
    import stat

    from lib.config import ProviderConfig
    from lib.store import open_store, record_call
    from tests.security.hostile import png_bytes

    old = os.umask(0o022)  # a usual umask: files would be world-readable unless made private
    try:
        cfg = ProviderConfig("openai", "demo", "http://127.0.0.1:9/v1", "demo", "demo")
        record_call(page="generate", action="generate", cfg=cfg, prompt="a private prompt", model="gpt-image-2",
                    inputs=[png_bytes()])
        open_store()[1].rows()
    finally:
        os.umask(old)
    files = [p for p in studio_env.rglob("*") if p.is_file() and not p.name.startswith(".")]
    ledger_files = [p for p in files if p.name.startswith("ledger.sqlite3")]
    assert any(p.name == "ledger.sqlite3" for p in ledger_files)
    modes = {str(p.relative_to(studio_env)): stat.S_IMODE(p.stat().st_mode) for p in files}
    assert all(mode & 0o077 == 0 for name, mode in modes.items()
               if name.startswith("ledger.sqlite3") or name.startswith("images")), modes


def test_the_emulator_call_log_keeps_only_the_newest_calls():
    import requests as http

    from emulator import start_in_thread

    running = start_in_thread()
    try:
        running.state.call_log_max = 5
        for i in range(12):
            http.get(f"{running.openai_base_url}/models", headers={"Authorization": "Bearer sk-x", "X-Call": str(i)},
                     timeout=10)
        with running.state.lock:
            kept = [c["headers"].get("x-call") for c in running.state.calls]
        assert kept == [str(i) for i in range(7, 12)]
    finally:
        running.stop()
