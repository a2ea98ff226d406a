"""A person's walk through the app in headless Chromium, in demo mode, with a screenshot per step."""
import pytest

from tests.browser.conftest import assert_no_exception, screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_first_visit_straight_to_a_page_gets_the_whole_app(app_server, page):
    """Runs first, on the fresh server: without the fix Streamlit's legacy pages/ mode shows the page alone."""
    page.goto(app_server["url"] + "/karlo")
    wait_for_app(page)
    assert_no_exception(page)
    body = page.inner_text("body")
    assert "API keys for this session" in body, "the sidebar of streamlit_app.py is missing"
    assert "Usage ledger" in body, "the page list of st.navigation is missing"
    screenshot(page, "00-direct-karlo")


def test_home_shows_providers_in_demo_mode(app_server, page):
    page.goto(app_server["url"])
    wait_for_app(page)
    assert_no_exception(page)
    body = page.locator("[data-testid='stMain']").inner_text()
    assert "Demo mode for OpenAI and Karlo" in body
    assert "Live spend today" in body
    screenshot(page, "01-home")
