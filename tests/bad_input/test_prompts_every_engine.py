"""The prompts people type, on every engine's Generate: a message that says what to change, or a reported fix."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.providers import registry
from lib.store import open_store

ROOT = Path(__file__).resolve().parents[2]
ENGINES = registry.ids()


def generate(engine: str, prompt: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/generate.py").run()
    at.radio(key="gen_engine").set_value(engine).run()
    at.text_area(key="gen_prompt").set_value(prompt).run()
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> str:
    return " ".join(e.value for e in at.error) + " " + " ".join(c.value for c in at.caption)


def longest(model: str) -> int:
    from lib import catalog

    return catalog.image_model(model).prompt_max


@pytest.mark.parametrize("engine", ENGINES)
def test_an_empty_or_too_long_prompt_says_what_to_change_on_every_engine(studio_env, engine):
    at = generate(engine, "  \n ")
    assert "Write a prompt first" in shown(at)
    too_long = "a" * (longest(at.selectbox(key="gen_model").value) + 1)  # the limit of the model picked
    at.text_area(key="gen_prompt").set_value(too_long).run()
    next(b for b in at.button if b.label == "Generate").click().run()
    assert "Shorten it" in shown(at) and at.text_area(key="gen_prompt").value == too_long
    rows = open_store()[1].frame()
    assert list(rows["status"]) == ["rejected", "rejected"] and set(rows["provider"]) == {engine}


@pytest.mark.parametrize("engine", ENGINES)
def test_control_characters_are_removed_and_the_card_says_so_on_every_engine(studio_env, engine):
    at = generate(engine, "a cat\x00\x07 with bells")
    assert "Removed 2 invisible control characters" in shown(at), shown(at)
    row = open_store()[1].frame().iloc[0]
    assert row["status"] == "ok" and row["provider"] == engine
