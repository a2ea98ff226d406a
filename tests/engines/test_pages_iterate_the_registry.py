"""Home, the sidebar's key fields and the ledger's filters list every registered engine, by its name."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from lib.providers import registry

ROOT = Path(__file__).resolve().parents[2]


def test_home_sidebar_and_ledger_filters_follow_the_registry(studio_env):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    headings = [m.value for m in at.markdown if m.value.startswith("#### ")]
    assert headings == [f"#### {e.label}" for e in registry.engines()]
    keys = {t.key for t in at.sidebar.text_input}
    assert keys == {f"session_key_{e.id}" for e in registry.engines() if e.key_vars}
    at.switch_page("pages/ledger.py").run()
    assert not at.exception, at.exception
    providers = at.multiselect(key="ledger_filter_provider")
    assert set(registry.ids()) <= set(providers.options) or {e.label for e in registry.engines()} <= set(providers.options)
