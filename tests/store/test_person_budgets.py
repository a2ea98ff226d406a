"""Per-person monthly budgets: a default for everyone and a figure per named person, admin settings; hard,
they are reserved against in the same transaction as the team's budget, so a person's last dollar is spent once."""
from __future__ import annotations

import threading

import pytest

from lib import budgets
from lib.errors import InvalidInput, ProviderDown
from lib.people import NotAllowed, Person
from lib.store import BudgetExceeded, begin_call, open_store, record_call

from .helpers import cfg

ALICE = Person("header:alice", "alice", None, False)
BOB = Person("header:bob", "bob", None, False)
ADMIN = Person("header:root", "root", None, True)


def test_only_admins_change_budgets_and_a_bad_amount_is_refused_in_words(store_dir):
    _, ledger = open_store(store_dir)
    for change in (lambda: budgets.set_team_budget(ledger, ALICE, 100), lambda: budgets.set_hard(ledger, ALICE, False),
                   lambda: budgets.set_default_person_budget(ledger, ALICE, 100),
                   lambda: budgets.set_person_budget(ledger, ALICE, ALICE.key, 100)):
        with pytest.raises(NotAllowed, match="Only an admin"):
            change()
    assert budgets.limits(ledger, ALICE.key) == budgets.Limits(None, None, False)  # nothing was written
    for bad in (-1, float("nan"), "ten", 10**9):
        with pytest.raises(InvalidInput, match="US dollars"):
            budgets.set_team_budget(ledger, ADMIN, bad)
    budgets.set_team_budget(ledger, ADMIN, 50)
    budgets.set_default_person_budget(ledger, ADMIN, 5)
    budgets.set_person_budget(ledger, ADMIN, BOB.key, 20)
    budgets.set_person_budget(ledger, ADMIN, ADMIN.key, 0)  # exempt from the default
    budgets.set_hard(ledger, ADMIN, True)
    assert budgets.limits(ledger, ALICE.key) == budgets.Limits(50.0, 5.0, True)
    assert budgets.limits(ledger, BOB.key) == budgets.Limits(50.0, 20.0, True)
    assert budgets.limits(ledger, ADMIN.key) == budgets.Limits(50.0, None, True)
    budgets.set_person_budget(ledger, ADMIN, BOB.key, None)  # back to the default
    assert budgets.person_budget(ledger, BOB.key) == 5.0


def test_a_persons_hard_budget_refuses_their_call_in_words_while_others_still_spend(store_dir):
    _, ledger = open_store(store_dir)
    budgets.set_default_person_budget(ledger, ADMIN, 1.00)
    budgets.set_hard(ledger, ADMIN, True)
    first = begin_call("generate", "generate", cfg(), prompt="fits", estimate_usd=0.60, person=ALICE.key, data_dir=store_dir)
    with pytest.raises(BudgetExceeded) as refused:
        begin_call("generate", "generate", cfg(), prompt="too much", estimate_usd=0.60, person=ALICE.key, data_dir=store_dir)
    message = refused.value.message
    assert "your own $1.00 monthly budget" in message and "$0.60" in message and "An admin can raise it" in message
    assert refused.value.code == "person_budget" and ledger.count() == 1
    begin_call("generate", "generate", cfg(), prompt="bob has his own dollar", estimate_usd=0.60, person=BOB.key,
               data_dir=store_dir)
    record_call("generate", "generate", cfg(), error=ProviderDown("it failed"), call_id=first, person=ALICE.key,
                data_dir=store_dir)  # unpriced: alice's reserve is let go
    begin_call("generate", "generate", cfg(), prompt="fits now", estimate_usd=0.60, person=ALICE.key, data_dir=store_dir)
    assert ledger.committed_spend(person=ALICE.key) == pytest.approx(0.60)

    budgets.set_team_budget(ledger, ADMIN, 1.50)  # 1.20 held: the team's budget is the one spent for bob now
    with pytest.raises(BudgetExceeded) as team:
        begin_call("generate", "generate", cfg(), prompt="team is out", estimate_usd=0.35, person=BOB.key, data_dir=store_dir)
    assert team.value.code == "team_budget" and "the team's $1.50 monthly budget" in team.value.message

    budgets.set_hard(ledger, ADMIN, False)  # soft: calls go out, the page warns
    begin_call("generate", "generate", cfg(), prompt="soft", estimate_usd=9.0, person=ALICE.key, data_dir=store_dir)
    assert [(level, "your own" in text) for level, text in budgets.warnings(ledger, ALICE)] == [
        ("error", False), ("error", True)]
    assert "an admin can raise it" in budgets.warnings(ledger, ALICE)[1][1]


def test_eight_threads_racing_for_one_persons_last_dollar_spend_it_once(store_dir):
    _, ledger = open_store(store_dir)
    budgets.set_person_budget(ledger, ADMIN, ALICE.key, 1.00)
    budgets.set_hard(ledger, ADMIN, True)
    outcomes, start = [], threading.Barrier(8)

    def attempt(person: Person):
        start.wait()
        try:
            begin_call("generate", "generate", cfg(), prompt="race", estimate_usd=0.30, person=person.key,
                       data_dir=store_dir)
            outcomes.append((person.name, "sent"))
        except BudgetExceeded:
            outcomes.append((person.name, "refused"))

    threads = [threading.Thread(target=attempt, args=(ALICE if i < 6 else BOB,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [("alice", "refused")] * 3 + [("alice", "sent")] * 3 + [("bob", "sent")] * 2
    assert ledger.committed_spend(person=ALICE.key) == pytest.approx(0.90)
    assert ledger.committed_by_person(budgets.clock.month_start()) == pytest.approx({ALICE.key: 0.90, BOB.key: 0.60})


def test_through_the_send_path_a_spent_personal_budget_is_a_rejected_row_of_that_person_with_nothing_sent(
        live_env, emulator_calls):
    from lib import config, send
    from lib.providers.base import GENERATE

    cfg_live = config.resolve()["openai"]
    _, ledger = open_store()
    budgets.set_person_budget(ledger, ADMIN, ALICE.key, 0.01)  # less than a high-quality picture
    budgets.set_hard(ledger, ADMIN, True)
    request = send.Request("openai", GENERATE, "gpt-image-2", "alice's castle", {"size": "1024x1024", "quality": "high"},
                           person=ALICE.key)
    sent_before = len(emulator_calls)
    outcome = send.send(cfg_live, request)
    assert isinstance(outcome.error, BudgetExceeded) and len(emulator_calls) == sent_before
    assert "your own $0.01 monthly budget" in outcome.error.message and "An admin can raise it" in outcome.error.message
    [row] = ledger.rows()
    assert (row.status, row.person, row.prompt, row.error_code) == ("rejected", ALICE.key, "alice's castle", "person_budget")
    bob = send.send(cfg_live, send.Request("openai", GENERATE, "gpt-image-2", "bob's castle",
                                           {"size": "1024x1024", "quality": "low"}, person=BOB.key))
    assert bob.ok and bob.row.person == BOB.key  # no budget of his own, none by default


def test_a_batch_of_calls_is_refused_past_each_persons_own_budget_in_order(store_dir):
    from lib.store import begin_calls

    _, ledger = open_store(store_dir)
    budgets.set_default_person_budget(ledger, ADMIN, 1.00)
    budgets.set_person_budget(ledger, ADMIN, BOB.key, 0)  # bob: no budget of his own
    budgets.set_hard(ledger, ADMIN, True)
    calls = [dict(page="compare", action="generate", cfg=cfg(), prompt=f"cell {i}", estimate_usd=0.40,
                  person=(ALICE if i % 2 == 0 else BOB).key) for i in range(6)]
    found = begin_calls(calls, data_dir=store_dir)
    refused = [i for i, item in enumerate(found) if isinstance(item, BudgetExceeded)]
    assert refused == [4] and found[4].code == "person_budget"  # alice's third cell; bob's all go out
    assert ledger.committed_spend(person=ALICE.key) == pytest.approx(0.80)
    assert ledger.committed_spend(person=BOB.key) == pytest.approx(1.20)


def test_each_persons_running_total_follows_inserts_settles_and_deletes(store_dir):
    from dataclasses import replace

    from lib.store.ledger import LedgerRow, new_id, utc_now

    _, ledger = open_store(store_dir)

    def row(person, cost, backend="live"):
        return LedgerRow(id=new_id(), created_at=utc_now(), page="generate", action="generate", provider="openai",
                         backend=backend, person=person.key, cost_usd=cost, cost_source="computed")

    kept, gone = ledger.insert(row(ALICE, 0.25)), ledger.insert(row(ALICE, 0.50))
    ledger.insert(row(ALICE, 9.0, backend="demo"))  # demo costs nothing
    ledger.insert(row(BOB, 0.125))
    call_id = begin_call("generate", "generate", cfg(), prompt="in flight", estimate_usd=1.0, person=ALICE.key,
                         data_dir=store_dir)
    assert ledger.committed_spend(person=ALICE.key) == pytest.approx(1.75)  # 0.75 settled + 1.00 held
    ledger.settle(replace(row(ALICE, 0.0625), id=call_id))  # the reserve gives way to the real cost
    ledger.delete([gone.id])
    assert ledger.committed_spend(person=ALICE.key) == pytest.approx(0.3125)
    assert ledger.committed_by_person(budgets.clock.month_start()) == pytest.approx({ALICE.key: 0.3125, BOB.key: 0.125})
