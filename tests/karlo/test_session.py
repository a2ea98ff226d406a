"""Karlo clients share one HTTP session per server, key and headers, so calls reuse open connections."""
from __future__ import annotations

import dataclasses

import requests
from urllib3.connectionpool import HTTPConnectionPool

from lib.config import ProviderConfig
from lib.providers.karlo import KarloClient

CFG = ProviderConfig("karlo", "live", "http://127.0.0.1:9", "kakao-session-test-key-1234", "environment")


def test_clients_of_one_config_share_a_session_and_others_do_not():
    assert KarloClient(CFG).session is KarloClient(dataclasses.replace(CFG)).session
    assert KarloClient(CFG).session is not KarloClient(dataclasses.replace(CFG, key="kakao-other-key-98765")).session
    faulty = dataclasses.replace(CFG, extra_headers={"X-Emulator-Fault": "500"})
    assert KarloClient(faulty).session is not KarloClient(CFG).session
    assert KarloClient(faulty).session.headers["X-Emulator-Fault"] == "500"
    assert "X-Emulator-Fault" not in KarloClient(CFG).session.headers


def test_the_shared_session_never_holds_the_key():
    session = KarloClient(CFG).session
    assert all(CFG.key not in str(value) for value in session.headers.values())


def test_a_session_passed_in_is_used_as_given():
    own = requests.Session()
    assert KarloClient(CFG, session=own).session is own


def test_two_calls_reuse_one_connection(emulator, monkeypatch):
    opened = []
    new_connection = HTTPConnectionPool._new_conn
    monkeypatch.setattr(HTTPConnectionPool, "_new_conn", lambda pool: opened.append(pool.port) or new_connection(pool))
    cfg = ProviderConfig("karlo", "live", emulator.karlo_base_url, "kakao-session-reuse-key-5678", "environment")
    KarloClient(cfg).text_to_image("a quiet harbour", width=256, height=256)
    KarloClient(cfg).text_to_image("a quiet harbour at night", width=256, height=256)
    assert len(opened) == 1  # a new client per call (as Compare makes them) still keeps the connection
