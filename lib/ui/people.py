"""Who is at the keyboard, from Streamlit's request (trusted header) or its sign-in (``st.user``); see lib/people.py."""
from __future__ import annotations

import streamlit as st

from lib.people import Person, identify, trusted_header


def sign_in_configured() -> bool:
    """``[auth]`` is in the secrets, so ``st.login`` / ``st.user`` work."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001  (no secrets file at all)
        return False


def current_person() -> Person | None:
    """This session's person, or ``None`` when sign-in is configured and they have not passed it."""
    configured = sign_in_configured()
    headers = dict(st.context.headers or {}) if trusted_header() else {}
    user = st.user.to_dict() if configured and st.user.is_logged_in else {}
    return identify(headers=headers, user=user, sign_in_configured=configured)


def person_key() -> str | None:
    """The key every row this session writes names (``None``: nobody, and pages have stopped by then)."""
    person = current_person()
    return person.key if person is not None else None


def require_person() -> Person:
    """The person, or a sign-in prompt (or the proxy's absence, in words) and the page stops."""
    person = current_person()
    if person is not None:
        return person
    if trusted_header():
        st.error(f"This app expects to be reached through its sign-in proxy (it sets {trusted_header()}); "
                 "this request did not come through it.", icon=":material/lock:")
    else:
        st.info("Sign in to use the studio: your calls, pictures and chats are kept apart from other people's.",
                icon=":material/lock:")
        st.button("Sign in", on_click=st.login, icon=":material/login:")
    st.stop()
