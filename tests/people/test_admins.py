"""Who is an admin by OIDC claims: an e-mail the provider has not verified makes nobody an admin."""
from __future__ import annotations

from lib import people
from lib.people import identify

CLAIMS = {"is_logged_in": True, "iss": "https://id.example", "sub": "m-1", "email": "boss@example.org", "name": "M"}


def test_an_unverified_email_does_not_make_an_admin(monkeypatch):
    monkeypatch.delenv(people.HEADER_VAR, raising=False)
    monkeypatch.setenv(people.ADMINS_VAR, "boss@example.org")
    unverified = identify(user={**CLAIMS, "email_verified": False}, sign_in_configured=True)
    assert unverified.email == "boss@example.org" and not unverified.is_admin
    assert identify(user={**CLAIMS, "email_verified": True}, sign_in_configured=True).is_admin
    assert identify(user=CLAIMS, sign_in_configured=True).is_admin  # a provider that does not say (as the test mock)
