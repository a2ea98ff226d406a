"""Keys from the environment and from the sidebar never reach the ledger, the image store, an export,
the server log or any page text (a live app, pointed at the emulator, used through the browser)."""
import pytest

from tests.browser_support import assert_no_exception, screenshot, start_app, stop_app, wait_for_app

pytestmark = pytest.mark.browser

ENV_KEY = "sk-envsecret-5f2b9c1e7d3a48b6"
SIDEBAR_KEY = "kakao-sidebar-secret-8c1d2e3f4a5b"


@pytest.fixture
def live_app(tmp_path, emulator, chromium_path):
    proc, app = start_app(
        tmp_path / "data", tmp_path / "streamlit.log",
        OPENAI_API_KEY=ENV_KEY, OPENAI_BASE_URL=emulator.openai_base_url, KARLO_BASE_URL=emulator.karlo_base_url,
        STUDIO_DEMO="0",
    )
    yield app
    stop_app(proc)


def _everything_written(app) -> list[tuple[str, bytes]]:
    files = [(str(p), p.read_bytes()) for p in app["data_dir"].rglob("*") if p.is_file()]
    return files + [("server log", app["log"].read_bytes())]


def test_keys_never_leave_memory(live_app, page, tmp_path):
    url = live_app["url"]
    page.goto(url)
    wait_for_app(page)
    # a Kakao key typed in the sidebar, for this session only
    page.get_by_text("API keys for this session").click()
    box = page.get_by_role("textbox", name="Kakao REST API key (Karlo)")  # the label, not its help button
    box.fill(SIDEBAR_KEY)
    box.press("Enter")
    wait_for_app(page)
    texts = [page.inner_text("body")]

    page.get_by_role("link", name="Generate").first.click()
    wait_for_app(page)
    prompt = page.locator("[data-testid='stMain']").get_by_role("textbox", name="Prompt", exact=True)
    prompt.fill("a kite over a field")
    prompt.press("Tab")
    wait_for_app(page)
    page.locator("[data-testid='stMain']").get_by_role("button", name="Generate", exact=True).click()
    wait_for_app(page)
    assert_no_exception(page)
    assert "live" in page.inner_text("body")
    texts.append(page.inner_text("body"))

    page.get_by_role("link", name="Karlo").first.click()
    wait_for_app(page)
    karlo_prompt = page.locator("[data-testid='stMain']").get_by_role("textbox", name="Prompt (English, up to 256 characters)")
    karlo_prompt.fill("a fox [fault:-401]")  # a refused key: the error text must not echo it
    karlo_prompt.press("Tab")
    wait_for_app(page)
    page.locator("[data-testid='stMain']").get_by_role("button", name="Generate", exact=True).click()
    wait_for_app(page)
    texts.append(page.inner_text("body"))
    assert "code -401" in texts[-1], "the Karlo call went out live with the sidebar key and was refused"

    page.get_by_role("link", name="Usage ledger").first.click()
    wait_for_app(page)
    with page.expect_download() as download:
        page.locator("[data-testid='stMain']").get_by_role("button", name="CSV", exact=True).click()
    export = open(download.value.path(), "rb").read()
    texts.append(page.inner_text("body"))
    screenshot(page, "10-secrets-ledger")

    assert b"a kite over a field" in export, "the export holds the calls: the scan below proves something"
    for secret in (ENV_KEY, SIDEBAR_KEY):
        for name, data in _everything_written(live_app) + [("CSV export", export)]:
            assert secret.encode() not in data, f"{secret[:8]}… found in {name}"
        for text in texts:
            assert secret not in text, f"{secret[:8]}… shown on a page"
