"""Monthly budgets per owner (`cost: budgets:` in assay.yaml) against what they spent.

An owner is over budget when its month-to-date cost (compute and scan of the builds
finished since the first of the month, UTC, plus storage prorated over the days elapsed)
exceeds the budget: that fires a `budget` alert. The projection (month-to-date cost
extrapolated to the whole month) is reported next to it but does not fire: early in a month
one backfill would project to many times its cost and page people for nothing; the
month-to-date amount only crosses the budget when the money is spent.

Example:
    >>> from datetime import datetime
    >>> from assay.cost.model import CostLine, CostReport
    >>> mtd = CostReport("owner", datetime(2026, 1, 1), datetime(2026, 1, 11), "USD",
    ...                  [CostLine("ana", compute=60.0)])
    >>> (status,) = budget_status(mtd, {"ana": 50.0})
    >>> status.over, round(status.projected, 2), round(status.used, 2)
    (True, 186.0, 1.2)
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from assay.cost.model import CostReport


@dataclass(frozen=True)
class BudgetStatus:
    """One owner's month so far against its monthly budget."""

    owner: str
    budget: float
    spent: float
    projected: float
    currency: str
    month_start: datetime

    @property
    def used(self) -> float:
        """Spent / budget (1.0 = all of it; a budget of 0 is used up by any spending)."""
        if self.budget:
            return self.spent / self.budget
        return float("inf") if self.spent else 0.0

    @property
    def over(self) -> bool:
        return self.spent > self.budget

    def to_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "budget": self.budget,
            "spent": self.spent,
            "projected": self.projected,
            "used": self.used if self.budget else None,
            "over": self.over,
            "currency": self.currency,
            "month_start": self.month_start.isoformat(),
        }


def month_window(now: datetime) -> tuple[datetime, datetime]:
    """The first instant of `now`'s month (UTC) and the first of the next.

    Example:
        >>> month_window(datetime(2026, 2, 10, 5))
        (datetime.datetime(2026, 2, 1, 0, 0), datetime.datetime(2026, 3, 1, 0, 0))
    """
    start = datetime(now.year, now.month, 1)
    days = calendar.monthrange(now.year, now.month)[1]
    return start, start + timedelta(days=days)


def budget_status(month_to_date: CostReport, budgets: Mapping[str, float]) -> list[BudgetStatus]:
    """Each budgeted owner's status from a by-owner report over [month start, now)."""
    spent = {line.key: line.total for line in month_to_date.lines}
    start, end = month_window(month_to_date.since)
    elapsed = (month_to_date.until - start) / (end - start)
    out = []
    for owner, budget in sorted(budgets.items()):
        cost = spent.get(owner, 0.0)
        projected = cost / elapsed if elapsed > 0 else cost
        out.append(BudgetStatus(owner, budget, cost, projected, month_to_date.currency, start))
    return out
