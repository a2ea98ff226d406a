"""What a person typed on a page is still there after a visit to another page (the entry point keeps it).

Streamlit forgets a widget's value at the end of a run that did not draw it; a page that re-set its own values
only when it ran could not stop that, so a prompt typed on Compare was gone after a look at the ledger.
"""
from __future__ import annotations

import pytest

from tests.browser_support import assert_no_exception, wait_for_app

pytestmark = pytest.mark.browser

# (page path, its link in the sidebar, the box's label)
BOXES = [
    ("compare", "Compare", "Prompt — or several, one per line"),
    ("generate", "Generate", "Prompt"),
    ("pipeline", "Imagination pipeline", "Your idea"),
]


@pytest.mark.parametrize("path, link, label", BOXES, ids=[b[0] for b in BOXES])
def test_a_typed_prompt_survives_a_visit_to_the_ledger(app_server, page, path, link, label):
    page.goto(app_server["url"] + "/" + path)
    wait_for_app(page)
    box = page.locator("[data-testid='stMain']").get_by_label(label, exact=True).first
    box.fill(f"words typed on {path}")
    box.press("Tab")
    wait_for_app(page)
    page.get_by_role("link", name="Usage ledger").first.click()
    wait_for_app(page)
    page.get_by_role("link", name="Home").first.click()  # two pages away, not only one
    wait_for_app(page)
    page.get_by_role("link", name=link).first.click()
    wait_for_app(page)
    assert_no_exception(page)
    box = page.locator("[data-testid='stMain']").get_by_label(label, exact=True).first
    assert box.input_value() == f"words typed on {path}"
