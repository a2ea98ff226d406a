"""A provider that echoes the key back — whole, in pieces, in another case, percent-encoded, in base64, JSON- or
HTML-escaped — in x-request-id, the error message, the code, the parameter, the revised prompt and the reply's ids:
no piece of the key, in any of those encodings, reaches the ledger's files (WAL included), the CSV or Parquet export,
or the page."""
from __future__ import annotations

import base64
import io
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib import clock
from lib.config import ProviderConfig
from lib.errors import FRAGMENT_CHARS
from tests.security.hostile import HostileServer, decoded_views, echo_encodings, png_bytes, serve_json

ROOT = Path(__file__).resolve().parents[2]
OPENAI_KEY = "sk-proj-Zq81vLr0Kc3mWt5YhN2pXb7GdE9sJf4uAa6"
KAKAO_KEY = "3f9c2a71d0b84e6f95a1c7d3e8b2f406"  # Kakao REST keys: 32 hex characters, no prefix to match
PICTURE_B64 = base64.b64encode(png_bytes()).decode()


def fragments_in(text: str, key: str) -> list[str]:
    """Every FRAGMENT_CHARS-long piece of ``key`` found in ``text`` (any case), as written or in any reading of it
    (percent-decoded, unescaped, base64-decoded: ``decoded_views``)."""
    low = "\0".join(decoded_views(text)).lower()
    pieces = {key[i:i + FRAGMENT_CHARS].lower() for i in range(len(key) - FRAGMENT_CHARS + 1)}
    return sorted(p for p in pieces if p in low)


def echoes(key: str) -> dict[str, str]:
    return {"whole": key, "middle": key[8:24], "tail upper": key[-12:].upper(), "start": key[:10],
            "encoded": " | ".join(echo_encodings(key).values())}


def openai_routes(server: HostileServer, *, fail: bool) -> None:
    e = echoes(OPENAI_KEY)
    server.routes["/v1/models"] = serve_json({"object": "list", "data": [
        {"id": "gpt-image-2", "object": "model", "created": 0, "owned_by": "x"},
        {"id": "dall-e-2", "object": "model", "created": 0, "owned_by": "x"}]})
    if fail:
        server.routes["/v1/images/generations"] = serve_json({"error": {
            "message": f"Incorrect API key provided: {e['whole']} (also known as {e['middle']}, {e['tail upper']}; "
                       f"{e['encoded']})",
            "type": "invalid_request_error", "param": e["middle"] + " " + echo_encodings(OPENAI_KEY)["query string"],
            "code": echo_encodings(OPENAI_KEY)["bearer base64"]}},
            status=400, headers={"x-request-id": base64.urlsafe_b64encode(OPENAI_KEY.encode()).decode().rstrip("=")})
    else:
        server.routes["/v1/images/generations"] = serve_json(
            {"created": 0, "data": [{"b64_json": PICTURE_B64,
                                     "revised_prompt": f"a red fox, {e['middle']} {e['whole']} {e['encoded']}"}],
             "usage": {"input_tokens": 10, "output_tokens": 100, "total_tokens": 110}},
            headers={"x-request-id": "req_" + OPENAI_KEY[3:30].replace("-", "_")})


def karlo_routes(server: HostileServer, *, fail: bool) -> None:
    e = echoes(KAKAO_KEY)
    if fail:
        server.routes["/v2/inference/karlo/t2i"] = serve_json(
            {"code": -2, "msg": f"key {e['whole']} is odd; {e['middle']} / {e['tail upper']} / {e['encoded']}"},
            status=400, headers={"x-request-id": base64.b64encode(KAKAO_KEY.encode()).decode().rstrip("=")})
    else:
        server.routes["/v2/inference/karlo/t2i"] = serve_json(
            {"id": KAKAO_KEY, "model_version": f"v2.1-{e['middle']} {echo_encodings(KAKAO_KEY)['basic user:key']}",
             "images": [{"id": echo_encodings(KAKAO_KEY)["base64url, no padding"], "seed": 7, "image": PICTURE_B64, "nsfw_content_detected": None}]})


@pytest.fixture
def hostile():
    server = HostileServer().start()
    yield server
    server.stop()


def all_app_text(at: AppTest) -> str:
    """Every string (and decoded byte string, e.g. a table's Arrow data) in every element the page drew."""
    found: list[str] = []

    def collect(message) -> None:
        for _field, value in message.ListFields():
            single = isinstance(value, (str, bytes, int, float, bool)) or hasattr(value, "ListFields")
            for item in ([value] if single else value):
                if isinstance(item, str):
                    found.append(item)
                elif isinstance(item, bytes):
                    found.append(item.decode("latin-1"))
                elif hasattr(item, "ListFields"):
                    collect(item)

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            collect(proto)
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(found)


def test_echoed_keys_reach_no_file_export_or_page(studio_env, hostile, monkeypatch, tally):
    from lib.send import Request, send
    from lib.store import open_store, report

    openai_cfg = ProviderConfig("openai", "live", hostile.base + "/v1", OPENAI_KEY, "environment")
    karlo_cfg = ProviderConfig("karlo", "live", hostile.base, KAKAO_KEY, "environment")
    outcomes = []
    for fail in (True, False):
        openai_routes(hostile, fail=fail)
        outcomes.append(send(openai_cfg, Request(engine="openai", action="generate", model="gpt-image-2",
                                                 prompt="a red fox", settings={"size": "1024x1024", "quality": "low"})))
        karlo_routes(hostile, fail=fail)
        outcomes.append(send(karlo_cfg, Request(engine="karlo", action="generate", model="karlo-v2.1",
                                                prompt="a red fox", settings={"width": 512, "height": 512}, page="karlo")))
    assert [o.error is None for o in outcomes] == [False, False, True, True], [o.error and o.error.message for o in outcomes]
    tried = held = 0
    for outcome in outcomes:  # what a page would show from the outcome itself
        shown = " ".join(str(v) for v in (outcome.error and (outcome.error.message, outcome.error.detail, outcome.error.code,
                                                             outcome.error.param, outcome.error.request_id)) or ())
        tried += 1
        held += not (fragments_in(shown, OPENAI_KEY) or fragments_in(shown, KAKAO_KEY))
    assert outcomes[0].error.http_status == 400 and outcomes[0].error.request_id is None  # the key-shaped id is not kept

    _store, ledger = open_store()
    rows = ledger.rows()
    assert len(rows) == 4 and sorted(r.status for r in rows).count("ok") == 2
    assert any("[redacted]" in (r.revised_prompt or "") for r in rows)  # the echo was there, and was cut

    # every file the ledger and the store wrote: the SQLite file, its WAL and shm, pictures, thumbnails
    files = [p for p in Path(studio_env).rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") for p in files) or any(p.suffix == ".sqlite3" for p in files)
    frame = report.export_frame(ledger, report.Selection(clock.today() - timedelta(days=1), clock.today()))
    assert len(frame) == 4
    parquet_back = pd.read_parquet(io.BytesIO(report.to_parquet(frame)))
    sources = {str(p.relative_to(studio_env)): p.read_bytes().decode("latin-1") for p in files}
    sources["export.csv"] = report.to_csv(frame).decode("utf-8")
    sources["export.parquet (bytes)"] = report.to_parquet(frame).decode("latin-1")
    sources["export.parquet (read back)"] = parquet_back.to_csv()
    for name, text in sources.items():
        tried += 1
        leaks = fragments_in(text, OPENAI_KEY) + fragments_in(text, KAKAO_KEY)
        held += not leaks
        assert not leaks, f"{name} holds pieces of a key: {leaks}"

    # the pages: the Generate page's error box after the failing call, and the ledger page listing every row
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", hostile.base + "/v1")
    monkeypatch.setenv("KAKAO_REST_API_KEY", KAKAO_KEY)
    monkeypatch.setenv("KARLO_BASE_URL", hostile.base)
    openai_routes(hostile, fail=True)
    from lib import catalog

    catalog.forget_available_models()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at.run()
    at.switch_page("pages/generate.py")
    at.run()
    at.text_area(key="gen_prompt").set_value("a red fox")
    next(b for b in at.button if b.label == "Generate").click()
    at.run()
    assert not at.exception, at.exception
    assert any("Incorrect API key provided" in e.value for e in at.error), [e.value for e in at.error]
    for page in ("generate", "ledger"):
        if page == "ledger":
            at.switch_page("pages/ledger.py")
            at.run()
            assert not at.exception, at.exception
        text = all_app_text(at)
        tried += 1
        leaks = fragments_in(text, OPENAI_KEY) + fragments_in(text, KAKAO_KEY)
        held += not leaks
        assert not leaks, f"the {page} page shows pieces of a key: {leaks}"
    tally(tried, held)  # places a key could surface: 4 calls' errors, every file and export, 2 pages
    assert held == tried


def test_client_caches_hold_no_key_as_their_key(studio_env, hostile):
    """The SDK client and session caches are keyed by a hash of the key, never the key itself."""
    from lib.providers import gemini, karlo, openai_chat, openai_images
    from lib.send import Request, send

    openai_routes(hostile, fail=False)
    karlo_routes(hostile, fail=False)
    send(ProviderConfig("openai", "live", hostile.base + "/v1", OPENAI_KEY, "environment"),
         Request(engine="openai", action="generate", model="gpt-image-2", prompt="a fox", settings={"size": "1024x1024"}))
    send(ProviderConfig("karlo", "live", hostile.base, KAKAO_KEY, "environment"),
         Request(engine="karlo", action="generate", model="karlo-v2.1", prompt="a fox", settings={}, page="karlo"))
    caches = {"openai_images": openai_images._clients, "karlo": karlo._sessions, "openai_chat": openai_chat._clients,
              "gemini": gemini._clients}
    assert openai_images._clients and karlo._sessions
    for name, cache in caches.items():
        for cache_key in list(cache):
            text = repr(cache_key)
            assert not (fragments_in(text, OPENAI_KEY) or fragments_in(text, KAKAO_KEY)), f"{name} cache key holds a key"
