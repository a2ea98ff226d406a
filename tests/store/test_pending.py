"""Pending rows: written before the call, settled after, never doubled; a hard budget reserved and settled atomically."""
from __future__ import annotations

import threading

import pytest

from lib.errors import ProviderDown, QuotaExceeded
from lib.store import BudgetExceeded, begin_call, new_call_id, open_store, record_call
from lib.store.ledger import INTERRUPTED_MESSAGE, Ledger, LedgerRow, new_id, utc_now

from .helpers import cfg, png
from .test_record_call import image_result


def test_a_call_is_on_the_ledger_while_in_flight_and_settles_into_the_same_row(store_dir):
    _, ledger = open_store(store_dir)
    call_id = begin_call("generate", "generate", cfg(), prompt="a red kite", model="gpt-image-2",
                         params={"size": "1024x1024"}, inputs=[png(colour=(1, 2, 3, 255))], estimate_usd=0.04, data_dir=store_dir)
    pending = ledger.get(call_id)
    assert pending.status == "pending" and pending.prompt == "a red kite" and len(pending.input_refs) == 1
    assert ledger.committed_spend() == pytest.approx(0.04)  # the estimate is held while the call is out
    settled = record_call("generate", "generate", cfg(), image_result(png()), prompt="a red kite",
                          inputs=[png(colour=(1, 2, 3, 255))], call_id=call_id, data_dir=store_dir)
    assert settled.id == call_id and settled.status == "ok" and settled.created_at == pending.created_at
    assert ledger.count() == 1 and ledger.get(call_id).n_images == 1
    assert ledger.committed_spend() == pytest.approx(settled.cost_usd)  # reserve let go, real cost counted
    assert ledger.frame()["status"].tolist() == ["ok"]
    totals = ledger.daily_totals()
    assert totals["status"].tolist() == ["ok"] and totals["calls"].tolist() == [1]  # the pending group is gone


def test_recording_the_same_call_twice_leaves_one_row(store_dir):
    call_id = new_call_id()
    first = record_call("generate", "generate", cfg(), image_result(png()), prompt="once", call_id=call_id, data_dir=store_dir)
    again = record_call("generate", "generate", cfg(), error=ProviderDown("late duplicate"), prompt="once",
                        call_id=call_id, data_dir=store_dir)
    _, ledger = open_store(store_dir)
    assert ledger.count() == 1 and again.status == first.status == "ok"
    row = LedgerRow(id=new_id(), created_at=utc_now(), page="chat", action="chat", provider="openai", backend="live")
    ledger.insert(row)
    ledger.insert(row)  # a retried insert
    assert ledger.insert_many([row, row]) == 0
    assert ledger.count() == 2


def test_a_pending_row_deleted_meanwhile_is_written_again_when_the_call_settles(store_dir):
    _, ledger = open_store(store_dir)
    call_id = begin_call("compare", "generate", cfg(), prompt="deleted mid-call", data_dir=store_dir)
    ledger.delete([call_id])
    record_call("compare", "generate", cfg(), image_result(png()), prompt="deleted mid-call", call_id=call_id, data_dir=store_dir)
    assert ledger.get(call_id).status == "ok"  # billed, so still on the ledger


def _hard_budget(ledger, usd):
    ledger.set_setting("monthly_budget_usd", usd)
    ledger.set_setting("monthly_budget_hard", True)


def test_a_hard_budget_refuses_a_call_that_could_pass_it_and_writes_nothing(store_dir):
    _, ledger = open_store(store_dir)
    _hard_budget(ledger, 1.00)
    first = begin_call("generate", "generate", cfg(), prompt="fits", estimate_usd=0.60, data_dir=store_dir)
    with pytest.raises(BudgetExceeded) as refused:
        begin_call("generate", "generate", cfg(), prompt="too much", estimate_usd=0.60, data_dir=store_dir)
    assert isinstance(refused.value, QuotaExceeded) and "$1.00 monthly budget" in refused.value.message
    assert "hard limit" in refused.value.message and ledger.count() == 1
    begin_call("generate", "generate", cfg(mode="demo"), prompt="demo is free", estimate_usd=5.0, data_dir=store_dir)
    record_call("generate", "generate", cfg(), error=ProviderDown("it failed"), call_id=first, data_dir=store_dir)
    begin_call("generate", "generate", cfg(), prompt="fits now", estimate_usd=0.60, data_dir=store_dir)  # the reserve was let go
    ledger.set_setting("monthly_budget_hard", False)
    begin_call("generate", "generate", cfg(), prompt="a soft budget only warns", estimate_usd=9.0, data_dir=store_dir)


def test_eight_threads_racing_for_the_last_dollar_spend_it_once(store_dir):
    _, ledger = open_store(store_dir)
    _hard_budget(ledger, 1.00)
    outcomes, start = [], threading.Barrier(8)

    def attempt():
        start.wait()
        try:
            begin_call("generate", "generate", cfg(), prompt="race", estimate_usd=0.30, data_dir=store_dir)
            outcomes.append("sent")
        except BudgetExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["sent"] * 3
    assert ledger.committed_spend() == pytest.approx(0.90)


def test_a_pending_row_of_a_dead_process_is_settled_as_interrupted_on_the_next_open(store_dir):
    _, ledger = open_store(store_dir)
    mine = begin_call("generate", "generate", cfg(), prompt="still running here", data_dir=store_dir)
    orphan = LedgerRow(id=new_id(), created_at=utc_now(), page="generate", action="generate", provider="openai",
                       backend="live", prompt="its process died")
    ledger.begin(orphan, reserve_usd=0.25)
    ledger.db.execute("UPDATE calls SET owner = ? WHERE id = ?", (f"{__import__('socket').gethostname()}:999999999:dead", orphan.id))
    reopened = Ledger(ledger.path, url=ledger.url)
    assert reopened.interrupted_on_open == 1
    gone = reopened.get(orphan.id)
    assert gone.status == "interrupted" and gone.error_message == INTERRUPTED_MESSAGE
    assert reopened.get(mine).status == "pending"  # this process is alive: its call is left alone
    assert reopened.committed_spend() == pytest.approx(0.25)  # it may have been billed: still counted
    record_call("generate", "generate", cfg(), image_result(png()), call_id=orphan.id, data_dir=store_dir)
    assert reopened.get(orphan.id).status == "ok"  # a late real outcome still wins
