"""What a person does in the browser, step by step, for the people tests (each waits for the app to settle)."""
from __future__ import annotations

import pandas as pd

from tests.browser_support import assert_no_exception, wait_for_app


def visible(locator) -> None:
    """Wait (Playwright's own expect, up to its time-out) until ``locator`` shows: a rerun may still be drawing."""
    from playwright.sync_api import expect

    expect(locator).to_be_visible(timeout=30_000)


def main(page):
    return page.locator("[data-testid='stMain']")


def sidebar(page):
    return page.locator("[data-testid='stSidebar']")


def open_page(page, app, path: str) -> None:
    page.goto(app["url"] + path)
    wait_for_app(page)
    assert_no_exception(page)


def generate(page, app, prompt: str) -> None:
    open_page(page, app, "/generate")
    box = main(page).get_by_role("textbox", name="Prompt", exact=True)
    box.fill(prompt)
    box.press("Tab")
    wait_for_app(page)
    main(page).get_by_role("button", name="Generate", exact=True).first.click()
    wait_for_app(page)
    page.wait_for_function("""() => [...document.querySelectorAll("[data-testid='stMain'] img")]
                                    .some(i => i.complete && i.naturalWidth > 0)""", timeout=60_000)
    assert_no_exception(page)


def chat(page, app, words: str) -> None:
    open_page(page, app, "/chat")
    box = page.locator("[data-testid='stChatInputTextArea']")
    box.fill(words)
    box.press("Enter")
    page.locator("[data-testid='stChatMessage']").nth(1).wait_for()
    wait_for_app(page)
    assert_no_exception(page)


def search_ledger(page, app, text: str) -> str:
    open_page(page, app, "/ledger")
    box = main(page).get_by_role("textbox", name="Search prompts", exact=True)
    box.fill(text)
    box.press("Enter")
    wait_for_app(page)
    return main(page).inner_text()


def exported(page) -> pd.DataFrame:
    """The ledger table's rows as the page's own CSV export hands them to this person (the grid is a canvas)."""
    with page.expect_download() as download:
        page.locator(".st-key-ledger_csv button").click()
    return pd.read_csv(download.value.path())
