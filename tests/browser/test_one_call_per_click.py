"""Five quick clicks on Generate make one billed call and show its picture, even though the clicks rerun the
page while the call is in flight (lib.ui.jobs); two people at once each get their own call.  The same for
Compare, the Pipeline and Chat: quick clicks send once, and a visit to another page while the call is out
neither cancels it nor loses what it brought back."""
from __future__ import annotations

import json
import sqlite3

import pytest

from lib.pipeline import STEPS
from tests.browser_support import assert_no_exception, screenshot, start_app, stop_app, wait_for_app

pytestmark = pytest.mark.browser
MODEL_STEPS = [s.name for s in STEPS if s.uses_model]


@pytest.fixture
def slow_app(tmp_path, chromium_path):
    """The app in demo mode where every provider call takes 2 s: time enough to click again."""
    proc, app = start_app(tmp_path / "data", tmp_path / "streamlit.log", STUDIO_DEMO_LATENCY_MS="2000")
    yield app
    stop_app(proc)


def generate_rows(app) -> list[tuple]:
    return page_rows(app, "generate")


def page_rows(app, page_name: str) -> list[tuple]:
    with sqlite3.connect(app["data_dir"] / "ledger.sqlite3") as db:
        return db.execute("SELECT id, status, prompt, group_id, action FROM calls WHERE page = ?",
                          (page_name,)).fetchall()


def main_button(page, name: str):
    return page.locator("[data-testid='stMain']").get_by_role("button", name=name, exact=True).first


def go_to(page, link: str) -> None:
    """Another page of the same session, as a person gets there: the sidebar's link (not a new URL)."""
    page.get_by_role("link", name=link).first.click()
    wait_for_app(page)


def fill_prompt(page, text: str) -> None:
    box = page.locator("[data-testid='stMain']").get_by_role("textbox", name="Prompt", exact=True)
    box.fill(text)
    box.press("Tab")
    wait_for_app(page)


def click_fast(page, times: int, name: str = "Generate") -> None:
    button = main_button(page, name)
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


def test_quick_clicks_on_compare_send_one_comparison_and_a_page_visit_does_not_cancel_it(slow_app, page):
    from lib.providers import registry

    engines = len(registry.ids())
    page.goto(slow_app["url"] + "/compare")
    wait_for_app(page)
    box = page.get_by_label("Prompt — or several, one per line")
    box.fill("a paper boat on a puddle")
    box.press("Tab")
    wait_for_app(page)
    main_button(page, "Compare").click()
    page.get_by_role("button", name="Cancel").wait_for(timeout=30_000)  # the run is out
    click_fast(page, 3, "Compare")  # greyed out now: these send nothing
    go_to(page, "Usage ledger")  # leave while the engines are still out (each takes 2 s)
    page.wait_for_timeout(500)
    go_to(page, "Compare")
    try:
        page.get_by_text(f"{engines} ok").wait_for(timeout=60_000)
    finally:
        screenshot(page, "compare-one-run-per-click")
    assert_no_exception(page)
    rows = page_rows(slow_app, "compare")
    assert len({r[3] for r in rows}) == 1, "one comparison, not one per click"
    assert sorted(r[1] for r in rows) == ["ok"] * engines, rows
    expect_pictures = page.locator("[data-testid='stMain'] [data-testid='stImage']")
    assert expect_pictures.count() >= engines
    assert main_button(page, "Compare").is_enabled()
    screenshot(page, "compare-one-run-per-click")


def test_quick_clicks_on_the_pipeline_run_the_chain_once(slow_app, page):
    page.goto(slow_app["url"] + "/pipeline")
    wait_for_app(page)
    main_button(page, "Run the chain").click()
    page.get_by_text("Running the chain…").wait_for(timeout=30_000)  # the chain is out
    click_fast(page, 3, "Run the chain")  # greyed out now: these send nothing
    go_to(page, "Home")
    go_to(page, "Imagination pipeline")
    page.get_by_text("Final image prompt").wait_for(timeout=90_000)
    wait_for_app(page)
    assert_no_exception(page)
    rows = page_rows(slow_app, "pipeline")
    assert len({r[3] for r in rows}) == 1, "one chain, not one per click"
    with sqlite3.connect(slow_app["data_dir"] / "ledger.sqlite3") as db:
        steps = [json.loads(p)["step"] for (p,) in db.execute("SELECT params FROM calls WHERE page = 'pipeline'")]
    assert len(steps) == len(set(steps)) == len(MODEL_STEPS), f"each step once: {steps}"
    assert all(r[1] == "ok" for r in rows), rows
    screenshot(page, "pipeline-one-run-per-click")


def test_a_chat_reply_survives_a_page_visit_and_a_second_enter_sends_nothing(slow_app, page):
    page.goto(slow_app["url"] + "/chat")
    wait_for_app(page)
    box = page.locator("[data-testid='stChatInputTextArea']")
    box.fill("Describe a lighthouse on Mars")
    box.press("Enter")
    for _ in range(3):  # the box is greyed out while the reply is written: Enter does nothing
        try:
            box.press("Enter", timeout=300)
        except Exception:
            pass
    go_to(page, "Home")
    page.wait_for_timeout(2500)
    go_to(page, "Chat")
    reply = page.locator("[data-testid='stChatMessage']").nth(1)
    reply.wait_for(timeout=30_000)
    page.get_by_text("ms total").first.wait_for(timeout=30_000)  # the reply's ledger facts: it was recorded
    assert_no_exception(page)
    rows = page_rows(slow_app, "chat")
    assert [(r[1], r[2]) for r in rows] == [("ok", "Describe a lighthouse on Mars")], rows
    assert page.locator("[data-testid='stChatMessage']").count() == 2
    screenshot(page, "chat-reply-after-page-visit")
