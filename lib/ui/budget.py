"""The monthly budget: a stored setting, and the warning every page shows once live spend passes 80 % and 100 %."""
from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from lib import clock

from lib.store import BUDGET_KEY, HARD_BUDGET_KEY, StoreUnavailable, open_store  # noqa: F401  (BUDGET_KEY: the ledger setting)
WARN_AT = 0.8


def month_start(now: datetime | None = None) -> datetime:
    return clock.month_start(now.astimezone(timezone.utc) if now else None)


def budget_status(ledger, now: datetime | None = None) -> tuple[float, float | None]:
    """(live spend this calendar month in UTC, the budget or None)."""
    budget = ledger.get_setting(BUDGET_KEY, None)
    spend = ledger.spend(since=month_start(now), backend="live")
    return spend, (float(budget) if budget else None)


def budget_warning() -> None:
    """Warn at 80 % and 100 % of this month's budget; silent when no budget is set or the ledger is unavailable."""
    try:
        _, ledger = open_store()
        spend, budget = budget_status(ledger)
    except StoreUnavailable:
        return  # the home page explains an unusable data dir; don't repeat it everywhere
    if not budget:
        return
    share = spend / budget
    if share >= 1.0:
        st.error(
            f"Live spend this month is ${spend:,.2f}, over your ${budget:,.2f} budget ({share:.0%}). "
            "Demo mode costs nothing; change the budget on the Usage ledger page.",
            icon=":material/money_off:",
        )
    elif share >= WARN_AT:
        st.warning(
            f"Live spend this month is ${spend:,.2f}, {share:.0%} of your ${budget:,.2f} budget.",
            icon=":material/savings:",
        )


def budget_input(ledger) -> None:
    """The sidebar setting for the monthly budget, saved in the ledger so every session shares it."""
    saved = float(ledger.get_setting(BUDGET_KEY, 0.0) or 0.0)

    def save() -> None:
        ledger.set_setting(BUDGET_KEY, float(st.session_state["budget_usd"] or 0.0))

    if "budget_usd" not in st.session_state:
        st.session_state["budget_usd"] = saved
    st.number_input(
        "Monthly budget (USD, live calls)", min_value=0.0, step=5.0, format="%.2f", key="budget_usd", on_change=save,
        help="Every page warns at 80 % and 100 % of it. 0 means no budget. Demo calls never count.",
    )

    def save_hard() -> None:
        ledger.set_setting(HARD_BUDGET_KEY, bool(st.session_state["budget_hard"]))

    if "budget_hard" not in st.session_state:
        st.session_state["budget_hard"] = bool(ledger.get_setting(HARD_BUDGET_KEY, False))
    st.checkbox(
        "Hard limit", key="budget_hard", on_change=save_hard,
        help="Refuse a live call whose estimated cost, with this month's spend and the calls in flight, would "
             "pass the budget (checked in the database, so several sessions cannot overspend together).",
    )
