"""Five quick clicks on Generate make one billed call and show its picture, even though the clicks rerun the
page while the call is in flight (lib.ui.jobs); two people at once each get their own call."""
from __future__ import annotations

import sqlite3

import pytest

from tests.browser_support import assert_no_exception, screenshot, start_app, stop_app, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture
def slow_app(tmp_path, chromium_path):
    """The app in demo mode where every provider call takes 2 s: time enough to click again."""
    proc, app = start_app(tmp_path / "data", tmp_path / "streamlit.log", STUDIO_DEMO_LATENCY_MS="2000")
    yield app
    stop_app(proc)


def generate_rows(app) -> list[tuple]:
    with sqlite3.connect(app["data_dir"] / "ledger.sqlite3") as db:
        return db.execute("SELECT id, status, prompt FROM calls WHERE page = 'generate'").fetchall()


def fill_prompt(page, text: str) -> None:
    box = page.locator("[data-testid='stMain']").get_by_role("textbox", name="Prompt", exact=True)
    box.fill(text)
    box.press("Tab")
    wait_for_app(page)


def click_fast(page, times: int) -> None:
    button = page.locator("[data-testid='stMain']").get_by_role("button", name="Generate", exact=True).first
    for _ in range(times):
        try:
            button.click(timeout=300, force=True, no_wait_after=True)
        except Exception:  # greyed out while the call runs: a person's click does nothing either
            pass
        page.wait_for_timeout(120)


def cards_with_pictures(page) -> int:
    page.wait_for_function("""() => [...document.querySelectorAll("[data-testid='stMain'] img")]
                                   .filter(i => i.complete && i.naturalWidth > 0).length >= 1""", timeout=60_000)
    return page.locator("[data-testid='stMain'] [data-testid='stImage']").count()


def test_five_quick_clicks_make_one_call_and_keep_its_picture(slow_app, page):
    page.goto(slow_app["url"] + "/generate")
    wait_for_app(page)
    fill_prompt(page, "a lighthouse on a cliff at dusk")
    click_fast(page, 5)
    wait_for_app(page)
    page.wait_for_timeout(2500)
    wait_for_app(page)
    assert_no_exception(page)
    rows = generate_rows(slow_app)
    assert [r[1] for r in rows] == ["ok"], rows
    assert cards_with_pictures(page) == 1
    generate = page.locator("[data-testid='stMain']").get_by_role("button", name="Generate", exact=True).first
    assert generate.is_enabled(), "once the picture is shown the button works again"
    screenshot(page, "one-call-per-click")


def test_two_people_at_once_each_get_their_own_picture(slow_app, browser):
    people = [browser.new_context(viewport={"width": 1400, "height": 1600}) for _ in range(2)]
    try:
        pages = [p.new_page() for p in people]
        for page, prompt in zip(pages, ("a red fox in snow", "a blue whale at night")):
            page.goto(slow_app["url"] + "/generate")
            wait_for_app(page)
            fill_prompt(page, prompt)
        for page in pages:
            click_fast(page, 2)
        for page in pages:
            wait_for_app(page)
            page.wait_for_timeout(2500)
            wait_for_app(page)
            assert_no_exception(page)
            assert cards_with_pictures(page) == 1
        assert sorted(r[2] for r in generate_rows(slow_app)) == ["a blue whale at night", "a red fox in snow"]
        screenshot(pages[1], "two-people-generate")
    finally:
        for context in people:
            context.close()
