"""What the app fetches when a provider's reply points at a picture: its own origin or allow-listed delivery hosts
only, no internal address, redirects re-checked, at most 50 MB, and a total deadline however slow the bytes come."""
from __future__ import annotations

import time

import pytest

from lib.config import ProviderConfig
from lib.errors import ProviderDown
from lib.fetch import fetch_image
from lib.limits import DOWNLOAD_MAX_BYTES as MAX_RESULT_BYTES
from tests.security.hostile import HostileServer, drip, huge, png_bytes, redirect, serve_bytes, serve_json

PICTURE = png_bytes()


@pytest.fixture
def provider():
    """The provider's own server (the base URL's origin)."""
    server = HostileServer().start()
    yield server
    server.stop()


@pytest.fixture
def internal():
    """Another service on this machine that a reply must not reach (say, an admin API)."""
    server = HostileServer().start()
    server.routes["/secret"] = serve_bytes(PICTURE)
    yield server
    server.stop()


def refused(url: str, base_url: str, **kwargs) -> ProviderDown:
    with pytest.raises(ProviderDown) as caught:
        fetch_image(url, base_url=base_url, provider="openai", **kwargs)
    return caught.value


def test_own_origin_is_fetched_even_on_loopback(provider):
    provider.routes["/files/a.png"] = serve_bytes(PICTURE)
    assert fetch_image(provider.base + "/files/a.png?sig=1", base_url=provider.base + "/v1") == PICTURE


def test_off_origin_url_is_refused_and_never_requested(provider, internal):
    err = refused(internal.base + "/secret", provider.base + "/v1")
    assert err.code == "fetch_refused" and "neither its own server" in err.message and "127.0.0.1" in err.message
    assert internal.hits("/secret") == 0


def test_redirect_to_an_internal_service_is_refused(provider, internal):
    provider.routes["/files/a.png"] = redirect(internal.base + "/secret")
    err = refused(provider.base + "/files/a.png", provider.base + "/v1")
    assert "redirected to a picture on 127.0.0.1" in err.message and err.code == "fetch_refused"
    assert internal.hits("/secret") == 0 and provider.hits("/files/a.png") == 1


def test_redirect_within_the_origin_is_followed(provider):
    provider.routes["/files/a.png"] = redirect("/files/b.png", 307)
    provider.routes["/files/b.png"] = serve_bytes(PICTURE)
    assert fetch_image(provider.base + "/files/a.png", base_url=provider.base) == PICTURE


def test_a_delivery_host_that_resolves_to_an_internal_address_is_refused(provider):
    # allow-listed by name, but the name points inside: refused before any connection
    err = refused("https://localhost:1/x.png", provider.base, delivery_hosts=["localhost"])
    assert "private or local address" in err.message
    err = refused("https://169.254.169.254/latest/meta-data", "https://api.openai.com/v1",
                  delivery_hosts=["169.254.169.254"])
    assert "private or local address (169.254.169.254)" in err.message


def test_delivery_host_patterns_match_one_label_and_https_only():
    err = refused("https://delivery-eu1.bfl.ai.evil.example/x.png", "https://api.bfl.ai",
                  delivery_hosts=["delivery-*.bfl.ai"])
    assert "neither its own server (api.bfl.ai)" in err.message
    err = refused("http://delivery-eu1.bfl.ai/x.png", "https://api.bfl.ai", delivery_hosts=["delivery-*.bfl.ai"])
    assert "over plain http" in err.message
    err = refused("file:///etc/passwd", "https://api.bfl.ai")
    assert "only http and https links" in err.message


@pytest.mark.parametrize("declare_length", [True, False], ids=["declared", "undeclared"])
def test_a_700_mb_body_is_capped_without_reading_it_all(provider, declare_length):
    provider.routes["/files/big.png"] = huge(700 * 1024 * 1024, declare_length)
    started = time.monotonic()
    err = refused(provider.base + "/files/big.png", provider.base)
    assert err.code == "fetch_too_large" and "larger than 50 MB" in err.message
    time.sleep(0.2)  # let the server notice the hang-up
    sent = provider.body_bytes_sent
    assert sent < (70 if declare_length else MAX_RESULT_BYTES / 2**20 + 20) * 2**20, f"{sent / 2**20:.0f} MB sent"
    assert time.monotonic() - started < 20


def test_a_drip_ends_at_the_deadline(provider):
    # a byte every half second: no single read ever times out, only the total deadline can end it
    provider.routes["/files/slow.png"] = drip(0.5)
    started = time.monotonic()
    err = refused(provider.base + "/files/slow.png", provider.base, deadline_s=2.0)
    elapsed = time.monotonic() - started
    assert err.code == "fetch_timeout" and "took longer than 2 s" in err.message
    assert 1.9 <= elapsed < 3.5, elapsed


def test_headers_that_drip_also_end_at_the_deadline(provider):
    def slow_headers(h):
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(100):
            h.wfile.write(f"X-Slow-{i}: y\r\n".encode())
            h.wfile.flush()
            time.sleep(0.3)
    provider.routes["/files/slow-headers.png"] = slow_headers
    started = time.monotonic()
    err = refused(provider.base + "/files/slow-headers.png", provider.base, deadline_s=1.5)
    assert err.code == "fetch_timeout" and time.monotonic() - started < 3


# ------------------------------------------------------------------ through the providers, to the ledger

def _openai_cfg(server) -> ProviderConfig:
    return ProviderConfig("openai", "live", server.base + "/v1", "sk-hostile-test-0123456789", "environment")


def _answer_with_url(server, url: str) -> None:
    server.routes["/v1/models"] = serve_json({"object": "list", "data": [
        {"id": "dall-e-2", "object": "model", "created": 0, "owned_by": "x"}]})
    server.routes["/v1/images/generations"] = serve_json({"created": 0, "data": [{"url": url}]})


def _send_openai(cfg):
    from lib.send import Request, send

    return send(cfg, Request(engine="openai", action="generate", model="dall-e-2", prompt="a red fox",
                             settings={"size": "256x256", "n": 1}))


@pytest.mark.parametrize("case", ["off-origin", "redirect-internal", "too-big", "drip"])
def test_openai_url_answers_end_in_words_and_a_ledger_row(studio_env, provider, internal, case, monkeypatch):
    if case == "off-origin":
        _answer_with_url(provider, internal.base + "/secret")
    elif case == "redirect-internal":
        _answer_with_url(provider, provider.base + "/files/r.png")
        provider.routes["/files/r.png"] = redirect(internal.base + "/secret")
    elif case == "too-big":
        _answer_with_url(provider, provider.base + "/files/big.png")
        provider.routes["/files/big.png"] = huge(700 * 1024 * 1024, declare_length=False)
    else:
        _answer_with_url(provider, provider.base + "/files/slow.png")
        provider.routes["/files/slow.png"] = drip(0.5)
        monkeypatch.setattr("lib.limits.DOWNLOAD_TIMEOUT_S", 2.0)
    started = time.monotonic()
    outcome = _send_openai(_openai_cfg(provider))
    assert time.monotonic() - started < 15
    assert outcome.error is not None and outcome.result is None
    assert "The image was made but not downloaded" in outcome.error.message
    words = {"off-origin": "neither its own server", "redirect-internal": "redirected to a picture on",
             "too-big": "larger than 50 MB", "drip": "took longer than 2 s"}[case]
    assert words in outcome.error.message
    row = outcome.row
    assert row is not None and row.status == "error" and words in row.error_message and not row.output_refs
    assert internal.hits("/secret") == 0


def test_openai_url_on_its_own_origin_is_stored(studio_env, provider):
    _answer_with_url(provider, provider.base + "/files/ok.png?se=1")
    provider.routes["/files/ok.png"] = serve_bytes(PICTURE)
    outcome = _send_openai(_openai_cfg(provider))
    assert outcome.error is None, outcome.error and outcome.error.message
    assert outcome.row.status == "ok" and len(outcome.row.output_refs) == 1


def test_karlo_url_answer_off_origin_ends_in_words_and_a_ledger_row(studio_env, provider, internal):
    provider.routes["/v2/inference/karlo/t2i"] = serve_json(
        {"id": "k1", "model_version": "v2.1", "images": [{"id": "i1", "seed": 7, "image": internal.base + "/secret"}]})
    from lib.send import Request, send

    cfg = ProviderConfig("karlo", "live", provider.base, "kakao-hostile-test-0123456789", "environment")
    outcome = send(cfg, Request(engine="karlo", action="generate", model="karlo-v2.1", prompt="a red fox",
                                settings={"width": 512, "height": 512}, page="karlo"))
    assert outcome.error is not None and "neither its own server" in outcome.error.message
    assert outcome.row.status == "error" and "not downloaded" in outcome.row.error_message
    assert internal.hits("/secret") == 0


def test_through_the_environments_proxy_the_same_rules_hold(provider, monkeypatch):
    """Behind a proxy (HTTP_PROXY) a name may resolve only there: the provider's own origin is still fetched,
    through the proxy; an off-origin URL is still refused before anything is sent."""
    for var in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", provider.base)
    monkeypatch.setenv("http_proxy", provider.base)
    provider.routes["http://api.provider.test:80/files/a.png"] = serve_bytes(PICTURE)  # a forward proxy's view
    assert fetch_image("http://api.provider.test/files/a.png", base_url="http://api.provider.test/v1") == PICTURE
    err = refused("http://elsewhere.test/files/a.png", "http://api.provider.test/v1")
    assert "neither its own server" in err.message
    assert [p for _m, p, _h in provider.requests] == ["http://api.provider.test:80/files/a.png"]


def test_https_through_a_proxy_is_tunnelled_to_the_checked_host(provider, monkeypatch):
    for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", provider.base)
    monkeypatch.setenv("https_proxy", provider.base)
    # this proxy refuses the tunnel: the download fails in words, after a CONNECT to the allowed host only
    err = refused("https://delivery-eu1.bfl.test/results/a.png", "https://api.bfl.test",
                  delivery_hosts=["delivery-*.bfl.test"])
    assert err.code == "fetch_failed"
    assert [(m, p) for m, p, _h in provider.requests] == [("CONNECT", "delivery-eu1.bfl.test:443")]


# ------------------------------------------------------------------ the API calls themselves: no redirect is followed

@pytest.mark.parametrize("engine", ["openai", "karlo"])
def test_an_api_redirect_to_an_internal_service_is_not_followed(studio_env, provider, internal, engine):
    from lib.send import Request, send

    internal.routes["/admin"] = serve_json({"secret": "internal data"})
    if engine == "openai":
        _answer_with_url(provider, "unused")
        provider.routes["/v1/images/generations"] = redirect(internal.base + "/admin", 307)
        cfg = _openai_cfg(provider)
        request = Request(engine="openai", action="generate", model="gpt-image-2", prompt="a red fox",
                          settings={"size": "1024x1024"})
    else:
        provider.routes["/v2/inference/karlo/t2i"] = redirect(internal.base + "/admin", 307)
        cfg = ProviderConfig("karlo", "live", provider.base, "kakao-hostile-test-0123456789", "environment")
        request = Request(engine="karlo", action="generate", model="karlo-v2.1", prompt="a red fox", settings={},
                          page="karlo")
    outcome = send(cfg, request)
    assert internal.requests == []  # not reached, so nothing of it can be read back
    assert outcome.error is not None and "307" in outcome.error.message and "internal data" not in outcome.error.message
    assert outcome.row.status == "error"


def test_a_gemini_redirect_is_not_followed(studio_env, provider, internal):
    from lib.send import Request, send

    from lib.providers import registry

    internal.routes["/admin"] = serve_json({"secret": "internal data"})

    engine = registry.get("gemini")
    cfg = ProviderConfig("gemini", "live", provider.base, "gemini-hostile-test-0123456789", "environment")
    model = engine.models(cfg, "generate")[0].id
    provider.routes[f"/v1beta/models/{model}:generateContent"] = redirect(internal.base + "/admin", 307)
    outcome = send(cfg, Request(engine="gemini", action="generate", model=model, prompt="a red fox", settings={},
                                page="generate"))
    assert provider.hits(f"/v1beta/models/{model}:generateContent") >= 1, provider.requests
    assert internal.requests == [] and outcome.error is not None and "internal data" not in outcome.error.message


def test_a_flux_redirect_is_not_followed_and_takes_no_key_along(studio_env, provider, internal):
    from lib.providers import registry
    from lib.send import Request, send

    engine = registry.get("flux")
    cfg = ProviderConfig("flux", "live", provider.base, "bfl-hostile-test-0123456789", "environment")
    model = engine.models(cfg, "generate")[0].id
    provider.routes[f"/v1/{model}"] = redirect(internal.base + "/admin", 307)
    outcome = send(cfg, Request(engine="flux", action="generate", model=model, prompt="a red fox", settings={},
                                page="generate"))
    assert provider.hits(f"/v1/{model}") == 1
    assert internal.requests == [] and outcome.error is not None and outcome.row.status == "error"
