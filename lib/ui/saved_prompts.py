"""A system prompt box with its presets: the built-in ones and the person's saved ones (lib/presets.py)."""
from __future__ import annotations

import streamlit as st

from lib import presets
from lib.errors import StudioError
from lib.people import Person, may_change
from lib.ui.safe_text import md_literal


def system_prompt_editor(ledger, person: Person, *, text_key: str, prefix: str = "chat") -> None:
    """Preset picker, the system prompt (``st.session_state[text_key]``), and saving or deleting a preset."""
    choices = presets.system_prompt_choices(ledger, person)
    pick_key, name_key, problem_key = f"{prefix}_preset", f"{prefix}_preset_name", f"{prefix}_preset_problem"

    def apply_preset() -> None:
        chosen = choices.get(st.session_state[pick_key])
        if chosen is not None:
            st.session_state[text_key] = chosen.text

    if st.session_state.get(pick_key) not in choices:
        st.session_state.pop(pick_key, None)  # a preset deleted meanwhile (here or by an admin)
    st.selectbox("Preset", list(choices), key=pick_key, index=None, placeholder="Start from a preset…",
                 on_change=apply_preset)
    st.text_area("System prompt", key=text_key, height=90)

    def save() -> None:
        try:
            preset = presets.save(ledger, person, st.session_state.get(name_key, ""), st.session_state[text_key])
            st.session_state[problem_key] = None
            st.toast(f"Saved “{md_literal(preset.name)}”.")
        except StudioError as err:
            st.session_state[problem_key] = err.message

    def delete(chosen: presets.Choice) -> None:
        try:
            presets.delete(ledger, person, chosen.name, owner=chosen.owner)
            st.session_state[problem_key] = None
            st.session_state.pop(pick_key, None)
            st.toast(f"Deleted “{md_literal(chosen.label)}”.")
        except StudioError as err:
            st.session_state[problem_key] = err.message

    name_col, save_col = st.columns([3, 1], vertical_alignment="bottom")
    preset_name = name_col.text_input("Save this system prompt as", key=name_key, placeholder="e.g. Mars architect")
    save_col.button("Save preset", icon=":material/save:", disabled=not preset_name.strip(), on_click=save)
    chosen = choices.get(st.session_state.get(pick_key))
    if chosen is not None and chosen.owner is not None and may_change(person, chosen.owner):
        st.button(f"Delete preset “{md_literal(chosen.label)}”", key=f"{prefix}_preset_delete",
                  icon=":material/delete:", on_click=delete, args=(chosen,))
    if st.session_state.get(problem_key):
        st.error(md_literal(st.session_state[problem_key]), icon=":material/error:")
