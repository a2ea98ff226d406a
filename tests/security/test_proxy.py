"""Behind a proxy that wants a user and password (``http://user:pass@proxy:port`` in HTTP_PROXY or ALL_PROXY), every
engine's calls and every picture download go through it with those credentials; wrong credentials are said in words
by every engine; the proxy password is redacted like a key wherever a provider echoes it; and the download rules
still hold (the proxy is never a way to reach an internal address)."""
from __future__ import annotations

from types import SimpleNamespace

import base64
import urllib.parse

import pytest

from lib.config import ProviderConfig, remember_proxy_credentials
from lib.errors import ProviderDown
from lib.fetch import fetch_image
from lib.send import Request, send
from tests.security.hostile import HostileServer, decoded_views, png_bytes, redirect, serve_bytes, serve_json
from tests.security.proxy import AuthProxy

USER, PASSWORD = "studio", "p@ss w:rd/1 Zq"  # characters a URL must escape, and a space
WRONG = "not-the-Pa55word"
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
              "no_proxy")


def forget_clients() -> None:
    """SDK clients read the proxy variables when they are built (the app sets them before it starts)."""
    from lib.providers import gemini, openai_chat, openai_images

    for cache in (openai_images._clients, openai_chat._clients, gemini._clients):
        cache.clear()


@pytest.fixture
def proxy(monkeypatch):
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    forget_clients()
    running = AuthProxy(USER, PASSWORD).start()
    yield running
    running.stop()
    forget_clients()


def use_proxy(monkeypatch, url: str, *variables: str) -> None:
    for var in variables or ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, url)
    remember_proxy_credentials()  # what config.resolve does on every page run


def password_pieces(text: str) -> list[str]:
    low = "\0".join(decoded_views(text)).lower()
    return sorted({PASSWORD[i:i + 8] for i in range(len(PASSWORD) - 7) if PASSWORD[i:i + 8].lower() in low})


def engine_calls(emulator) -> dict[str, tuple[ProviderConfig, Request, str]]:
    """One picture call per engine at the emulator, and the path its first request goes to."""
    return {
        "openai": (ProviderConfig("openai", "live", emulator.openai_base_url, "sk-test-live-key-0123456789", "environment"),
                   Request(engine="openai", action="generate", model="gpt-image-2", prompt="a fox",
                           settings={"size": "1024x1024", "quality": "low"}), "/v1/images/generations"),
        "karlo": (ProviderConfig("karlo", "live", emulator.karlo_base_url, "kakao-test-live-key-0123456789", "environment"),
                  Request(engine="karlo", action="generate", model="karlo-v2.1", prompt="a fox", settings={}, page="karlo"),
                  "/v2/inference/karlo/t2i"),
        "gemini": (ProviderConfig("gemini", "live", emulator.gemini_base_url, "gemini-test-live-key-0123456789",
                                  "environment"),
                   Request(engine="gemini", action="generate", model="gemini-3.1-flash-image", prompt="a fox",
                           settings={}), ":generateContent"),
        "flux": (ProviderConfig("flux", "live", emulator.flux_base_url, "bfl-test-live-key-0123456789", "environment"),
                 Request(engine="flux", action="generate", model="flux-2-pro", prompt="a fox", settings={}),
                 "/bfl/v1/flux-2-pro"),
    }


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
def test_every_engine_goes_through_the_proxy_with_its_credentials(studio_env, emulator, proxy, monkeypatch, variable,
                                                                   tally):
    use_proxy(monkeypatch, proxy.url, variable, variable.lower())
    tried = held = 0
    for name, (cfg, request, path) in engine_calls(emulator).items():
        outcome = send(cfg, request)
        tried += 1
        held += outcome.error is None and proxy.through(path) == [True]
        assert outcome.error is None, f"{name}: {outcome.error.message}"
        assert proxy.through(path) == [True], f"{name} did not go through the proxy with its credentials"
    # FLUX's delivery URL came down through lib.fetch, through the proxy too
    assert proxy.through("/sample.jpeg") == [True]
    tally(tried + 1, held + 1)


def test_wrong_proxy_credentials_are_said_in_words_by_every_engine(studio_env, emulator, proxy, monkeypatch, tally):
    wrong = proxy.url.replace(urllib.parse.quote(PASSWORD, safe=""), WRONG)
    use_proxy(monkeypatch, wrong)
    tried = held = 0
    for name, (cfg, request, path) in engine_calls(emulator).items():
        outcome = send(cfg, request)
        tried += 1
        err = outcome.error
        said = err is not None and "proxy" in err.message and "407" in err.message and err.http_status == 407
        shown = " ".join(str(v) for v in (err.message, err.detail, err.code)) if err else ""
        row = outcome.row
        recorded = row is not None and row.status == "error" and "407" in (row.error_message or "")
        held += said and recorded and WRONG not in shown
        assert said and recorded, f"{name}: {err and err.message}"
        assert WRONG not in shown and WRONG not in (row.error_message or "") + (row.error_detail or "")
        assert proxy.through(path) == [False]  # asked once, not retried
    tally(tried, held)


def test_a_picture_download_with_wrong_credentials_is_said_in_words(proxy, monkeypatch):
    use_proxy(monkeypatch, proxy.url.replace(urllib.parse.quote(PASSWORD, safe=""), WRONG))
    with pytest.raises(ProviderDown) as caught:
        fetch_image("http://pictures.provider.test/a.png", base_url="http://pictures.provider.test/v1")
    assert "407" in caught.value.message and "HTTPS_PROXY" in caught.value.message


def test_a_provider_echoing_the_proxy_password_shows_and_stores_none_of_it(studio_env, monkeypatch, tally):
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    hostile = HostileServer().start()
    try:
        # a proxy that is set but bypassed for loopback: the password is known, the calls go straight to the server
        monkeypatch.setenv("HTTPS_PROXY", f"http://{USER}:{urllib.parse.quote(PASSWORD, safe='')}@proxy.corp.test:3128")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("STUDIO_DEMO", "0")
        from lib import config

        cfg = config.resolve({"openai": "sk-test-live-key-0123456789"})["openai"]
        cfg = ProviderConfig("openai", "live", hostile.base + "/v1", cfg.key, "sidebar")
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        echoes = [PASSWORD, basic, urllib.parse.quote(PASSWORD, safe=""), urllib.parse.quote_plus(PASSWORD),
                  f"http://{USER}:{urllib.parse.quote(PASSWORD, safe='')}@proxy.corp.test:3128"]
        hostile.routes["/v1/images/generations"] = serve_json(
            {"error": {"message": "upstream said: " + " | ".join(echoes), "type": "invalid_request_error",
                       "param": basic, "code": urllib.parse.quote(PASSWORD)}}, status=400,
            headers={"x-request-id": base64.urlsafe_b64encode(PASSWORD.encode()).decode().rstrip("=")})
        outcome = send(cfg, Request(engine="openai", action="generate", model="gpt-image-2", prompt="a fox",
                                    settings={"size": "1024x1024"}))
    finally:
        hostile.stop()
    err, row = outcome.error, outcome.row
    assert err is not None and "upstream said" in err.message
    places = {"message": err.message, "detail": err.detail or "", "code": err.code or "", "param": err.param or "",
              "request id": err.request_id or "", "row message": row.error_message or "",
              "row detail": row.error_detail or "", "row code": row.error_code or "", "row request id": row.request_id or ""}
    leaks = {name: password_pieces(text) for name, text in places.items() if password_pieces(text)}
    tally(len(places), len(places) - len(leaks))
    assert not leaks, leaks


def test_behind_the_proxy_no_download_reaches_an_internal_address(proxy, monkeypatch, tally):
    """The proxy could reach what this machine cannot (or more): every rule is checked here, before the proxy is
    asked, so a refused URL never reaches it."""
    use_proxy(monkeypatch, proxy.url, "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy")
    own = HostileServer().start()
    try:
        own.routes["/ok.png"] = serve_bytes(png_bytes())
        own.routes["/to-metadata"] = redirect("http://169.254.169.254/latest/meta-data/")
        own.routes["/to-private"] = redirect("http://10.0.0.7/admin")
        cases = {
            "link-local literal": ("http://169.254.169.254/latest/meta-data/", own.base, "neither its own server"),
            "private literal": ("http://10.1.2.3/x.png", own.base, "neither its own server"),
            "a name for loopback": ("http://localhost:%d/ok.png" % int(own.base.rsplit(":", 1)[1]), own.base,
                                    "neither its own server"),
            "a name nobody resolves": ("http://internal-only.corp.invalid/x.png", own.base, "neither its own server"),
            "delivery host on loopback": ("https://localhost/x.png", "https://api.bfl.ai", "private or local"),
        }
        tried = held = 0
        for name, (url, base, words) in cases.items():
            before = len(proxy.requests)
            tried += 1
            try:
                fetch_image(url, base_url=base, delivery_hosts=("localhost",) if "delivery" in name else ())
                ok = False
            except ProviderDown as exc:
                ok = words in exc.message and len(proxy.requests) == before
            held += ok
            assert ok, f"{name}: fetched or not refused in words before the proxy"
        for path in ("/to-metadata", "/to-private"):  # the first hop goes through the proxy; the redirect does not
            tried += 1
            with pytest.raises(ProviderDown) as caught:
                fetch_image(own.base + path, base_url=own.base)
            ok = "redirected to a picture on" in caught.value.message and proxy.through(path) == [True] \
                and not [t for _m, t, _ok in proxy.requests if "169.254" in t or "10.0.0.7" in t]
            held += ok
            assert ok, caught.value.message
        assert fetch_image(own.base + "/ok.png", base_url=own.base) == png_bytes()  # its own origin: through the proxy
        assert proxy.through("/ok.png") == [True]
        tally(tried + 1, held + 1)
    finally:
        own.stop()


def test_a_socks_proxy_is_refused_in_words_by_the_download(monkeypatch):
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ALL_PROXY", "socks5://user:sockspassword@127.0.0.1:1080")
    with pytest.raises(ProviderDown) as caught:
        fetch_image("http://pictures.provider.test/a.png", base_url="http://pictures.provider.test/v1")
    assert "socks5:// proxy" in caught.value.message and "sockspassword" not in caught.value.message


def test_proxies_the_app_cannot_use_are_named_in_words(monkeypatch):
    from lib.config import proxy_problems

    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://{USER}:secret@proxy.corp.test:3128")
    assert proxy_problems() == []
    monkeypatch.setenv("all_proxy", "socks5h://user:sockspassword@127.0.0.1:1080")
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.corp.test:3129")
    said = " ".join(proxy_problems())
    assert "ALL_PROXY names a socks5h:// proxy" in said and "HTTPS_PROXY names an https:// proxy" in said
    assert "sockspassword" not in said


def test_demo_mode_works_behind_a_proxy_that_cannot_reach_this_machine(studio_env, proxy, monkeypatch):
    """Demo mode's emulator runs in the app's own process: its calls never go through the proxy."""
    from lib.config import resolve

    use_proxy(monkeypatch, proxy.url, "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy")
    cfgs = resolve()
    nowhere = SimpleNamespace(openai_base_url="", karlo_base_url="", gemini_base_url="", flux_base_url="")
    requests = {name: request for name, (_cfg, request, _path) in engine_calls(nowhere).items()}  # the requests only
    for name, request in requests.items():
        assert cfgs[name].mode == "demo"
        outcome = send(cfgs[name], request)
        assert outcome.error is None, f"{name} in demo mode behind a proxy: {outcome.error.message}"
    assert proxy.requests == [], "demo calls went to the proxy"
