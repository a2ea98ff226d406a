"""Widget helpers every form page shares: choices that stay valid when the model changes."""
from __future__ import annotations

import streamlit as st


def keep_valid(key: str, options: list, default=None) -> None:
    """Forget a remembered choice the newly picked model does not offer; fall back to ``default`` if it is offered."""
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
        if default in options:
            st.session_state[key] = default


def choose(label: str, options: list, key: str, default=None, container=st, **kwargs):
    """A selectbox whose remembered value is kept only while the options still include it."""
    keep_valid(key, options, default)
    return container.selectbox(label, options, key=key, **kwargs)
