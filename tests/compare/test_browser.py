"""Cancel in a real browser: Streamlit stops the running script, the finished row stays, the rest is recorded as cancelled."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import app_server, assert_no_exception, browser, chromium_path, page, wait_for_app  # noqa: F401

pytestmark = pytest.mark.browser


def test_cancel_keeps_the_finished_row_and_records_the_rest(app_server, page):  # noqa: F811
    page.goto(app_server["url"] + "/compare")
    wait_for_app(page)
    assert_no_exception(page)
    page.get_by_label("Prompt — or several, one per line").fill("a red fox\n[latency:30000] an owl that takes forever")
    page.get_by_role("button", name="Compare", exact=True).click()
    # The fast row (OpenAI and Karlo) fills in while the slow one is still out.
    expect(page.locator("[data-testid='stImage']")).to_have_count(2, timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    wait_for_app(page)
    assert_no_exception(page)
    body = page.locator("[data-testid='stMain']").inner_text()
    assert "Stopped: the finished results are kept" in body
    assert "2 cancelled" in body and "2 ok" in body

    from lib.store import open_store

    _, ledger = open_store(app_server["data_dir"])
    frame = ledger.frame(pages="compare")
    assert sorted(frame["status"].astype(str)) == ["cancelled", "cancelled", "ok", "ok"]
    assert frame["group_id"].nunique() == 1
