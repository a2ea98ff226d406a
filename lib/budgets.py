"""Monthly budgets: the team's and each person's, admin settings kept in the ledger's settings.

- The team budget (``monthly_budget_usd``) caps the live spend of everyone together this UTC month.
- A person's budget caps their own live calls: their own figure (``person_monthly_budgets``, a mapping
  person key → USD, where 0 means "no budget of their own") or else the default for everyone
  (``person_monthly_budget_usd``).  0 or missing: no budget.
- ``monthly_budget_hard`` makes both limits calls cannot pass: ``lib.store.begin_call`` reserves a call's
  estimate against both in one transaction (``Ledger.begin``).  Soft, they only warn at 80 % and 100 %.

Only admins change any of these (``NotAllowed`` for a member, whatever the page shows).  Spend counts
what a hard budget counts: settled live cost plus money held by calls in flight.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from lib import clock
from lib.errors import InvalidInput
from lib.people import NotAllowed, Person

TEAM_BUDGET_KEY = "monthly_budget_usd"           # a float; 0 or missing: no team budget
HARD_BUDGET_KEY = "monthly_budget_hard"          # true: the budgets are limits calls cannot pass
PERSON_DEFAULT_KEY = "person_monthly_budget_usd"  # a float: every person without a figure of their own
PERSON_BUDGETS_KEY = "person_monthly_budgets"    # {person key: float}; 0 exempts that person from the default
WARN_AT = 0.8
MAX_BUDGET_USD = 1_000_000.0


@dataclass(frozen=True)
class Limits:
    """The budgets that apply to one person's next call (``None``: no such budget)."""

    team: float | None
    person: float | None
    hard: bool


@dataclass(frozen=True)
class BudgetState:
    """How far one budget is spent this month."""

    own: bool  # the person's own budget (else the team's)
    spent: float
    limit: float

    @property
    def share(self) -> float:
        return self.spent / self.limit


def _amount(value) -> float | None:
    try:
        amount = float(value or 0.0)
    except (TypeError, ValueError):
        return None
    return amount if math.isfinite(amount) and amount > 0 else None


def team_budget(ledger) -> float | None:
    return _amount(ledger.get_setting(TEAM_BUDGET_KEY, None))


def person_budgets(ledger) -> dict[str, float]:
    """Each named person's own figure (0: none of their own, the default does not apply either)."""
    found = ledger.get_setting(PERSON_BUDGETS_KEY, {}) or {}
    return {str(k): float(v) for k, v in found.items() if _amount(v) is not None or v == 0} if isinstance(found, dict) else {}


def default_person_budget(ledger) -> float | None:
    return _amount(ledger.get_setting(PERSON_DEFAULT_KEY, None))


def person_budget(ledger, person_key: str) -> float | None:
    """The budget of ``person_key``'s own calls: their figure, else the default; ``None`` when there is none."""
    own = person_budgets(ledger)
    if person_key in own:
        return _amount(own[person_key])
    return default_person_budget(ledger)


def is_hard(ledger) -> bool:
    return bool(ledger.get_setting(HARD_BUDGET_KEY, False))


def limits(ledger, person_key: str) -> Limits:
    return Limits(team_budget(ledger), person_budget(ledger, person_key), is_hard(ledger))


def states(ledger, person_key: str, now: datetime | None = None) -> list[BudgetState]:
    """The team's budget and ``person_key``'s own, as far as they are set, with this month's spend."""
    since = clock.month_start(now)
    found = []
    team = team_budget(ledger)
    if team:
        found.append(BudgetState(False, ledger.committed_spend(since), team))
    own = person_budget(ledger, person_key)
    if own:
        found.append(BudgetState(True, ledger.committed_spend(since, person=person_key), own))
    return found


def warnings(ledger, person: Person, now: datetime | None = None) -> list[tuple[str, str]]:
    """``(level, sentence)`` for each budget past 80 % (``warning``) or spent (``error``), in words."""
    who_raises = "change it on the Usage ledger page" if person.is_admin else "an admin can raise it"
    found = []
    for state in states(ledger, person.key, now):
        whose = "your own" if state.own else "the team's"
        spend = "Your live spend" if state.own else "The team's live spend"
        if state.share >= 1.0:
            found.append(("error", f"{spend} this month is ${state.spent:,.2f}, over {whose} ${state.limit:,.2f} "
                                   f"budget ({state.share:.0%}). Demo mode costs nothing; {who_raises}."))
        elif state.share >= WARN_AT:
            found.append(("warning", f"{spend} this month is ${state.spent:,.2f}, {state.share:.0%} of {whose} "
                                     f"${state.limit:,.2f} budget."))
    return found


# --- admin settings -------------------------------------------------------------------------------
def _require_admin(by: Person, what: str) -> None:
    if not by.is_admin:
        raise NotAllowed(f"Only an admin can change {what}; ask one of the studio's admins.", code="admin_setting")


def _checked(usd) -> float:
    try:
        amount = float(usd if usd is not None else 0.0)
    except (TypeError, ValueError):
        amount = math.nan
    if not math.isfinite(amount) or amount < 0 or amount > MAX_BUDGET_USD:
        raise InvalidInput(f"A budget is an amount in US dollars from 0 (no budget) to {MAX_BUDGET_USD:,.0f}.",
                           param="budget")
    return amount


def set_team_budget(ledger, by: Person, usd) -> None:
    _require_admin(by, "the team's monthly budget")
    ledger.set_setting(TEAM_BUDGET_KEY, _checked(usd))


def set_hard(ledger, by: Person, hard: bool) -> None:
    _require_admin(by, "whether the budgets are hard limits")
    ledger.set_setting(HARD_BUDGET_KEY, bool(hard))


def set_default_person_budget(ledger, by: Person, usd) -> None:
    _require_admin(by, "the budget per person")
    ledger.set_setting(PERSON_DEFAULT_KEY, _checked(usd))


def set_person_budget(ledger, by: Person, person_key: str, usd) -> None:
    """Give ``person_key`` a figure of their own (0: none, not even the default); ``None`` goes back to the default."""
    _require_admin(by, "a person's budget")
    key = (person_key or "").strip()
    if not key:
        raise InvalidInput("Say whose budget this is (their key, as the ledger's person column shows it).",
                           param="person")
    figures = person_budgets(ledger)
    if usd is None:
        figures.pop(key, None)
    else:
        figures[key] = _checked(usd)
    ledger.set_setting(PERSON_BUDGETS_KEY, figures)
