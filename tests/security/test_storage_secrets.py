"""The storage's own secrets (the database URL's password, the bucket's secret key) are redacted like a provider
key: a message that quotes them (a driver error naming its URL, a provider echoing what it was sent) shows none."""
from __future__ import annotations

from lib.errors import StudioError, redact
from lib.store import db, s3


def test_the_database_password_is_cut_from_any_message():
    db.Database("postgresql+psycopg://studio:Pg-pass-4f9c2e71@127.0.0.1:1/ledger")  # no connection is made here
    said = redact("connection to postgresql://studio:Pg-pass-4f9c2e71@127.0.0.1:1 failed; retry with pg-pass-4f9c2e71")
    assert "4f9c2e71" not in said.lower() and "studio" in said
    assert "4f9c2e71" not in StudioError("could not log in with Pg-pass-4f9c2e71").message


def test_the_bucket_secret_is_cut_from_any_message(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIK7MDENGbPxRfiCYzz19a8")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    s3._client()
    assert "MDENGbPxRfiCY" not in redact("SignatureDoesNotMatch for secret wJalrXUtnFEMIK7MDENGbPxRfiCYzz19a8")
