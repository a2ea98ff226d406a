"""The Usage ledger page through AppTest, on a few seeded rows."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from lib.config import ProviderConfig
from lib.errors import QuotaExceeded
from lib.store import open_store, record_call
from lib.types import ChatTurn, GeneratedImage, ImageResult, Usage

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
LIVE_OPENAI = ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", "sk-ledger-page-key-0123456789", "environment")
DEMO_KARLO = ProviderConfig("karlo", "demo", "http://127.0.0.1:9", "demo-key", "demo")


def png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def seeded(studio_env):
    """Four calls: a live generation, a demo Karlo image, a live failure, a live chat turn."""
    usage = Usage(50, 1056, {"input_tokens_details": {"text_tokens": 50, "image_tokens": 0}})
    kite = record_call("generate", "generate", LIVE_OPENAI, ImageResult(
        "openai", "gpt-image-2", "/v1/images/generations", [GeneratedImage(png((200, 0, 0)))],
        params={"size": "1024x1024", "quality": "medium"}, usage=usage, latency_ms=1500.0), prompt="a red kite over the sea")
    whale = record_call("karlo", "t2i", DEMO_KARLO, ImageResult(
        "karlo", "karlo-v2", "/v2/inference/karlo/t2i", [GeneratedImage(png((0, 0, 200)), seed=4)], latency_ms=700.0),
        prompt="a blue whale")
    broken = record_call("generate", "generate", LIVE_OPENAI, error=QuotaExceeded(
        "OpenAI is rate limiting this key. Try again in 20 s.", http_status=429, code="rate_limit_exceeded"),
        model="gpt-image-2", prompt="a broken call", inputs=[png((0, 200, 0))], latency_ms=300.0)
    chat = record_call("chat", "chat", LIVE_OPENAI, ChatTurn("gpt-4o-mini", "Hello!", Usage(20, 5), latency_ms=400.0), prompt="hello")
    return {"kite": kite, "whale": whale, "broken": broken, "chat": chat}


@pytest.fixture
def at(seeded):
    app = AppTest.from_file(APP, default_timeout=30)
    app.switch_page("pages/ledger.py").run()  # straight to the ledger, as a bookmarked link would
    assert not app.exception, app.exception
    return app


def metric(at, label_start):
    return next(m.value for m in at.metric if m.label.startswith(label_start))


def table(at):
    return at.dataframe[0].value


def select(at, *positions):
    """Select table rows the way a click would: through the table's selection state."""
    key = at.dataframe[0].key
    at.session_state[key] = {"selection": {"rows": list(positions), "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception


def test_figures_count_every_call_but_spend_only_live(at, seeded):
    live_spend = seeded["kite"].cost_usd + seeded["chat"].cost_usd
    assert metric(at, "Calls") == "4"
    assert metric(at, "Spend (live)") == f"${live_spend:,.4f}"
    assert metric(at, "Images") == "2"
    assert metric(at, "Error rate") == "25.0%"
    assert (metric(at, "Latency p50"), metric(at, "Latency p95")) == ("0.6 s", "1.4 s")
    assert any("1 call(s) unpriced" in c.value for c in at.caption)


def test_table_lists_newest_first_with_thumbnails(at, seeded):
    shown = table(at)
    assert list(shown["id"]) == [seeded[k].id for k in ("chat", "broken", "whale", "kite")]
    thumbs = dict(zip(shown["id"], shown["image"]))
    assert thumbs[seeded["kite"].id].startswith("data:image/webp;base64,")
    assert thumbs[seeded["broken"].id].startswith("data:image/webp;base64,")  # its input image stands in
    assert not isinstance(thumbs[seeded["chat"].id], str)  # no picture: an empty cell


def test_filters_and_search_narrow_rows_and_figures(at, seeded):
    at.multiselect(key="ledger_filter_provider").set_value(["karlo"]).run()
    assert list(table(at)["id"]) == [seeded["whale"].id]
    assert metric(at, "Calls") == "1" and metric(at, "Spend (live)") == "$0.0000"
    at.multiselect(key="ledger_filter_provider").set_value([]).run()
    at.multiselect(key="ledger_filter_status").set_value(["error"]).run()
    assert list(table(at)["id"]) == [seeded["broken"].id]
    at.multiselect(key="ledger_filter_status").set_value([]).run()
    at.text_input(key="ledger_text").set_value("KITE").run()
    assert list(table(at)["id"]) == [seeded["kite"].id]
    assert (metric(at, "Calls"), metric(at, "Images"), metric(at, "Latency p50")) == ("1", "1", "1.5 s")
    assert metric(at, "Spend (live)") == f"${seeded['kite'].cost_usd:,.4f}"
    at.multiselect(key="ledger_filter_backend").set_value(["demo"]).run()  # a search and a filter together
    assert table(at).empty and metric(at, "Calls") == "0" and metric(at, "Latency p50") == "–"


def test_selecting_a_row_opens_its_record_and_reuse_fills_the_generate_page(at, seeded):
    select(at, 3)  # the kite, oldest
    assert any("gpt-image-2 · generate" in m.value for m in at.markdown)
    assert any(t.value == "a red kite over the sea" for t in at.text)
    at.button(key=f"ledger_reuse_{seeded['kite'].id}").click().run()
    assert not at.exception, at.exception
    assert at.text_area(key="gen_prompt").value == "a red kite over the sea"


def test_a_failed_call_shows_its_error(at, seeded):
    select(at, 1)
    assert any("rate limiting" in e.value for e in at.error)
    assert any("HTTP 429" in c.value and "rate_limit_exceeded" in c.value for c in at.caption)


def test_delete_asks_first_then_removes_the_row_and_its_unshared_images(at, seeded):
    store, ledger = open_store()
    input_sha = seeded["broken"].input_refs[0]
    select(at, 1)
    at.button(key="ledger_delete").click().run()
    assert ledger.get(seeded["broken"].id) is not None  # nothing gone before the confirmation
    at.button(key="ledger_delete_confirm").click().run()
    assert not at.exception, at.exception
    assert ledger.get(seeded["broken"].id) is None and not store.exists(input_sha)
    assert metric(at, "Calls") == "3"
    assert any("Deleted 1 row(s) and 1 image file(s)" in s.value for s in at.success)


def _every_page_warnings():
    """What the entry point (streamlit_app.py, which runs before every page) shows, from a fresh session."""
    from streamlit.testing.v1 import AppTest

    home = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "streamlit_app.py"), default_timeout=60)
    home.run()
    assert not home.exception, home.exception
    return [w.value for w in home.warning], [e.value for e in home.error]


def test_budget_warns_at_80_and_100_percent(at, seeded):
    live_spend = seeded["kite"].cost_usd + seeded["chat"].cost_usd
    at.number_input(key="budget_usd").set_value(round(live_spend / 0.9, 4)).run()
    assert open_store()[1].get_setting("monthly_budget_usd") == pytest.approx(live_spend / 0.9, abs=1e-4)
    warnings, errors = _every_page_warnings()
    assert any("of the team's" in w for w in warnings) and not any("budget" in e for e in errors)
    at.number_input(key="budget_usd").set_value(round(live_spend / 2, 4)).run()
    warnings, errors = _every_page_warnings()
    assert any("over the team's" in e for e in errors)
    at.number_input(key="budget_usd").set_value(0.0).run()
    warnings, errors = _every_page_warnings()
    assert not any("budget" in w for w in warnings) and not any("budget" in e for e in errors)


def test_a_long_ledger_is_shown_a_page_at_a_time(seeded):
    import sys

    sys.path.insert(0, str(Path(APP).parent))
    from bench.bench_ledger import synthetic_rows

    _, ledger = open_store()
    ledger.insert_many(synthetic_rows(446, days=5))
    app = AppTest.from_file(APP, default_timeout=90)
    app.switch_page("pages/ledger.py").run()
    assert metric(app, "Calls") == "450"
    assert len(table(app)) == 200 and seeded["kite"].id in set(table(app)["id"])  # newest first
    app.number_input(key="ledger_page_no").set_value(3).run()
    assert not app.exception, app.exception
    oldest = ledger.frame()["id"].iloc[-1]
    assert len(table(app)) == 50 and table(app)["id"].iloc[-1] == oldest


def test_a_huge_search_is_cut_and_said_not_a_traceback(studio_env):
    """Pasting 60,000 characters into the search used to end in SQLite's "pattern too complex" traceback."""
    from lib.store import report

    text, note = report.search_text("fox " * 14999 + "foxy")
    assert len(text) == report.SEARCH_MAX_CHARS and "60,000 characters" in note
    assert report.search_text("  a fox ") == ("a fox", None)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/ledger.py").run()
    at.text_input(key="ledger_text").set_value("x" * 60000).run()
    assert not at.exception, at.exception
