"""Stopping a reply mid-stream in a real browser: the reply's Stop button is pressed while the page waits for it.

AppTest runs a page to its end before it can click anything, so only a real
Streamlit server can press Stop mid-stream; this is the test that proves the
partial reply is kept and recorded.
"""
from __future__ import annotations

import time

import pytest

from lib.store import open_store

pytestmark = pytest.mark.browser


def test_stop_mid_stream_keeps_the_partial_reply_and_records_it_cancelled(app_server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(app_server["url"])
        page.get_by_role("link", name="Chat").first.click()
        box = page.locator("[data-testid='stChatInputTextArea']")
        box.wait_for(timeout=30_000)
        # The emulator waits 2.5 s, then spreads the reply over about 1.5 s more.
        box.fill("Describe a lighthouse on Mars [latency:2500]")
        box.press("Enter")
        reply = page.locator("[data-testid='stChatMessage']").nth(1)
        reply.wait_for(timeout=30_000)
        deadline = time.monotonic() + 30
        while "Picture" not in reply.inner_text() and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        page.get_by_role("button", name="Stop").click()

        _, ledger = open_store(app_server["data_dir"])
        deadline = time.monotonic() + 15
        rows = []
        while not rows and time.monotonic() < deadline:
            rows = [r for r in ledger.rows() if r.action == "chat" and "lighthouse" in (r.prompt or "")
                    and r.status != "pending"]  # pending from before the call went out until the stop settles it
            time.sleep(0.1)
        assert rows, "the stopped turn wrote no ledger row"
        row = rows[-1]
        assert row.status == "cancelled"
        assert row.output_text and row.output_text.startswith("Picture")
        assert row.input_tokens is None and row.cost_source == "unpriced"

        # The next run shows the partial reply, marked as stopped.
        box.fill("thanks")
        box.press("Enter")
        page.get_by_text("Stopped before the end").wait_for(timeout=30_000)
        assert row.output_text.split()[0] in page.locator("[data-testid='stChatMessage']").nth(1).inner_text()
    finally:
        page.close()
