"""Cancel in a real browser: Streamlit stops the running script, the finished row stays, the rest is recorded as cancelled."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from lib.providers import registry
from tests.browser_support import assert_no_exception, screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_cancel_keeps_the_finished_row_and_records_the_rest(app_server, page):
    page.goto(app_server["url"] + "/compare")
    wait_for_app(page)
    assert_no_exception(page)
    page.get_by_label("Prompt — or several, one per line").fill("a red fox\n[latency:30000] an owl that takes forever")
    page.get_by_role("button", name="Compare", exact=True).click()
    # The fast row (every engine's default model) fills in while the slow one is still out.
    engines = len(registry.ids())
    expect(page.locator("[data-testid='stImage']")).to_have_count(engines, timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    try:
        expect(page.get_by_text("Stopped: the finished results are kept")).to_be_visible(timeout=20_000)
        expect(page.get_by_text(f"{engines} cancelled, {engines} ok")).to_be_visible()
    finally:
        screenshot(page, "compare-cancel")
    wait_for_app(page)
    assert_no_exception(page)

    from lib.store import open_store

    _, ledger = open_store(app_server["data_dir"])
    frame = ledger.frame(pages="compare")  # newest first; the app is shared with other browser tests
    frame = frame[frame["group_id"] == frame.iloc[0]["group_id"]]
    assert sorted(frame["status"].astype(str)) == ["cancelled"] * engines + ["ok"] * engines
