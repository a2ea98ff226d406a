"""A key pasted in the sidebar lives in that browser session: the SDK clients built for it are kept in the session's
scope, not the process, and when the session ends (Streamlit clears its session-scoped resources on disconnect) no
client anywhere in the process holds the key. The server's own keys keep their shared clients."""
from __future__ import annotations

import gc
from pathlib import Path

import openai
from streamlit.runtime import caching
from streamlit.testing.v1 import AppTest

from lib.client_cache import KeyScope
from lib.config import ProviderConfig
from lib.providers import gemini, karlo, openai_chat, openai_images

ROOT = Path(__file__).resolve().parents[2]
PASTED = "sk-proj-pasted-in-the-sidebar-7Hq2Zx9LmW4"
SERVER_KEY = "sk-proj-the-servers-own-key-3Kd8Vb1NcR6"
APPTEST_SESSION = "test session id"  # streamlit.testing's one session


def clients_holding(key: str) -> list[object]:
    """Every live SDK client in the process built with ``key``."""
    gc.collect()
    found = []
    for obj in gc.get_objects():
        try:
            if isinstance(obj, openai.OpenAI) and obj.api_key == key:
                found.append(obj)
            elif type(obj).__name__ == "Client" and type(obj).__module__.startswith("google.genai") \
                    and getattr(obj._api_client, "api_key", None) == key:
                found.append(obj)
        except ReferenceError:
            pass
    return found


def process_caches() -> dict[str, object]:
    return {"openai_images": openai_images._clients, "openai_chat": openai_chat._clients, "gemini": gemini._clients,
            "karlo": karlo._sessions}


def test_a_scope_keeps_its_sessions_clients_and_lets_them_go(tally):
    scope = KeyScope()
    pasted = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", PASTED, "sidebar", key_scope=scope)
    server = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", SERVER_KEY, "environment")
    gem = ProviderConfig("gemini", "live", "http://127.0.0.1:9", PASTED, "sidebar", key_scope=scope)
    client = openai_images._client(pasted)
    assert openai_images._client(pasted) is client  # reused within the session
    openai_chat._client(pasted, timeout=5)
    gemini._client(gem, 5.0, False)
    karlo.KarloClient(ProviderConfig("karlo", "live", "http://127.0.0.1:9", PASTED, "sidebar", key_scope=scope))
    shared = openai_images._client(server)
    assert len(scope) == 4
    for name, cache in process_caches().items():
        assert pasted.key_id not in {k[1] for k in cache}, f"{name} keeps the pasted key's client for the process"
    assert (server.base_url, server.key_id, ()) in set(openai_images._clients)
    del client
    scope.release()
    assert clients_holding(PASTED) == []
    assert openai_images._client(server) is shared  # the server's key keeps its client
    late = openai_images._client(pasted)  # a call that outlived its session is served, not kept
    assert late.api_key == PASTED and len(scope) == 0
    del late
    assert clients_holding(PASTED) == []
    tally(3, 3)  # openai images + chat, gemini: none holds the key after release


def test_a_sidebar_key_is_let_go_when_the_session_ends(studio_env, emulator, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at.session_state["session_key_openai"] = PASTED  # what typing it into the sidebar's password field stores
    at.run()
    at.switch_page("pages/generate.py")
    at.run()
    at.text_area(key="gen_prompt").set_value("a lighthouse at dawn")
    next(b for b in at.button if b.label == "Generate").click()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "session_key_openai" in at.session_state  # the pasted key is this session's
    assert any(c["path"].endswith("/images/generations") for c in list(emulator.state.calls))
    assert clients_holding(PASTED), "the call was made with a client for the pasted key"
    for name, cache in process_caches().items():
        assert all(PASTED not in repr(k) for k in cache)
        assert not [c for c in cache.values() if getattr(c, "api_key", None) == PASTED], f"{name} keeps it for the process"

    caching.clear_session_resource_cache(APPTEST_SESSION)  # what Streamlit does when the session disconnects
    assert clients_holding(PASTED) == [], "a client still holds the pasted key after its session ended"
    del at
