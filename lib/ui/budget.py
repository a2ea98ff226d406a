"""The monthly budgets (lib/budgets.py): the warning every page shows, and the admins' settings on the ledger page."""
from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from lib import budgets, clock
from lib.errors import StudioError
from lib.store import BUDGET_KEY, HARD_BUDGET_KEY, StoreUnavailable, open_store  # noqa: F401  (BUDGET_KEY: the ledger setting)
from lib.ui import people as ui_people
from lib.ui.safe_text import md_literal

WARN_AT = budgets.WARN_AT


def month_start(now: datetime | None = None) -> datetime:
    return clock.month_start(now.astimezone(timezone.utc) if now else None)


def budget_warning() -> None:
    """Warn at 80 % and 100 % of this month's team budget and of the person's own; silent when none is set or the
    ledger is unavailable."""
    person = ui_people.current_person()
    if person is None:
        return
    try:
        _, ledger = open_store()
        found = budgets.warnings(ledger, person)
    except StoreUnavailable:
        return  # the home page explains an unusable data dir; don't repeat it everywhere
    for level, sentence in found:
        if level == "error":
            st.error(sentence, icon=":material/money_off:")
        else:
            st.warning(sentence, icon=":material/savings:")


def _saving(change, *args) -> None:
    """Run an admin setting change; a refusal (not an admin, a bad amount) is said, not raised."""
    try:
        change(*args)
        st.session_state.pop("budget_problem", None)
    except StudioError as err:
        st.session_state["budget_problem"] = err.message


def budget_input(ledger) -> None:
    """The admins' budget settings in the sidebar, saved in the ledger so every session and replica shares them."""
    person = ui_people.current_person()
    if "budget_usd" not in st.session_state:
        st.session_state["budget_usd"] = budgets.team_budget(ledger) or 0.0
    st.number_input(
        "Team monthly budget (USD, live calls)", min_value=0.0, step=5.0, format="%.2f", key="budget_usd",
        on_change=lambda: _saving(budgets.set_team_budget, ledger, person, st.session_state["budget_usd"]),
        help="Everyone's live spend together. Every page warns at 80 % and 100 % of it. 0 means no budget. "
             "Demo calls never count.",
    )
    if "budget_person_default" not in st.session_state:
        st.session_state["budget_person_default"] = budgets.default_person_budget(ledger) or 0.0
    st.number_input(
        "Monthly budget per person (USD)", min_value=0.0, step=1.0, format="%.2f", key="budget_person_default",
        on_change=lambda: _saving(budgets.set_default_person_budget, ledger, person,
                                  st.session_state["budget_person_default"]),
        help="Each person's own live spend, for everyone without a figure of their own (below). 0 means none.",
    )
    if "budget_hard" not in st.session_state:
        st.session_state["budget_hard"] = budgets.is_hard(ledger)
    st.checkbox(
        "Hard limit", key="budget_hard",
        on_change=lambda: _saving(budgets.set_hard, ledger, person, st.session_state["budget_hard"]),
        help="Refuse a live call whose estimated cost, with this month's spend and the calls in flight, would "
             "pass the team's budget or the person's own (checked in the database, so several sessions and "
             "replicas cannot overspend together).",
    )
    if st.toggle("Budgets of named people", key="budget_people_open",
                 help="This month's spend per person, and a figure of their own for anyone."):
        _person_budgets(ledger, person)
    if st.session_state.get("budget_problem"):
        st.error(md_literal(st.session_state["budget_problem"]), icon=":material/error:")


def _person_budgets(ledger, admin) -> None:
    spent = ledger.committed_by_person(clock.month_start())
    figures = budgets.person_budgets(ledger)
    default = budgets.default_person_budget(ledger)
    people = sorted(set(spent) | set(figures))
    if people:
        st.dataframe(
            [{"person": key, "spent": spent.get(key, 0.0),
              "budget": figures[key] if key in figures else default} for key in people],
            hide_index=True, column_config={"spent": st.column_config.NumberColumn(format="$%.2f"),
                                            "budget": st.column_config.NumberColumn(format="$%.2f")})
    key = st.selectbox("Person", people, key="budget_person_key", index=None, accept_new_options=True,
                       placeholder="a person key, as in the ledger's person column")
    st.number_input("Their monthly budget (USD, 0 = none of their own)", min_value=0.0, step=1.0,
                    format="%.2f", key="budget_person_amount")
    set_col, default_col = st.columns(2)
    chosen = lambda: st.session_state.get("budget_person_key")  # noqa: E731  (read when clicked)
    set_col.button("Set", key="budget_person_set", disabled=not key, on_click=lambda: _saving(
        budgets.set_person_budget, ledger, admin, chosen(), st.session_state.get("budget_person_amount")))
    default_col.button("Use the default", key="budget_person_clear", disabled=not key or key not in figures,
                       on_click=lambda: _saving(budgets.set_person_budget, ledger, admin, chosen(), None))
