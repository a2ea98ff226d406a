"""Variations lists every engine that can vary: GPT Image via edits, Gemini and FLUX by reference editing, Karlo's own."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from lib.providers import registry
from lib.providers.base import VARIATION
from lib.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("engine, endpoint", [("karlo", "/v2/inference/karlo/variations"), ("flux", "/v1/flux-2-pro"),
                                              ("gemini", "/v1beta/models/gemini-3-pro-image:generateContent")])
def test_an_engine_other_than_openai_makes_variations_from_the_page(studio_env, engine, endpoint):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/variations.py").run()
    radio = at.radio(key="var_engine")
    assert {registry.label(e.id) for e in registry.engines() if e.models(None, VARIATION)} <= set(radio.options)
    radio.set_value(engine).run()
    at.file_uploader(key="var_upload").set_value(("cat.png", png(), "image/png")).run()
    at.button(key="var_send").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [row] = open_store()[1].rows()
    assert (row.provider, row.action, row.status, row.endpoint) == (engine, "variation", "ok", endpoint)
    assert row.input_refs and row.output_refs
