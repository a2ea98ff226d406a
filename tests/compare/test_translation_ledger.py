"""Compare's translation for English-only engines (Korean → English before Karlo) goes through the one send path:
a pending row checked against the hard budget before the call, settled with its tokens, cost and person; refused
in words when the hard monthly budget would be passed, and then Karlo's call is not made either."""
from __future__ import annotations

from lib import compare, config, pricing
from lib.compare import Target, default_chat_model, run_compare
from lib.pipeline import translation_messages
from lib.store import open_store
from lib.types import Usage

FIRST, SECOND = "모자를 쓴 고양이", "비 오는 밤의 네온 거리"
KARLO = Target("Karlo", "karlo", "v2.1", {"width": 512, "height": 512})


def test_a_translation_is_a_priced_row_of_its_person_and_a_hard_budget_refuses_it_before_any_call(env, monkeypatch):
    configs = config.resolve()
    _, ledger = open_store()
    pending_when_sent = []
    real_translate = compare.translate_to_english

    def translate_watched(*args, **kwargs):  # what the ledger holds as the translation goes out
        pending_when_sent.extend(ledger.frame(statuses="pending")[["action", "prompt"]].values.tolist())
        return real_translate(*args, **kwargs)

    monkeypatch.setattr(compare, "translate_to_english", translate_watched)
    run = run_compare(configs, [FIRST], [KARLO], timeout_s=30, person="header:alice")
    assert pending_when_sent == [["translate", FIRST]]
    [cell] = run.cells
    assert cell.status == "ok", cell.error and cell.error.message
    assert cell.prompt_sent.isascii()
    [row] = [r for r in ledger.rows(group_id=run.group_id) if r.action == "translate"]
    assert (row.status, row.person, row.prompt, row.backend) == ("ok", "header:alice", FIRST, "live")
    assert row.endpoint == "/v1/chat/completions"  # as its pending row and the Karlo page's translation say
    assert row.input_tokens > 0 and row.output_tokens > 0 and row.output_text.strip() == cell.prompt_sent
    expected, source = pricing.price("openai", row.model, Usage(row.input_tokens, row.output_tokens))
    assert source != "unpriced" and row.cost_usd == expected and row.cost_usd > 0
    assert [c["path"] for c in env if c["method"] == "POST"][0] == "/v1/chat/completions"  # before Karlo's call

    # The month's live spend so far leaves half of what the next translation may cost.
    spent = ledger.committed_spend()
    ledger.set_setting("monthly_budget_usd", spent + pricing.estimate_chat(
        "openai", default_chat_model(), translation_messages(SECOND)) / 2)
    ledger.set_setting("monthly_budget_hard", True)
    env.clear()
    run = run_compare(configs, [SECOND], [KARLO], timeout_s=30, person="header:alice")
    [cell] = run.cells
    assert cell.status == "rejected" and cell.prompt_sent is None
    assert "translating the prompt was not sent" in cell.error.message and "hard limit" in cell.error.message
    assert [c for c in env if c["method"] == "POST"] == []  # neither the chat model nor Karlo was called
    rows = ledger.rows(group_id=run.group_id)
    assert sorted((r.action, r.status, r.person) for r in rows) == [
        ("t2i", "rejected", "header:alice"), ("translate", "rejected", "header:alice")]
