"""Saved prompts belong to their person: a member sees and changes only their own, an admin anyone's."""
from __future__ import annotations

import pytest

from lib import presets
from lib.errors import InvalidInput
from lib.people import NotAllowed, Person
from lib.store import open_store
from lib.store.db import _split_statements, migrations

ALICE = Person("oidc:https://id.example|a-1", "Alice", "alice@example.org", False)
BOB = Person("header:bob", "bob", None, False)
ADMIN = Person("oidc:https://id.example|z-9", "Admin", "admin@example.org", True)


def test_a_member_sees_the_built_ins_and_only_their_own_saved_prompts(store_dir):
    _, ledger = open_store(store_dir)
    presets.save(ledger, ALICE, "Mars architect", "You design Martian houses.")
    presets.save(ledger, BOB, "Mars architect", "Bob's own Martian houses.")  # same name, another person: no clash
    presets.save(ledger, BOB, "  Sea   poet ", "You write about the sea.")

    alice_sees = presets.system_prompt_choices(ledger, ALICE)
    assert set(presets.BUILT_IN_SYSTEM_PROMPTS) < set(alice_sees)
    assert [label for label in alice_sees if label.startswith("Saved")] == ["Saved: Mars architect"]
    assert alice_sees["Saved: Mars architect"].text == "You design Martian houses."
    bob_sees = presets.system_prompt_choices(ledger, BOB)
    assert {label for label in bob_sees if label.startswith("Saved")} == {"Saved: Mars architect", "Saved: Sea poet"}
    assert bob_sees["Saved: Mars architect"].text == "Bob's own Martian houses."


def test_a_member_overwrites_and_deletes_only_their_own(store_dir):
    _, ledger = open_store(store_dir)
    presets.save(ledger, ALICE, "Mars architect", "first")
    presets.save(ledger, ALICE, "Mars architect", "second")  # overwrite one's own
    presets.save(ledger, BOB, "Sea poet", "the sea")
    assert [(p.name, p.value) for p in presets.saved(ledger, ALICE)] == [("Mars architect", "second")]

    with pytest.raises(NotAllowed, match="only your own"):
        presets.save(ledger, ALICE, "Sea poet", "hijacked", owner=BOB.key)
    with pytest.raises(NotAllowed, match="only your own"):
        presets.delete(ledger, ALICE, "Sea poet", owner=BOB.key)
    assert [p.value for p in presets.saved(ledger, BOB)] == ["the sea"]  # untouched

    presets.delete(ledger, ALICE, "Mars architect")
    assert presets.saved(ledger, ALICE) == []
    with pytest.raises(InvalidInput, match="no saved preset"):
        presets.delete(ledger, ALICE, "Mars architect")


def test_an_admin_sees_everyones_with_whose_they_are_and_may_delete_them(store_dir):
    _, ledger = open_store(store_dir)
    presets.save(ledger, ALICE, "Mars architect", "You design Martian houses.")
    presets.save(ledger, ADMIN, "House style", "Short answers.")
    choices = presets.system_prompt_choices(ledger, ADMIN)
    saved = [label for label in choices if label.startswith("Saved")]
    assert saved == ["Saved: House style", "Saved by Alice: Mars architect"]  # one's own first
    theirs = choices["Saved by Alice: Mars architect"]
    assert theirs.owner == ALICE.key
    presets.delete(ledger, ADMIN, theirs.name, owner=theirs.owner)
    assert presets.saved(ledger, ALICE) == []


def test_bad_names_and_texts_are_refused_in_words_and_nothing_is_saved(store_dir):
    _, ledger = open_store(store_dir)
    with pytest.raises(InvalidInput, match="name"):
        presets.save(ledger, ALICE, "   ", "text")
    with pytest.raises(InvalidInput, match="at most 80 characters"):
        presets.save(ledger, ALICE, "x" * 81, "text")
    with pytest.raises(InvalidInput, match="empty"):
        presets.save(ledger, ALICE, "Empty", "  ")
    assert presets.saved(ledger, ADMIN) == []


def test_the_team_wide_saved_prompts_of_an_older_version_become_the_local_users(store_dir):
    _, ledger = open_store(store_dir)
    ledger.set_setting("chat.system_prompts", {"Mars architect": "You design Martian houses.", "Poet": "Rhymes."})
    # Migration 010 once more, on a ledger holding the old setting (as an upgraded one does).
    sql = next(sql for number, _name, sql in migrations(ledger.db.dialect) if number == 10)
    ledger.db.retrying(lambda conn: [conn.exec_driver_sql(statement)
                                     for statement in (_split_statements(sql) if ledger.db.sqlite else [sql])])
    local = Person("local", "Local user", None, True)
    assert [(p.person, p.name, p.value) for p in presets.saved(ledger, local)] == [
        ("local", "Mars architect", "You design Martian houses."), ("local", "Poet", "Rhymes.")]
    assert ledger.get_setting("chat.system_prompts") is None
    assert presets.saved(ledger, ALICE) == []
