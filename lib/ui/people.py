"""Who is at the keyboard, from Streamlit's request (trusted header) or its sign-in (``st.user``); see lib/people.py."""
from __future__ import annotations

import re

import streamlit as st
from streamlit.errors import StreamlitAuthError

from lib.people import LOCAL_KEY, Person, identify, trusted_header
from lib.ui.safe_text import md_literal


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
    user = st.user.to_dict() if configured else {}  # {"is_logged_in": False} until they have signed in
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
        if st.button("Sign in", icon=":material/login:", type="primary", key="people_sign_in"):
            try:
                st.login()  # checks the [auth] section first, then sends the browser to the provider
            except StreamlitAuthError as exc:  # a half-made [auth] section, or Authlib missing: say which, in words
                st.error("Sign-in is not set up correctly on this server: "
                         + md_literal(re.sub(r"\s+", " ", str(exc)).strip()), icon=":material/error:")
    st.stop()


def show_person(person: Person) -> None:
    """The sidebar names who is signed in (and their role), with Streamlit's sign-out when they came by OIDC."""
    if person.key == LOCAL_KEY:  # a one-person install: nobody to name
        return
    with st.sidebar:
        who = md_literal(person.name) + (f" · {md_literal(person.email)}" if person.email and person.email != person.name else "")
        st.markdown(f":material/account_circle: Signed in as **{who}** · {'admin' if person.is_admin else 'member'}")
        if not trusted_header():  # behind a proxy, signing out is the proxy's business
            st.button("Sign out", on_click=st.logout, icon=":material/logout:", key="people_sign_out")
