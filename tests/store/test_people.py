"""People told apart: keyed by who vouched for them; every row names its person; members delete only their own."""
from __future__ import annotations

import pytest

from lib import people
from lib.people import LOCAL, NotAllowed, Person, identify
from lib.store import begin_call, open_store, record_call

from .helpers import cfg, png
from .test_record_call import image_result

ALICE_CLAIMS = {"is_logged_in": True, "iss": "https://id.example", "sub": "a-1", "email": "alice@example.org", "name": "Sam"}
BOB_CLAIMS = {"is_logged_in": True, "iss": "https://id.example", "sub": "b-2", "email": "bob@example.org", "name": "Sam"}


def test_without_sign_in_there_is_the_one_local_user_who_may_do_everything(monkeypatch):
    monkeypatch.delenv(people.HEADER_VAR, raising=False)
    assert identify() is LOCAL and LOCAL.is_admin
    assert identify(headers={"X-Forwarded-User": "mallory"}) is LOCAL  # an unconfigured header is not believed


def test_a_trusted_header_is_believed_only_when_configured_and_missing_means_nobody(monkeypatch):
    monkeypatch.setenv(people.HEADER_VAR, "X-Forwarded-User")
    monkeypatch.setenv(people.ADMINS_VAR, "carol, Dan@Example.org")
    alice = identify(headers={"x-forwarded-user": "alice"})
    assert alice == Person("header:alice", "alice", None, False)
    assert identify(headers={"X-Forwarded-User": "dan@example.org"}).is_admin
    assert identify(headers={}) is None  # did not come through the proxy: nobody, not the local admin
    assert identify(headers={"X-Forwarded-User": "  "}) is None


def test_signed_in_people_are_keyed_by_issuer_and_subject_not_by_name(monkeypatch):
    monkeypatch.delenv(people.HEADER_VAR, raising=False)
    monkeypatch.setenv(people.ADMINS_VAR, "bob@example.org")
    alice = identify(user=ALICE_CLAIMS, sign_in_configured=True)
    bob = identify(user=BOB_CLAIMS, sign_in_configured=True)
    assert alice.name == bob.name == "Sam" and alice.key != bob.key
    assert alice.key == "oidc:https://id.example|a-1" and not alice.is_admin and bob.is_admin
    assert identify(user={"is_logged_in": False}, sign_in_configured=True) is None


def test_every_row_names_its_person_and_members_delete_only_their_own(store_dir, monkeypatch):
    monkeypatch.setenv(people.ADMINS_VAR, "admin@example.org")
    alice = identify(user=ALICE_CLAIMS, sign_in_configured=True)
    bob = identify(user=BOB_CLAIMS, sign_in_configured=True)
    admin = Person("oidc:https://id.example|z-9", "Admin", "admin@example.org", True)
    _, ledger = open_store(store_dir)
    mine = record_call("generate", "generate", cfg(), image_result(png()), prompt="alice's kite", person=alice.key, data_dir=store_dir)
    pending = begin_call("generate", "generate", cfg(), prompt="alice in flight", person=alice.key, data_dir=store_dir)
    theirs = record_call("generate", "generate", cfg(), image_result(png(colour=(5, 5, 5, 255))), prompt="bob's kite",
                         person=bob.key, data_dir=store_dir)
    assert {ledger.get(i).person for i in (mine.id, pending)} == {alice.key} and ledger.get(theirs.id).person == bob.key
    assert list(ledger.frame(persons=[bob.key])["prompt"]) == ["bob's kite"]
    with pytest.raises(NotAllowed, match="only your own"):
        ledger.delete([mine.id, theirs.id], by=alice)
    assert ledger.count() == 3  # all or nothing
    ledger.delete([mine.id], by=alice)
    ledger.delete([theirs.id], by=admin)
    assert [r.prompt for r in ledger.rows()] == ["alice in flight"]
    ledger.add_vote("g1", "p", "tie", ["a", "b"], person=bob.key)
    assert ledger.votes_frame()["person"].tolist() == [bob.key]
