"""The Generate page driven with AppTest in demo mode: images land in the store and the ledger, errors keep the prompt."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def page(studio_env):
    catalog.forget_available_models()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at.run()
    at.switch_page("pages/generate.py")
    at.run()
    assert not at.exception, at.exception
    return at


def generate_button(at):
    return next(b for b in at.button if b.label == "Generate")


def ledger_rows():
    from lib.store import open_store

    _store, ledger = open_store()
    return ledger.rows()


def test_generating_two_images_stores_both_and_prices_the_row(page):
    page.text_area(key="gen_prompt").set_value("a lighthouse on a cliff at dusk")
    page.selectbox(key="gen_size").set_value("1024x1024")
    page.selectbox(key="gen_quality").set_value("low")
    page.number_input(key="gen_n").set_value(2)
    generate_button(page).click()
    page.run()
    assert not page.exception, page.exception
    assert not page.error, [e.value for e in page.error]

    rows = ledger_rows()
    assert len(rows) == 1
    row = rows[0]
    assert (row.page, row.action, row.status, row.backend) == ("generate", "generate", "ok", "demo")
    assert row.model == "gpt-image-2" and row.n_images == 2 and len(row.output_refs) == 2
    assert (row.width, row.height) == (1024, 1024)
    assert row.cost_usd is not None and row.cost_usd > 0 and row.cost_source in ("computed", "table")
    assert row.params["quality"] == "low" and row.params["n"] == 2
    assert len(page.image) == 2  # the result card shows both pictures
    assert any("$" in c.value for c in page.caption)  # ... and what they cost
    assert any(b.label == "Download all (.zip)" for b in page.download_button)
    assert page.text_area(key="gen_prompt").value == "a lighthouse on a cliff at dusk"

    # "Reuse these settings" brings the prompt and settings back after they were changed.
    page.text_area(key="gen_prompt").set_value("something else")
    page.number_input(key="gen_n").set_value(1)
    page.run()
    next(b for b in page.button if b.label == "Reuse these settings").click()
    page.run()
    assert not page.exception, page.exception
    assert page.text_area(key="gen_prompt").value == "a lighthouse on a cliff at dusk"
    assert page.number_input(key="gen_n").value == 2 and page.selectbox(key="gen_quality").value == "low"


def test_invalid_custom_size_says_what_to_change_and_sends_nothing(page, monkeypatch):
    page.text_area(key="gen_prompt").set_value("a red fox in snow")
    page.selectbox(key="gen_size").set_value("Custom…")
    page.run()
    page.text_input(key="gen_custom_size").set_value("1000x1024")
    generate_button(page).click()
    page.run()
    assert not page.exception, page.exception
    assert [e.value for e in page.error] == ["Width 1000 is not a multiple of 16: use 992 or 1008."]
    assert page.text_area(key="gen_prompt").value == "a red fox in snow"
    rows = ledger_rows()  # nothing was sent, but the refusal leaves its trace
    assert [(r.status, r.error_code, r.http_status) for r in rows] == [("rejected", "invalid_request", None)]
    assert "multiple of 16" in rows[0].error_message

    # A fixed-size model retiring soon: warned, and the custom size gives way to one it can make.
    # Which model and which day come from the catalog: three days before a fixed-size model's shutdown.
    soon = next(m for m in catalog.load().images if m.sizes and m.retires and m.replacement and not m.legacy)
    monkeypatch.setenv("STUDIO_TODAY", (soon.retires - timedelta(days=3)).isoformat())
    page.run()
    page.selectbox(key="gen_model").set_value(soon.id)
    page.run()
    assert any(f"retires on {soon.retires.isoformat()} (in 3 days)" in w.value and soon.replacement in w.value
               for w in page.warning), [w.value for w in page.warning]
    assert page.selectbox(key="gen_size").value == "auto" and not page.text_input
    assert page.text_area(key="gen_prompt").value == "a red fox in snow"


def test_injected_rate_limit_shows_the_message_keeps_the_prompt_and_records_an_error_row(page):
    prompt = "a red fox in snow [fault:429]"
    page.text_area(key="gen_prompt").set_value(prompt)
    generate_button(page).click()
    page.run()
    assert not page.exception, page.exception
    assert any("rate limit" in e.value for e in page.error), [e.value for e in page.error]
    assert page.text_area(key="gen_prompt").value == prompt
    rows = ledger_rows()
    assert len(rows) == 1
    assert (rows[0].status, rows[0].http_status, rows[0].error_code) == ("error", 429, "rate_limit_exceeded")
    assert rows[0].cost_usd is None and rows[0].cost_source == "unpriced"


def test_streamed_previews_end_in_a_final_card(page):
    page.text_area(key="gen_prompt").set_value("a kite over green hills")
    page.slider(key="gen_partials").set_value(2)
    generate_button(page).click()
    page.run()
    assert not page.exception, page.exception
    row = ledger_rows()[0]
    assert row.status == "ok" and row.ttft_ms is not None and row.params["partial_images"] == 2


def test_prompts_and_settings_handed_over_by_other_pages_fill_the_form_once(studio_env):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at.session_state["prompt_for_generate"] = "a castle made of glass"  # e.g. from the Chat page
    at.run()
    at.switch_page("pages/generate.py")
    at.run()
    assert at.text_area(key="gen_prompt").value == "a castle made of glass"
    assert "prompt_for_generate" not in at.session_state

    at.session_state["reuse"] = {"page": "generate", "prompt": "a blue whale", "model": "gpt-image-2.5-flare",
                                 "params": {"size": "1536x864", "quality": "xhigh", "n": 3, "output_format": "webp"}}
    at.run()
    assert not at.exception, at.exception
    assert at.text_area(key="gen_prompt").value == "a blue whale"
    assert at.selectbox(key="gen_model").value == "gpt-image-2.5-flare"
    assert at.selectbox(key="gen_size").value == "1536x864"
    assert at.selectbox(key="gen_quality").value == "xhigh"
    assert at.selectbox(key="gen_format").value == "webp"
    assert at.number_input(key="gen_n").value == 3
    assert "reuse" not in at.session_state
