"""Chat and Compare in demo mode: a prompt carrying Markdown images is shown as the text it is, in the chat
transcript, the conversation list, Compare's headings and captions; nothing drawn from it is an image."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.ui.safe_text import has_remote_content
from tests.security.test_markdown_surfaces import CANARY, HOSTILE_TEXTS, markdown_strings

ROOT = Path(__file__).resolve().parents[2]


def _checked(at: AppTest, tally) -> list[str]:
    strings = [s for s in markdown_strings(at) if "canary" in s]
    drawing = [s for s in strings if has_remote_content(s)]
    tally(len(strings), len(strings) - len(drawing))
    assert strings, "the hostile text is not on the page at all"
    assert drawing == []
    return strings


@pytest.mark.parametrize("hostile_text", HOSTILE_TEXTS[:3], ids=["inline", "reference", "raw-img"])
def test_chat_prompt_shows_as_text(studio_env, monkeypatch, hostile_text, tally):
    monkeypatch.setattr("lib.ui.session._leave_legacy_pages_mode", lambda: None, raising=False)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at.switch_page("pages/chat.py").run()
    at.chat_input(key="chat_prompt").set_value("tell me about " + hostile_text).run()
    assert not at.exception, at.exception
    at.run()  # the conversation list in the sidebar now names it too
    strings = _checked(at, tally)
    assert any(s.startswith("tell me about") for s in strings)  # the transcript
    assert any(b.label.startswith("tell me about") for b in at.button)  # the past conversation's button


def test_compare_prompts_show_as_text(studio_env, tally):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/compare.py")
    at.run()
    at.session_state["cmp_targets"] = at.session_state["cmp_targets"][:1]
    at.text_area(key="cmp_prompts").set_value("\n".join(t.replace("\n", " ") for t in HOSTILE_TEXTS[:2]))
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception, at.exception
    strings = _checked(at, tally)
    assert sum(s.startswith("####") for s in strings) == 2  # both prompts head their row, as text
    assert CANARY in " ".join(strings)


HOSTILE_NAME = f"![n]({CANARY}/name.png).png"


def _page(path: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page(path)
    at.run()
    assert not at.exception, at.exception
    return at


def test_file_names_show_as_text(studio_env, tally):
    from tests.security.hostile import png_bytes

    # Edit: a good picture and a broken one, both named with a Markdown image
    at = _page("pages/edit.py")
    at.file_uploader(key="edit_images").set_value(
        [(HOSTILE_NAME, png_bytes((96, 96)), "image/png"), ("broken " + HOSTILE_NAME, b"not a picture", "image/png")]).run()
    assert not at.exception, at.exception
    _checked(at, tally)
    # Karlo's NSFW check: the file name goes into the stored summary the result card draws as Markdown
    at = _page("pages/karlo.py")
    at.file_uploader(key="karlo_nsfw_uploads").set_value([(HOSTILE_NAME, png_bytes((64, 64)), "image/png")]).run()
    at.button(key="karlo_nsfw_send").click().run()
    assert not at.exception, at.exception
    strings = _checked(at, tally)
    assert any(": safe" in s or ": NSFW" in s for s in strings)


def test_csv_headers_show_as_text(studio_env, tally):
    at = _page("pages/compare.py")
    at.file_uploader(key="cmp_csv").set_value(
        (HOSTILE_NAME + ".csv", f"![h]({CANARY}/header.png),other\n1,2\n".encode(), "text/csv")).run()
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception, at.exception
    assert any("columns found" in e.value for e in at.error), [e.value for e in at.error]
    _checked(at, tally)
