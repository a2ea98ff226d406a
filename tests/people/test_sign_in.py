"""Two people in one app, in a real browser: signed in through an OIDC provider (Streamlit's st.login against
``oidc-provider-mock``), or named by an authenticating proxy's header. Each sees only their own prompts and
chats; a member is never offered another's rows; the admin sees and deletes anyone's; every row names its person.

Each person is a separate browser context (their own cookies), all on one app process.
"""
from __future__ import annotations

import importlib.util
import json
import os
import secrets
import subprocess
import sys
import time

import pytest
import requests

from lib.people import NotAllowed, Person
from lib.store import open_store
from tests.browser_support import _free_port, assert_no_exception, screenshot, start_app, stop_app, wait_for_app
from tests.servers import stop_process

from .steps import chat, exported, generate, main, open_page, search_ledger, sidebar, visible

pytestmark = pytest.mark.browser

# Pre-set users on the provider's authorize page (one click each); bob is the admin by e-mail.
PEOPLE = {
    "alice": {"sub": "alice", "email": "alice@example.org", "name": "Alice Liddell"},
    "bob": {"sub": "bob", "email": "bob@example.org", "name": "Bob Dobbs"},
}
ADMINS = "bob@example.org"
PROMPTS = {"alice": "alice's red kite over the dunes", "bob": "bob's blue submarine under ice"}
CHATS = {"alice": "alice asks about kite strings", "bob": "bob asks about periscopes"}


def _skip_or_fail(message: str) -> None:
    if os.environ.get("STUDIO_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def oidc_provider(chromium_path, tmp_path_factory):
    """oidc-provider-mock on loopback (its own process) with alice and bob pre-set; yields its base URL."""
    for module, package in (("oidc_provider_mock", "oidc-provider-mock"), ("authlib", "Authlib")):
        if importlib.util.find_spec(module) is None:
            _skip_or_fail(f"{package} is not installed: `python -m pip install -r requirements-dev.txt` to run the sign-in tests.")
    port = _free_port()
    args = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for claims in PEOPLE.values():
        args += ["--user-claims", json.dumps(claims)]
    log = open(tmp_path_factory.mktemp("oidc-logs") / "provider.log", "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/.well-known/openid-configuration", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"oidc-provider-mock did not start within 30 s (see {log.name})")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture(scope="module")
def signed_in_app(oidc_provider, tmp_path_factory):
    """The app in demo mode with [auth] in a secrets file of its own (the repo's .streamlit/secrets.toml is not read)."""
    folder = tmp_path_factory.mktemp("sign-in")
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'  # Streamlit fills in its own port
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "imagine-studio"\n'
        f'client_secret = "{secrets.token_urlsafe(16)}"\n'
        f'server_metadata_url = "{oidc_provider}/.well-known/openid-configuration"\n'
    )
    proc, app = start_app(folder / "data", folder / "streamlit.log", STREAMLIT_SECRETS_FILES=str(secrets_file),
                          STUDIO_ADMINS=ADMINS)
    app["provider"] = oidc_provider
    try:
        yield app
    finally:
        stop_app(proc)


@pytest.fixture(scope="module")
def people(browser, signed_in_app):
    """One browser context per person (their own cookie jar), opened once and closed by the finalizer."""
    contexts = {name: browser.new_context(viewport={"width": 1400, "height": 1400}) for name in ("visitor", *PEOPLE)}
    pages = {name: context.new_page() for name, context in contexts.items()}
    for page in pages.values():
        page.set_default_timeout(60_000)
    yield pages
    for context in contexts.values():
        context.close()





def _key(app, name: str) -> str:
    return f"oidc:{app['provider']}|{PEOPLE[name]['sub']}"


def _rows(app):
    return open_store(app["data_dir"])[1].rows()


def test_a_visitor_not_signed_in_sees_the_sign_in_button_and_nothing_else(signed_in_app, people):
    """First visit on a fresh server, straight to the Chat page's address."""
    page = people["visitor"]
    open_page(page, signed_in_app, "/chat")
    visible(page.get_by_role("button", name="Sign in"))
    wait_for_app(page)
    body = page.inner_text("body")
    assert "Sign in to use the studio" in body
    for hidden in ("Conversations", "New conversation", "Usage ledger", "API keys for this session", "Demo mode"):
        assert hidden not in body, f"{hidden!r} shows before sign-in"
    assert page.locator("[data-testid='stChatInputTextArea']").count() == 0
    screenshot(page, "people-00-not-signed-in")


def test_a_visitor_who_denies_at_the_provider_comes_back_to_the_sign_in_button(signed_in_app, people):
    page = people["visitor"]
    open_page(page, signed_in_app, "/")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(signed_in_app["provider"] + "/oauth2/authorize**")
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(signed_in_app["url"] + "/**")
    wait_for_app(page)
    assert_no_exception(page)
    visible(page.get_by_role("button", name="Sign in"))
    assert "Signed in as" not in page.inner_text("body")


def _sign_in(page, app, name: str) -> None:
    open_page(page, app, "/")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(app["provider"] + "/oauth2/authorize**")
    screenshot(page, f"people-01-provider-page-{name}")
    page.get_by_role("button", name=PEOPLE[name]["sub"], exact=True).click()  # the provider's pre-set user
    page.wait_for_url(app["url"] + "/**")
    wait_for_app(page)
    assert_no_exception(page)




def test_each_person_signs_in_through_the_provider_and_is_named_in_the_sidebar(signed_in_app, people):
    for name, role in (("alice", "member"), ("bob", "admin")):
        page = people[name]
        _sign_in(page, signed_in_app, name)
        visible(sidebar(page).get_by_role("button", name="Sign out"))
        visible(sidebar(page).get_by_role("link", name="Usage ledger"))  # the page list is back
        screenshot(page, f"people-02-signed-in-{name}")
        side_text = sidebar(page).inner_text()
        assert f"Signed in as {PEOPLE[name]['name']} · {PEOPLE[name]['email']} · {role}" in side_text, side_text
        assert "Usage ledger" in side_text, side_text  # the page list is back


def test_each_person_generates_and_chats(signed_in_app, people):
    for name in PEOPLE:
        generate(people[name], signed_in_app, PROMPTS[name])
        chat(people[name], signed_in_app, CHATS[name])
    screenshot(people["alice"], "people-03-alice-chat")
    rows = _rows(signed_in_app)
    assert len(rows) == 4 and all(r.status == "ok" for r in rows), [(r.action, r.status) for r in rows]
    # every row names the person who made it: issuer + subject, not a display name
    assert {(r.person, r.prompt) for r in rows} == {
        (_key(signed_in_app, name), text) for name in PEOPLE for text in (PROMPTS[name], CHATS[name])}


def test_a_member_sees_only_her_own_prompts_and_chats(signed_in_app, people):
    page = people["alice"]
    open_page(page, signed_in_app, "/ledger")
    visible(main(page).get_by_text("2 call(s) of yours"))
    table = exported(page)
    assert set(table["prompt"]) == {PROMPTS["alice"], CHATS["alice"]}, table  # not bob's
    assert set(table["person"]) == {_key(signed_in_app, "alice")}
    screenshot(page, "people-04-alice-ledger")
    # searching for bob's prompt finds nothing of hers, so there is nothing of his to select or delete
    search_ledger(page, signed_in_app, "submarine")
    visible(main(page).get_by_text("0 call(s) of yours"))
    assert page.get_by_role("button", name="Delete 0 selected").is_disabled()
    # her Chat page lists her conversation only
    open_page(page, signed_in_app, "/chat")
    visible(sidebar(page).get_by_role("button", name=CHATS["alice"][:38]))
    side_text = sidebar(page).inner_text()
    assert CHATS["alice"][:38] in side_text and CHATS["bob"][:20] not in side_text, side_text
    screenshot(page, "people-05-alice-conversations")


def test_the_library_refuses_a_member_deleting_anothers_row(signed_in_app):
    """The forced path the page never offers: alice's delete naming bob's row deletes nothing."""
    _, ledger = open_store(signed_in_app["data_dir"])
    alice = Person(_key(signed_in_app, "alice"), "Alice Liddell", "alice@example.org", False)
    bobs = [r.id for r in ledger.rows() if r.person == _key(signed_in_app, "bob")]
    with pytest.raises(NotAllowed):
        ledger.delete(bobs, by=alice)
    assert len(ledger.rows()) == 4


def test_the_admin_sees_everyones_rows_and_deletes_alices(signed_in_app, people):
    page = people["bob"]
    open_page(page, signed_in_app, "/ledger")
    visible(main(page).get_by_text("4 call(s)", exact=True))  # everyone's, not "of yours"
    table = exported(page)
    assert set(table["prompt"]) == {*PROMPTS.values(), *CHATS.values()}, table
    assert set(table["person"]) == {_key(signed_in_app, name) for name in PEOPLE}
    screenshot(page, "people-06-bob-ledger")
    search_ledger(page, signed_in_app, "kite over the dunes")
    visible(main(page).get_by_text("1 call(s)", exact=True))
    grid = page.locator("[data-testid='stDataFrame']").first.bounding_box()
    page.mouse.click(grid["x"] + 20, grid["y"] + 36 + 24)  # the one row's selection box
    visible(main(page).get_by_test_id("stText").get_by_text(PROMPTS["alice"], exact=True))  # the selected call, in full
    main(page).get_by_role("button", name="Delete 1 selected").click()
    page.locator(".st-key-ledger_delete_confirm button").click()
    visible(main(page).get_by_text("Deleted 1 row(s) and 1 image file(s)."))
    screenshot(page, "people-07-bob-deleted-alices-row")
    remaining = {(r.person, r.prompt) for r in _rows(signed_in_app)}
    assert (_key(signed_in_app, "alice"), PROMPTS["alice"]) not in remaining and len(remaining) == 3


def test_signing_out_leaves_the_sign_in_button(signed_in_app, people):
    page = people["alice"]
    open_page(page, signed_in_app, "/")
    sidebar(page).get_by_role("button", name="Sign out").click()
    page.wait_for_url(signed_in_app["provider"] + "/oauth2/end_session**")  # the provider's own sign-out
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(signed_in_app["url"] + "/**")
    wait_for_app(page)
    visible(page.get_by_role("button", name="Sign in"))
    assert "Signed in as" not in page.inner_text("body")
    screenshot(page, "people-08-alice-signed-out")
