"""The Karlo page's translation (Korean → English before Karlo) goes through the one send path: a pending row,
checked against the hard budget before the call, settled with its tokens, cost and person; refused in words (and
nothing sent) when the hard monthly budget would be passed."""
from __future__ import annotations

import lib.pipeline
import lib.ui.people
from lib import pricing
from lib.people import Person
from lib.pipeline import translation_messages
from lib.types import Usage
from tests.karlo.test_page import book, open_karlo_page

FIRST, SECOND = "노을 지는 바다 위의 등대", "눈 덮인 산 위의 작은 오두막"
ALICE = Person("header:alice", "alice")


def translations():
    return [r for r in book()[1].rows() if r.action == "translate"]


def test_a_translation_is_a_priced_row_of_its_person_and_a_hard_budget_refuses_the_next_before_any_call(
        live_env, emulator_calls, monkeypatch):
    monkeypatch.setattr(lib.ui.people, "current_person", lambda: ALICE)
    pending_when_sent = []
    real_translate = lib.pipeline.translate_to_english

    def translate_watched(*args, **kwargs):  # what the ledger holds as the translation goes out
        pending_when_sent.extend(book()[1].frame(statuses="pending")[["action", "prompt"]].values.tolist())
        return real_translate(*args, **kwargs)

    monkeypatch.setattr(lib.pipeline, "translate_to_english", translate_watched)
    at = open_karlo_page()
    at.text_area(key="karlo_prompt").set_value(FIRST).run()
    at.button(key="karlo_prompt_translate").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert pending_when_sent == [["translate", FIRST]]
    english = at.text_area(key="karlo_prompt").value
    assert english.isascii() and english.strip()
    [row] = translations()
    assert (row.status, row.person, row.prompt, row.backend) == ("ok", ALICE.key, FIRST, "live")
    assert row.input_tokens > 0 and row.output_tokens > 0 and row.output_text == english
    expected, source = pricing.price("openai", row.model, Usage(row.input_tokens, row.output_tokens))
    assert source != "unpriced" and row.cost_usd == expected and row.cost_usd > 0
    assert [c["path"] for c in emulator_calls if c["method"] == "POST"] == ["/v1/chat/completions"]

    # This month's live spend is that translation; the hard budget leaves half of what the next one may cost.
    estimate = pricing.estimate_chat("openai", row.model, translation_messages(SECOND))
    _, ledger = book()
    ledger.set_setting("monthly_budget_usd", row.cost_usd + estimate / 2)
    ledger.set_setting("monthly_budget_hard", True)
    emulator_calls.clear()
    at.text_area(key="karlo_prompt").set_value(SECOND).run()
    at.button(key="karlo_prompt_translate").click().run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "Not sent" in shown and "hard limit" in shown, shown
    assert at.text_area(key="karlo_prompt").value == SECOND  # the prompt stays in its box
    assert at.button(key="karlo_t2i_send").disabled  # still Korean: Karlo's call cannot be made either
    assert [c for c in emulator_calls if c["method"] == "POST"] == []  # nothing sent: neither the chat model nor Karlo
    refused = [r for r in translations() if r.prompt == SECOND]
    assert [(r.status, r.person, r.cost_usd or 0) for r in refused] == [("rejected", ALICE.key, 0)]


def test_without_openai_the_translation_is_refused_in_words_before_anything_is_sent(studio_env, emulator,
                                                                                    emulator_calls, monkeypatch):
    monkeypatch.setenv("STUDIO_DEMO", "0")  # Karlo live, OpenAI not set up at all
    monkeypatch.setenv("KAKAO_REST_API_KEY", "kakao-test-live-key-0123456789")
    monkeypatch.setenv("KARLO_BASE_URL", emulator.karlo_base_url)
    at = open_karlo_page()
    at.text_area(key="karlo_prompt").set_value(FIRST).run()
    at.button(key="karlo_prompt_translate").click().run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "Translating needs OpenAI's chat model, which is not set up" in shown and "OPENAI_API_KEY" in shown, shown
    assert at.text_area(key="karlo_prompt").value == FIRST
    assert [c for c in emulator_calls if c["method"] == "POST"] == [] and translations() == []
