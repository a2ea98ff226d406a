"""The storage's own secrets (the database URL's password, the bucket's secret key) are redacted like a provider
key: a message that quotes them (a driver error naming its URL, a provider echoing what it was sent) shows none."""
from __future__ import annotations

from lib.errors import StudioError, redact
from lib.store import db, s3


def test_the_database_password_is_cut_from_any_message():
    db.Database("postgresql+psycopg://ledger_owner:Pg-pass-4f9c2e71@127.0.0.1:1/ledger")  # no connection made here
    said = redact("connection to postgresql://ledger_owner:Pg-pass-4f9c2e71@127.0.0.1:1 failed; try pg-pass-4f9c2e71")
    assert "4f9c2e71" not in said.lower() and "ledger_owner" in said
    assert "4f9c2e71" not in StudioError("could not log in with Pg-pass-4f9c2e71").message


def test_the_bucket_secret_is_cut_from_any_message(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIK7MDENGbPxRfiCYzz19a8")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    s3._client()
    assert "MDENGbPxRfiCY" not in redact("SignatureDoesNotMatch for secret wJalrXUtnFEMIK7MDENGbPxRfiCYzz19a8")


def test_a_short_test_server_secret_does_not_mangle_every_message(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")  # moto's
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    s3._client()
    assert redact("the latest test of the ledger") == "the latest test of the ledger"
