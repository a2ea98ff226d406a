"""The one send path writes each call as pending before it goes out and settles that same row; a hard budget
stops a live call before anything is sent."""
from __future__ import annotations

import threading
import time

import pytest

from lib import config, send
from lib.providers.base import GENERATE
from lib.store import BudgetExceeded, open_store


def test_a_call_is_pending_while_in_flight_and_settles_into_its_one_row(live_env, emulator_calls):
    cfg = config.resolve()["openai"]
    assert cfg.backend == "live"
    request = send.Request("openai", GENERATE, "gpt-image-2", "a slow lighthouse [latency:1500]", {"size": "1024x1024", "quality": "low"})
    done = []
    worker = threading.Thread(target=lambda: done.append(send.send(cfg, request)))
    worker.start()
    _, ledger = open_store()
    deadline, seen = time.monotonic() + 10, []
    while time.monotonic() < deadline and not seen:
        seen = [row for row in ledger.rows() if row.status == "pending"]
        time.sleep(0.02)
    worker.join(timeout=30)
    assert seen and seen[0].prompt == "a slow lighthouse [latency:1500]"  # on the ledger while the call was out
    [outcome] = done
    assert outcome.ok and outcome.row.id == seen[0].id == outcome.call_id
    [row] = ledger.rows()
    assert row.status == "ok" and row.created_at == seen[0].created_at and row.cost_usd > 0
    assert ledger.committed_spend() == row.cost_usd  # the estimate it held is let go


def test_a_hard_budget_stops_a_live_call_before_it_is_sent_and_says_why(live_env, emulator_calls):
    cfg = config.resolve()["openai"]
    _, ledger = open_store()
    request = send.Request("openai", GENERATE, "gpt-image-2", "an expensive castle", {"size": "1024x1024", "quality": "high"})
    first = send.send(cfg, request)
    assert first.ok and first.row.cost_usd > 0
    ledger.set_setting("monthly_budget_usd", first.row.cost_usd / 2)  # this month is already past it
    ledger.set_setting("monthly_budget_hard", True)
    sent_before = len(emulator_calls)
    outcome = send.send(cfg, request)
    assert isinstance(outcome.error, BudgetExceeded) and "hard limit" in outcome.error.message
    assert len(emulator_calls) == sent_before  # nothing went out
    assert [row.status for row in ledger.rows()] == ["ok", "rejected"]
    assert ledger.rows()[-1].error_message == outcome.error.message


def test_compare_cells_are_pending_first_and_a_hard_budget_refuses_them_unsent(live_env, emulator_calls):
    from lib import compare

    configs = config.resolve()
    targets = [compare.Target("A", "openai", "gpt-image-2", {"size": "1024x1024", "quality": "low"}),
               compare.Target("B", "openai", "gpt-image-2", {"size": "1024x1024", "quality": "medium"})]
    run = compare.run_compare(configs, ["a harbour at dawn"], targets, timeout_s=30)
    _, ledger = open_store()
    rows = ledger.rows(group_id=run.group_id)
    assert sorted(r.status for r in rows) == ["ok", "ok"] and {r.id for r in rows} == {c.call_id for c in run.cells}
    ledger.set_setting("monthly_budget_usd", min(r.cost_usd for r in rows) / 2)
    ledger.set_setting("monthly_budget_hard", True)
    sent_before = len(emulator_calls)
    refused = compare.run_compare(configs, ["a harbour at dusk"], targets, timeout_s=30)
    assert len(emulator_calls) == sent_before
    assert [c.status for c in refused.cells] == ["rejected", "rejected"]
    assert all("hard limit" in r.error_message for r in ledger.rows(group_id=refused.group_id))


def test_a_hard_budget_stops_chat_turns_and_pipeline_steps_before_they_are_sent(live_env, emulator_calls):
    """Chat and the pipeline's model steps are pending first and held to the hard budget like pictures are."""
    from lib import pipeline
    from lib.compare import default_chat_model

    cfg, model = config.resolve()["openai"], default_chat_model()
    _, ledger = open_store()
    run = pipeline.run_pipeline(cfg, "a village on Mars", model=model)
    assert run.final_prompt and all(row.status == "ok" for row in ledger.rows())
    spent = sum(row.cost_usd for row in ledger.rows())
    assert spent > 0 and ledger.committed_spend() == spent  # no estimate left held once the steps settled
    ledger.set_setting("monthly_budget_usd", spent / 2)
    ledger.set_setting("monthly_budget_hard", True)
    sent_before = len(emulator_calls)
    refused = pipeline.run_pipeline(cfg, "a harbour on Europa", model=model)
    assert refused.final_prompt is None
    [step] = refused.steps
    assert isinstance(step.error, BudgetExceeded) and "hard limit" in step.error.message
    assert len(emulator_calls) == sent_before  # nothing went out
    last = ledger.rows()[-1]
    assert last.status == "rejected" and last.action == "pipeline-step" and last.error_message == step.error.message
    with pytest.raises(BudgetExceeded, match="hard limit"):  # Chat's turns take the same door
        send.begin_chat(cfg=cfg, page="chat", action="chat", model=model,
                        messages=[{"role": "user", "content": "hello"}], prompt="hello")
