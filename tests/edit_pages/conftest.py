"""AppTest resets Streamlit's legacy pages/ mode before every run, so lib.ui.session's one-time
"leave legacy mode" rerun would fire on every AppTest run and swallow button clicks. In a real
server it fires once per process; here it is switched off."""
import pytest


@pytest.fixture(autouse=True)
def no_legacy_pages_rerun(monkeypatch):
    monkeypatch.setattr("lib.ui.session._leave_legacy_pages_mode", lambda: None, raising=False)
