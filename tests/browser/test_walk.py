"""A person's walk through the app in headless Chromium, in demo mode, with a screenshot per step."""
import io
from pathlib import Path

import pytest
from PIL import Image

from tests.browser_support import assert_no_exception, screenshot, wait_for_app

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
    from lib.providers import registry

    banner = body[body.index("Demo mode for"):].split(":")[0]
    assert all(registry.label(engine_id) in banner for engine_id in registry.ids()), banner  # every engine, by name
    assert "Live spend today" in body
    screenshot(page, "01-home")


# ---- the walk: each step is what a person does on one page, checked on screen -------------------------



def _png(size=(256, 256), color=(40, 90, 160), hole=False) -> bytes:
    """A photo-like square, or (hole=True) a mask: opaque with a transparent square to edit."""
    image = Image.new("RGBA", size, color + (255,))
    if hole:
        image.paste((0, 0, 0, 0), (64, 64, 192, 192))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _open(page, app_server, path: str) -> None:
    page.goto(app_server["url"] + path)
    wait_for_app(page)
    assert_no_exception(page)


def _main(page):
    return page.locator("[data-testid='stMain']")


def _type(page, label: str, text: str) -> None:
    """Type into a text box and leave it, which is when Streamlit takes the value."""
    box = _main(page).get_by_role("textbox", name=label, exact=True)
    box.fill(text)
    box.press("Tab")
    wait_for_app(page)


def _click(page, name: str) -> None:
    _main(page).get_by_role("button", name=name, exact=True).first.click()
    wait_for_app(page)


def _images_loaded(page, minimum: int = 1) -> int:
    """How many images in the main area have really loaded (decoded, non-zero size)."""
    page.wait_for_function(
        f"""() => [...document.querySelectorAll("[data-testid='stMain'] img")]
                 .filter(i => i.complete && i.naturalWidth > 0).length >= {minimum}""",
        timeout=60_000,
    )
    return page.evaluate("""() => [...document.querySelectorAll("[data-testid='stMain'] img")]
                             .filter(i => i.complete && i.naturalWidth > 0).length""")


def _upload(page, index: int, name: str, data: bytes, mime: str = "image/png") -> None:
    page.locator("[data-testid='stMain'] [data-testid='stFileUploaderDropzoneInput']").nth(index).set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    page.wait_for_timeout(500)
    wait_for_app(page)


def test_generate(app_server, page):
    _open(page, app_server, "/generate")
    _type(page, "Prompt", "a lighthouse on a cliff at dusk, oil painting")
    _click(page, "Generate")
    assert _images_loaded(page) >= 1
    assert_no_exception(page)
    text = _main(page).inner_text()
    assert "demo" in text and "$" in text, "the result card shows the demo badge and a cost"
    screenshot(page, "02-generate")


def test_edit_with_uploaded_image_and_mask(app_server, page):
    _open(page, app_server, "/edit")
    _upload(page, 0, "photo.png", _png())
    _upload(page, 1, "mask.png", _png(color=(0, 0, 0), hole=True))
    _type(page, "What should change?", "a red balloon")
    _click(page, "Edit image")
    assert _images_loaded(page) >= 2
    assert_no_exception(page)
    screenshot(page, "03-edit")


def test_variation(app_server, page):
    _open(page, app_server, "/variations")
    _upload(page, 0, "photo.png", _png(color=(200, 120, 40)))
    _click(page, "Make variations")
    assert _images_loaded(page) >= 2
    assert_no_exception(page)
    screenshot(page, "04-variations")


def test_chat_streams_a_reply(app_server, page):
    _open(page, app_server, "/chat")
    box = page.locator("[data-testid='stChatInputTextArea']")
    box.fill("Imagine an animal that does not exist")
    box.press("Enter")
    wait_for_app(page)
    messages = page.locator("[data-testid='stChatMessage']")
    assert messages.count() >= 2
    assert len(messages.last.inner_text().strip()) > 20, "the assistant's reply is on screen"
    assert_no_exception(page)
    screenshot(page, "05-chat")


def test_pipeline(app_server, page):
    _open(page, app_server, "/pipeline")
    _type(page, "Your idea", "화성에 정착한 인간의 집")
    _click(page, "Run the chain")
    assert_no_exception(page)
    text = _main(page).inner_text()
    assert "," in text
    _click(page, "Generate")
    assert _images_loaded(page) >= 1
    assert_no_exception(page)
    screenshot(page, "06-pipeline")


def test_karlo(app_server, page):
    _open(page, app_server, "/karlo")
    _type(page, "Prompt (English, up to 256 characters)", "a red fox in the snow, watercolor")
    _click(page, "Generate")
    assert _images_loaded(page) >= 1
    assert_no_exception(page)
    screenshot(page, "07-karlo")


def test_compare_three_targets_and_vote(app_server, page):
    _open(page, app_server, "/compare")
    _type(page, "Prompt — or several, one per line", "a paper boat on a stormy sea")
    targets_before = _main(page).get_by_role("button", name="Remove").count()
    _main(page).get_by_text("Add a target").click()
    quality = _main(page).locator("[data-testid='stExpander'] [data-testid='stSelectbox']").filter(has_text="Quality")
    quality.locator("input").click()
    page.keyboard.type("low")  # the same model again, cheaper settings
    page.keyboard.press("Enter")
    wait_for_app(page)
    _click(page, "Add target")
    targets = _main(page).get_by_role("button", name="Remove").count()
    assert targets == targets_before + 1 >= 3
    _click(page, "Compare")
    assert _images_loaded(page) >= 3
    assert_no_exception(page)
    votes = _main(page).locator("[data-testid='stButtonGroup']").first.locator("button")
    assert votes.count() == targets + 2  # every target, tie, both bad
    votes.first.click()
    wait_for_app(page)
    board = _main(page).inner_text()
    assert "No votes yet" not in board, "the vote reached the leaderboard"
    assert_no_exception(page)
    screenshot(page, "08-compare")


def test_ledger_filter_and_csv(app_server, page):
    from lib.config import ProviderConfig
    from lib.store import record_call

    demo = ProviderConfig("openai", "demo", "http://127.0.0.1:9/v1", "demo-key")
    for prompt in ("a lighthouse in fog", "a paper boat at noon"):  # rows of our own, whatever ran before
        record_call("generate", "generate", demo, prompt=prompt, model="gpt-image-2", data_dir=app_server["data_dir"])
    _open(page, app_server, "/ledger")
    calls = lambda: _main(page).locator("[data-testid='stMetric']").filter(has_text="Calls").first.inner_text()  # noqa: E731
    everything = calls()
    _type(page, "Search prompts", "lighthouse")
    assert calls() != everything, "the text filter narrowed the rows"
    with page.expect_download() as download_info:
        _main(page).get_by_role("button", name="CSV", exact=True).click()
    csv_text = Path(download_info.value.path()).read_text()
    assert "lighthouse" in csv_text and "paper boat" not in csv_text
    assert_no_exception(page)
    screenshot(page, "09-ledger")
