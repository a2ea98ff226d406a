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
