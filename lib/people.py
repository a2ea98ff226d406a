"""Who is using the app: a person keyed by who vouched for them, never by display name.

Three ways in, strongest first:
- a trusted header from an authenticating proxy, when ``STUDIO_TRUSTED_USER_HEADER`` names it
  (e.g. ``X-Forwarded-User``): key ``header:<value>``.  Only then is the header believed; a request
  without it is nobody (it did not come through the proxy);
- Streamlit's own sign-in (``st.login`` / ``st.user``, OIDC, when ``[auth]`` is in the secrets): key
  ``oidc:<issuer>|<subject>``; someone not signed in is nobody;
- neither configured: the single local user of a one-person install, ``local``, who may do everything.

Admins are named in ``STUDIO_ADMINS`` (comma-separated e-mails or user names).  Members see and delete
their own rows; admins everyone's.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from lib.errors import StudioError

HEADER_VAR = "STUDIO_TRUSTED_USER_HEADER"
ADMINS_VAR = "STUDIO_ADMINS"
LOCAL_KEY = "local"


@dataclass(frozen=True)
class Person:
    key: str            # what every row stores: "oidc:<iss>|<sub>", "header:<value>" or "local"
    name: str           # for showing only
    email: str | None = None
    is_admin: bool = False


LOCAL = Person(LOCAL_KEY, "Local user", None, True)


class NotAllowed(StudioError):
    """A member asked to change what is someone else's (or an admin setting)."""

    status_label = "rejected"


def admins() -> set[str]:
    """The e-mails and user names in ``STUDIO_ADMINS``, compared without case."""
    return {part.strip().lower() for part in os.environ.get(ADMINS_VAR, "").split(",") if part.strip()}


def trusted_header() -> str | None:
    """The header an authenticating proxy sets, when one is configured."""
    return os.environ.get(HEADER_VAR, "").strip() or None


def _is_admin(*names: str | None) -> bool:
    chosen = admins()
    return any(name and name.strip().lower() in chosen for name in names)


def from_header(headers: Mapping[str, str]) -> Person | None:
    """The person the trusted header names; ``None`` without the header (or when none is configured)."""
    name = trusted_header()
    if name is None:
        return None
    lowered = {k.lower(): v for k, v in dict(headers or {}).items()}
    value = (lowered.get(name.lower()) or "").strip()
    if not value:
        return None
    email = value if "@" in value else None
    return Person(f"header:{value}", value, email, _is_admin(value))


def from_oidc(user: Mapping[str, object]) -> Person | None:
    """The signed-in person of ``st.user`` (its ``iss`` and ``sub`` claims); ``None`` when not signed in."""
    info = dict(user or {})
    issuer, subject = info.get("iss"), info.get("sub")
    if not info.get("is_logged_in", True) or not issuer or not subject:
        return None
    email = str(info["email"]) if info.get("email") else None
    name = str(info.get("name") or email or subject)
    # An address the provider says it has not verified names nobody: anyone could have typed the admin's.
    vouched_email = email if info.get("email_verified") is not False else None
    return Person(f"oidc:{issuer}|{subject}", name, email,
                  _is_admin(vouched_email, str(info.get("preferred_username") or "")))


def identify(*, headers: Mapping[str, str] | None = None, user: Mapping[str, object] | None = None,
             sign_in_configured: bool = False) -> Person | None:
    """Who this is, or ``None`` for nobody (sign-in is configured and they have not passed it)."""
    if trusted_header() is not None:
        return from_header(headers or {})
    if sign_in_configured:
        return from_oidc(user or {})
    return LOCAL


def may_change(person: Person, owner: str | None) -> bool:
    """Whether ``person`` may delete or change a row (or preset) that ``owner`` made."""
    return person.is_admin or (owner or LOCAL_KEY) == person.key
