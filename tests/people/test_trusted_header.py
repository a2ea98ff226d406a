"""Two people told apart by an authenticating proxy's header, in a real browser: the header each browser context
sends (Playwright's extra_http_headers, as a proxy would add it) reaches Streamlit's st.context.headers."""
from __future__ import annotations

import pytest

from lib.store import open_store
from tests.browser_support import screenshot, start_app, stop_app

from .steps import exported, generate, main, open_page, sidebar, visible

pytestmark = pytest.mark.browser

HEADER = "X-Forwarded-User"
PROMPTS = {"carol": "carol's green lantern in fog", "dave": "dave's orange tractor at noon"}


@pytest.fixture(scope="module")
def proxied_app(chromium_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("behind-proxy")
    proc, app = start_app(folder / "data", folder / "streamlit.log", STUDIO_TRUSTED_USER_HEADER=HEADER, STUDIO_ADMINS="dave")
    try:
        yield app
    finally:
        stop_app(proc)


@pytest.fixture(scope="module")
def pages(browser, proxied_app):
    contexts = {name: browser.new_context(viewport={"width": 1400, "height": 1400},
                                          extra_http_headers={HEADER: name} if name != "stranger" else {})
                for name in ("stranger", *PROMPTS)}
    opened = {name: context.new_page() for name, context in contexts.items()}
    for page in opened.values():
        page.set_default_timeout(60_000)
    yield opened
    for context in contexts.values():
        context.close()


def test_a_request_without_the_header_gets_a_sentence_and_nothing_else(proxied_app, pages):
    page = pages["stranger"]
    open_page(page, proxied_app, "/generate")
    visible(page.get_by_text("this request did not come through it"))
    body = page.inner_text("body")
    assert "Usage ledger" not in body and "Prompt" not in body
    screenshot(page, "people-10-no-proxy-header")


def test_the_header_names_each_person_and_each_sees_only_their_own_calls(proxied_app, pages):
    for name, role in (("carol", "member"), ("dave", "admin")):
        generate(pages[name], proxied_app, PROMPTS[name])
        assert f"Signed in as {name} · {role}" in sidebar(pages[name]).inner_text()
        assert not sidebar(pages[name]).get_by_role("button", name="Sign out").count()  # the proxy's business
    rows = open_store(proxied_app["data_dir"])[1].rows()
    assert {(r.person, r.prompt) for r in rows} == {(f"header:{name}", text) for name, text in PROMPTS.items()}
    open_page(pages["carol"], proxied_app, "/ledger")
    visible(main(pages["carol"]).get_by_text("1 call(s) of yours"))
    assert list(exported(pages["carol"])["prompt"]) == [PROMPTS["carol"]]
    screenshot(pages["carol"], "people-11-carol-ledger-behind-proxy")
    open_page(pages["dave"], proxied_app, "/ledger")
    assert set(exported(pages["dave"])["person"]) == {"header:carol", "header:dave"}
