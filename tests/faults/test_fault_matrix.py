"""Every provider fault on every page that calls a provider: a message a person can act on, inputs kept,
a ledger row with status and error code, and no stack trace.

Faults are injected the way a person in demo mode does it: the sidebar's
"make the next calls fail with" select, which the emulator reads from a header.
A new fault or page is one line in FAULTS or PAGES.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "a lighthouse on a cliff at dusk"


def _png(color=(40, 90, 160)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), color).save(buf, "PNG")
    return buf.getvalue()


def _click(at: AppTest, label: str, key: str | None = None) -> None:
    button = at.button(key=key) if key else next(b for b in at.button if b.label == label)
    button.click().run()


# page -> (file, drive(at), read the kept prompt(at), provider)
def _generate(at):
    at.text_area(key="gen_prompt").set_value(PROMPT).run()
    _click(at, "Generate")


def _generate_on(engine: str):
    def drive(at):
        at.radio(key="gen_engine").set_value(engine).run()
        _generate(at)

    return drive


def _edit_on(engine: str):
    def drive(at):
        at.radio(key="edit_engine").set_value(engine).run()
        _edit(at)

    return drive


def _chat(at):
    at.chat_input(key="chat_prompt").set_value(PROMPT).run()


def _pipeline(at):
    at.text_area(key="pipe_idea").set_value(PROMPT).run()
    _click(at, "Run the chain", key="pipe_go")


def _karlo(at):
    at.text_area(key="karlo_prompt").set_value(PROMPT).run()
    _click(at, "Generate", key="karlo_t2i_send")


def _edit(at):
    at.file_uploader(key="edit_images").set_value(("photo.png", _png(), "image/png")).run()
    at.text_area(key="edit_prompt").set_value(PROMPT).run()
    _click(at, "Edit", key="edit_send")


def _variations(at):
    at.file_uploader(key="var_upload").set_value(("photo.png", _png(), "image/png")).run()
    at.text_area(key="var_prompt").set_value(PROMPT).run()
    _click(at, "Make variations")


def _compare(at):
    at.text_area(key="cmp_prompts").set_value(PROMPT).run()
    _click(at, "Compare")


PAGES = {
    "generate": ("pages/generate.py", _generate, lambda at: at.text_area(key="gen_prompt").value, "openai"),
    "edit": ("pages/edit.py", _edit, lambda at: at.text_area(key="edit_prompt").value, "openai"),
    "variations": ("pages/variations.py", _variations, lambda at: at.text_area(key="var_prompt").value, "openai"),
    "chat": ("pages/chat.py", _chat, None, "openai"),
    "pipeline": ("pages/pipeline.py", _pipeline, lambda at: at.text_area(key="pipe_idea").value, "openai"),
    "compare": ("pages/compare.py", _compare, lambda at: at.text_area(key="cmp_prompts").value, "both"),
    "karlo": ("pages/karlo.py", _karlo, lambda at: at.text_area(key="karlo_prompt").value, "karlo"),
    "generate-gemini": ("pages/generate.py", _generate_on("gemini"), lambda at: at.text_area(key="gen_prompt").value,
                        "gemini"),
    "generate-flux": ("pages/generate.py", _generate_on("flux"), lambda at: at.text_area(key="gen_prompt").value, "flux"),
    "edit-gemini": ("pages/edit.py", _edit_on("gemini"), lambda at: at.text_area(key="edit_prompt").value, "gemini"),
}

# sidebar label -> (providers it applies to, words the message must contain)
FAULTS = {
    "429 rate limit": (("openai", "gemini", "flux"), ("rate limit", "rate-limiting", "as many tasks")),
    "500 server error": ("both", ("server error", "internal error", "is failing")),
    "503 unavailable": ("openai", "server error"),
    "malformed reply": ("openai", "could not read"),
    "moderation_blocked": ("openai", "safety system"),
    "model_not_found": ("openai", "not available"),
    "Karlo -9 API terminated": ("karlo", "ended the Karlo API"),
    "Karlo -10 quota exceeded": ("karlo", "quota"),
    "Karlo -401 invalid key": ("karlo", "key"),
    "HTML 502 from a proxy": ("karlo", "HTML page"),
    "402 out of credits (Gemini, FLUX)": (("gemini", "flux"), ("prepaid credits", "out of credits")),
    "Gemini: prompt blocked": ("gemini", "refused the prompt"),
    "Gemini: picture withheld (IMAGE_SAFETY)": ("gemini", "IMAGE_SAFETY"),
    "FLUX: request moderated": ("flux", "moderation refused"),
    "FLUX: delivery link expired": ("flux", "expired"),
}


def _applies(fault_provider, page_provider: str) -> bool:
    providers = (fault_provider,) if isinstance(fault_provider, str) else fault_provider
    return "both" in providers or page_provider in providers or page_provider == "both" and bool(
        {"openai", "karlo"} & set(providers))

CASES = [
    pytest.param(page, fault, id=f"{page}-{fault.split()[0] if not fault.startswith(('Karlo', 'Gemini', 'FLUX')) else fault.split()[1]}")
    for page, (_, _, _, page_provider) in PAGES.items()
    for fault, (fault_provider, _) in FAULTS.items()
    if _applies(fault_provider, page_provider)
]


@pytest.mark.parametrize("page, fault", CASES)
def test_fault_gives_actionable_message_keeps_input_and_records_error(studio_env, page, fault):
    path, drive, kept_prompt, _ = PAGES[page]
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
    at.run()
    at.selectbox(key="demo_fault_select").set_value(fault).run()  # the sidebar, as a person picks it
    at.switch_page(path).run()
    drive(at)

    assert not at.exception, at.exception
    shown = " ".join(e.value for e in at.error) + " ".join(w.value for w in at.warning)
    words = FAULTS[fault][1]
    words = (words,) if isinstance(words, str) else words
    assert any(w.lower() in shown.lower() for w in words), f"{page}/{fault}: expected {words!r} in {shown!r}"
    assert "Traceback" not in shown
    if kept_prompt is not None:
        assert kept_prompt(at) == PROMPT, "the prompt must stay in its box after a failure"

    from lib.store import open_store

    _, ledger = open_store()
    rows = ledger.frame()
    failed = rows[rows["status"] != "ok"]
    assert len(failed) >= 1, f"{page}/{fault}: no failed ledger row"
    newest = failed.iloc[0]
    assert newest["status"] in ("error", "rejected"), newest["status"]
    assert newest["error_code"] not in (None, ""), "the failed row must name the error code"
    assert newest["error_message"], "the failed row must keep the message"
    if page == "chat":
        # the chat keeps the person's message in the conversation
        assert PROMPT in " ".join(m.markdown[0].value for m in at.chat_message if m.markdown)
    json.loads(newest["params"] or "{}")  # params stay valid JSON on failure


HANG_LIMIT_S = 1.0  # STUDIO_TIMEOUT_S for the hang cases: the promise is "within the limit plus a few seconds"


@pytest.mark.parametrize("page", list(PAGES))
def test_a_hung_provider_gives_up_within_the_time_limit_on_every_page(studio_env, monkeypatch, page):
    """The demo provider accepts the call and never answers: the page says how long it waited, keeps the
    prompt, and records the failure, within STUDIO_TIMEOUT_S + DEADLINE_GRACE_S (no retry of a time-out)."""
    import time

    from lib import limits
    from lib.store import open_store

    monkeypatch.setenv("STUDIO_TIMEOUT_S", str(HANG_LIMIT_S))
    path, drive, kept_prompt, _ = PAGES[page]
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.selectbox(key="demo_fault_select").set_value("hang past the timeout").run()
    at.switch_page(path).run()
    started = time.monotonic()
    drive(at)
    waited = time.monotonic() - started

    assert not at.exception, at.exception
    assert waited < HANG_LIMIT_S + limits.DEADLINE_GRACE_S, f"{page} waited {waited:.1f} s"
    shown = " ".join(e.value for e in at.error) + " ".join(w.value for w in at.warning)
    assert any(w in shown for w in ("did not answer within 1 s", "timed out", "no data for 1 s")), shown
    if kept_prompt is not None:
        assert kept_prompt(at) == PROMPT
    failed = open_store()[1].frame()
    failed = failed[failed["status"] != "ok"]
    assert len(failed) >= 1 and failed.iloc[0]["error_code"], f"{page}: the hang left no failed row"
