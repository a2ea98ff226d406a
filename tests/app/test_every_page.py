"""Every page that exists opens in demo mode with no exception (AppTest, in-process)."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))


def open_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_home_says_demo_mode_with_no_keys(studio_env):
    at = open_app()
    text = " ".join(m.value for m in at.markdown) + " ".join(i.value for i in at.info)
    from lib.providers import registry

    labels = [e.label for e in registry.engines()]
    assert f"Demo mode for {', '.join(labels[:-1])} and {labels[-1]}" in text
    assert at.metric[0].label == "Live spend today"
    assert at.metric[0].value == "$0.0000"


@pytest.mark.parametrize("page", PAGES)
def test_page_opens_without_exception(studio_env, page):
    at = open_app()
    at.switch_page(page)
    at.run()
    assert not at.exception, f"{page}: {at.exception}"


def test_forbidding_demo_without_keys_says_what_to_do(studio_env, monkeypatch):
    monkeypatch.setenv("STUDIO_DEMO", "0")
    at = open_app()
    errors = " ".join(e.value for e in at.error)
    assert "No openai key: set OPENAI_API_KEY" in errors
    assert "No karlo key: set KAKAO_REST_API_KEY" in errors


def test_unreadable_secrets_file_is_reported_not_raised(studio_env, monkeypatch):
    secrets = studio_env.parent / ".streamlit"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "secrets.toml").write_text("this is = = not toml")
    monkeypatch.setenv("STUDIO_DEMO", "0")
    at = open_app()
    assert "could not be read" in " ".join(e.value for e in at.error)


def test_bad_base_url_is_reported(studio_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdef0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", "api.openai.com/v1")
    at = open_app()
    assert "is not an http(s) address" in " ".join(e.value for e in at.error)


def test_unwritable_data_dir_is_reported_on_home(studio_env, monkeypatch):
    blocker = studio_env.parent / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(blocker / "data"))
    at = open_app()
    errors = " ".join(e.value for e in at.error)
    assert "cannot be used" in errors and "STUDIO_DATA_DIR" in errors


def _far_days():
    from datetime import timedelta

    from tests.conftest import PINNED_TODAY

    return [PINNED_TODAY + timedelta(days=400), "2029-01-01"]


@pytest.mark.parametrize("day", [str(d) for d in _far_days()])
@pytest.mark.parametrize("page", PAGES)
def test_page_opens_without_exception_on_a_later_day(studio_env, monkeypatch, page, day):
    """The catalog's later shutdowns must not break a page: each opens on days well past them."""
    monkeypatch.setenv("STUDIO_TODAY", day)
    at = open_app()
    at.switch_page(page)
    at.run()
    assert not at.exception, f"{page} on {day}: {at.exception}"


def test_bad_clock_or_timeout_settings_are_said_in_words(studio_env, monkeypatch):
    monkeypatch.setenv("STUDIO_TODAY", "next tuesday")
    monkeypatch.setenv("STUDIO_TIMEOUT_S", "soon")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "STUDIO_TODAY='next tuesday' is not a date" in errors and "STUDIO_TIMEOUT_S='soon'" in errors
