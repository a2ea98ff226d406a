"""A person's walk through the app in headless Chromium, in demo mode, with a screenshot per step."""
import pytest

from tests.browser.conftest import assert_no_exception, screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_home_shows_providers_in_demo_mode(app_server, page):
    page.goto(app_server["url"])
    wait_for_app(page)
    assert_no_exception(page)
    body = page.locator("[data-testid='stMain']").inner_text()
    assert "Demo mode for OpenAI and Karlo" in body
    assert "Live spend today" in body
    screenshot(page, "01-home")
