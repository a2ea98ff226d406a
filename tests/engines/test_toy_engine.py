"""Proof that the engine seam is real: one plug-in file plus its rows, and Generate and Compare offer it, no page touched."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import catalog
from lib.providers import registry
from lib.store import open_store
from tests.engines import toy_engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def toy(studio_env, monkeypatch):
    catalog.forget_available_models()
    monkeypatch.setenv("TOY_PAINTER_KEY", "toy-key-0123456789")
    registry.register(toy_engine.ENGINE)
    yield toy_engine.ENGINE
    registry.unregister("toy")


def open_page(path: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page(path)
    at.run()
    assert not at.exception, at.exception
    return at


def test_no_page_names_the_toy_engine():
    for page in (ROOT / "pages").glob("*.py"):
        text = page.read_text(encoding="utf-8")
        assert "toy" not in text.lower(), page


def test_a_registered_engine_appears_on_generate_and_records_priced_rows(toy):
    at = open_page("pages/generate.py")
    assert "Toy painter" in at.radio(key="gen_engine").options
    at.radio(key="gen_engine").set_value("toy").run()
    assert at.selectbox(key="gen_model").value == "toy-flat-1"
    at.text_area(key="gen_prompt").set_value("a teal square")
    at.selectbox(key="gen_size").set_value("128x96")
    at.number_input(key="gen_n").set_value(2)
    next(b for b in at.button if b.label == "Generate").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [row] = open_store()[1].rows()
    assert (row.provider, row.model, row.status, row.n_images, row.width, row.height) == (
        "toy", "toy-flat-1", "ok", 2, 128, 96)
    assert (row.cost_usd, row.cost_source) == (0.025, "table")
    assert len(at.image) == 2

    at.text_area(key="gen_prompt").set_value("something forbidden")
    next(b for b in at.button if b.label == "Generate").click()
    at.run()
    assert any("does not paint forbidden things" in e.value for e in at.error)
    assert sorted(r.status for r in open_store()[1].rows()) == ["ok", "rejected"]


def test_a_registered_engine_is_a_compare_target_beside_the_others(toy):
    at = open_page("pages/compare.py")
    targets = at.session_state["cmp_targets"]
    assert [t.provider for t in targets] == registry.ids()  # each engine's default model, the toy's too
    at.text_area(key="cmp_prompts").set_value("a lighthouse at dusk")
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception
    run = at.session_state["cmp_shown"]["run"]
    assert all(c.status == "ok" for c in run.cells), [(c.target.label, c.error) for c in run.cells]
    rows = {r.provider: r for r in open_store()[1].rows(group_id=run.group_id) if r.action != "chat"}
    assert rows["toy"].cost_usd == 0.0125 and rows["toy"].cost_source == "table"
    assert set(rows) == set(registry.ids())
