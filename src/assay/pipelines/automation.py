"""What a dataset declares about when it runs and what it promises: its schedule, its SLA,
its run-duration limit and its quarantine-ratio limit. Parsed once, when the project loads,
so a typo fails there with the dataset named, not at 3 a.m. in the scheduler.

Schedules are a cron expression (`0 6 * * *`), a preset (`@hourly`, `@daily`, `@weekly`,
`@monthly`, `@quarterly`, `@yearly`), `on_upstream` (run when an input has new data, like
Airflow 3 assets) or `on_arrival` (file sources: run when files in the glob are new or changed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from assay.errors import DefinitionError

#: Airflow's presets as cron (croniter knows most, not @quarterly).
PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|hr|d|day|days|w)?\s*$", re.I)
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hr": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
}
_DONE_BY = re.compile(r"^\s*(?:interval\s+)?done\s+by\s+(\d{1,2}):(\d{2})\s*(?:utc)?\s*$", re.I)
_WITHIN = re.compile(r"^\s*(?:interval\s+done\s+|fresh\s+)?within\s+(.+?)\s*$", re.I)


class Trigger(StrEnum):
    """What makes a dataset due."""

    CRON = "cron"
    ON_UPSTREAM = "on_upstream"
    ON_ARRIVAL = "on_arrival"


@dataclass(frozen=True)
class Schedule:
    """A parsed `schedule=`: `cron` holds the 5-field expression for cron triggers.

    Example:
        >>> Schedule.parse("@daily").cron
        '0 0 * * *'
        >>> Schedule.parse("on_upstream").trigger.value
        'on_upstream'
        >>> from datetime import datetime
        >>> Schedule.parse("0 6 * * *").next_after(datetime(2026, 3, 1, 7))
        datetime.datetime(2026, 3, 2, 6, 0)
    """

    text: str
    trigger: Trigger
    cron: str | None = None

    @classmethod
    def parse(cls, text: str, where: str | None = None) -> Schedule:
        value = str(text).strip()
        if value in (Trigger.ON_UPSTREAM.value, Trigger.ON_ARRIVAL.value):
            return cls(value, Trigger(value))
        cron = PRESETS.get(value.lower(), value)
        from croniter import croniter

        if not croniter.is_valid(cron) or len(cron.split()) != 5:
            raise DefinitionError(
                f"invalid schedule {text!r}",
                where=where,
                hint="use a 5-field cron expression ('0 6 * * *'), a preset "
                f"({', '.join(PRESETS)}), 'on_upstream' or 'on_arrival' (file sources)",
            )
        return cls(value, Trigger.CRON, cron)

    def next_after(self, moment: datetime) -> datetime:
        """The first cron tick strictly after `moment` (naive UTC in, naive UTC out)."""
        from croniter import croniter

        if self.cron is None:
            raise ValueError(f"{self.text} is not a time schedule")
        return croniter(self.cron, moment).get_next(datetime)

    def ticks_between(self, after: datetime, until: datetime) -> list[datetime]:
        """Every cron tick in `(after, until]`, oldest first."""
        ticks: list[datetime] = []
        moment = after
        while (moment := self.next_after(moment)) <= until:
            ticks.append(moment)
        return ticks


@dataclass(frozen=True)
class Sla:
    """A freshness deadline. `done_by` (a time of day, UTC) or `within` (a delay after the
    interval ends, or after the schedule's tick for non-incremental datasets).

    Example:
        >>> Sla.parse("interval done by 06:00 UTC").done_by
        datetime.timedelta(seconds=21600)
        >>> Sla.parse("within 2h").within
        datetime.timedelta(seconds=7200)
    """

    text: str
    done_by: timedelta | None = None
    within: timedelta | None = None

    @classmethod
    def parse(cls, text: str, where: str | None = None) -> Sla:
        value = str(text)
        if match := _DONE_BY.match(value):
            hours, minutes = int(match[1]), int(match[2])
            if hours < 24 and minutes < 60:
                return cls(value, done_by=timedelta(hours=hours, minutes=minutes))
        elif (match := _WITHIN.match(value)) and _DURATION.match(match[1]):
            return cls(value, within=timedelta(seconds=parse_duration(match[1], "sla", where)))
        raise DefinitionError(
            f"invalid sla {text!r}",
            where=where,
            hint="write 'interval done by 06:00 UTC' or 'within 2h'",
        )


def parse_duration(text: str | float | int, what: str, where: str | None = None) -> float:
    """Seconds in `"30m"`, `"2h"`, `"1.5d"` or a bare number of seconds.

    Example:
        >>> parse_duration("30m", "max_duration")
        1800.0
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    elif match := _DURATION.match(str(text)):
        seconds = float(match[1]) * _UNIT_SECONDS[(match[2] or "s").lower()]
    else:
        seconds = -1.0
    if seconds <= 0:
        raise DefinitionError(
            f"invalid {what} {text!r}", where=where, hint="write a duration such as '30m' or '2h'"
        )
    return seconds


def parse_ratio(text: str | float, what: str, where: str | None = None) -> float:
    """A share in [0, 1] from `"1%"`, `"0.5 %"` or a fraction `0.01`.

    Example:
        >>> parse_ratio("1%", "max_quarantined")
        0.01
    """
    raw = str(text).strip()
    try:
        share = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise DefinitionError(
            f"invalid {what} {text!r}",
            where=where,
            hint="write a percentage ('1%') or a fraction between 0 and 1 (0.01)",
        )
    return share


@dataclass(frozen=True)
class Automation:
    """Everything about running a dataset unattended, as declared (all optional).

    Attributes:
        schedule: when it runs; None: only when someone runs it (or its upstream runs it).
        catchup: how many missed cron ticks the scheduler runs after downtime (None: the
            project's `scheduler.max_catchup`).
        sla: the freshness deadline that alerts when missed.
        max_duration: seconds a run of this dataset may take before it alerts.
        max_quarantined: the share of rows in a batch that may be quarantined; above it the
            batch is blocked like a failed blocking check.
        max_lag: streams: how many records the stream may be behind its source before a
            `stream_lag` alert fires.
    """

    schedule: Schedule | None = None
    catchup: int | None = None
    sla: Sla | None = None
    max_duration: float | None = None
    max_quarantined: float | None = None
    max_lag: int | None = None

    @classmethod
    def declare(
        cls,
        where: str,
        schedule: str | None = None,
        catchup: int | str | None = None,
        sla: str | None = None,
        max_duration: str | float | None = None,
        max_quarantined: str | float | None = None,
        max_lag: int | str | None = None,
    ) -> Automation:
        """Parse the declaration's arguments (or SQL header values), naming `where` on error."""
        return cls(
            schedule=None if schedule is None else Schedule.parse(schedule, where),
            catchup=_whole(catchup, "catchup", 0, where),
            max_lag=_whole(max_lag, "max_lag", 1, where),
            sla=None if sla is None else Sla.parse(sla, where),
            max_duration=None
            if max_duration is None
            else parse_duration(max_duration, "max_duration", where),
            max_quarantined=None
            if max_quarantined is None
            else parse_ratio(max_quarantined, "max_quarantined", where),
        )


def _whole(value: int | str | None, what: str, least: int, where: str) -> int | None:
    """`value` as a whole number >= `least` (None stays None)."""
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = least - 1
    if number < least or isinstance(value, bool):
        raise DefinitionError(
            f"{what} must be a whole number >= {least}, not {value!r}", where=where
        )
    return number
