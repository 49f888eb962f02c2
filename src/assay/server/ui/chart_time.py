"""Time and number formats of the runs and streams pages' charts: times in UTC, 24-hour,
with the date where it changes (as `assay status` and the tables beside the charts show
them), and tooltips rounded.

The catalog's and the Delta logs' times are naive UTC. Sent as they are, a browser reads
them as its local time; sent with a `Z` and drawn on a `utc` scale with `utc` formats,
every browser shows UTC. d3's default tick format is 12-hour without AM/PM ("12:15" for
00:15): the multi-format below is the 24-hour one, with the date on day ticks.

Example:
    >>> spec = {"data": {"values": [{"t": datetime(2026, 8, 30, 0, 9, 5, 123456), "n": 2.5}]},
    ...         "encoding": {"x": {"field": "t", "type": "temporal"},
    ...                      "tooltip": [{"field": "n", "type": "quantitative"}]}}
    >>> spec = in_utc(spec)
    >>> spec["data"]["values"][0]["t"], spec["encoding"]["x"]["scale"]
    ('2026-08-30T00:09:05.123Z', {'type': 'utc'})
    >>> spec["encoding"]["tooltip"][0]["format"]
    ',.3~f'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: d3 multi-format for time axes (Vega picks the entry of the tick's finest unit): 24-hour
#: times, and the date on the ticks where the day changes.
AXIS_FORMAT = {
    "year": "%Y",
    "quarter": "%b %Y",
    "month": "%b %Y",
    "week": "%b %d",
    "date": "%b %d",
    "hours": "%H:%M",
    "minutes": "%H:%M",
    "seconds": "%H:%M:%S",
    "milliseconds": "%H:%M:%S.%L",
}
#: A time in a tooltip (UTC, like the page's tables).
TOOLTIP_TIME = "%Y-%m-%d %H:%M:%S"
#: A number in a tooltip: thousands separators, at most 3 decimals, no trailing zeros.
TOOLTIP_NUMBER = ",.3~f"


def utc_iso(value: datetime) -> str:
    """A naive UTC time as an ISO string a browser reads as UTC (milliseconds kept).

    Example:
        >>> utc_iso(datetime(2026, 1, 2, 3, 4, 5))
        '2026-01-02T03:04:05.000Z'
    """
    return value.isoformat(timespec="milliseconds") + "Z"


def in_utc(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` (a single-view Vega-Lite spec with inline data) with its times sent and
    drawn in UTC, its time axes 24-hour with dates where the day changes, and its tooltips
    rounded. Changes and returns `spec`."""
    for row in spec.get("data", {}).get("values", []):
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = utc_iso(value)
    encoding = spec.get("encoding", {})
    for name in ("x", "y"):
        channel = encoding.get(name)
        if channel and channel.get("type") == "temporal" and "timeUnit" not in channel:
            channel["scale"] = {**channel.get("scale", {}), "type": "utc"}
            axis = {key: v for key, v in channel.get("axis", {}).items() if key != "format"}
            # (no formatType: Vega formats a utc scale's ticks in UTC; "utc" drops the format)
            channel["axis"] = {**axis, "format": AXIS_FORMAT}
    for tip in encoding.get("tooltip", []):
        if tip.get("type") == "temporal":
            tip.update(format=TOOLTIP_TIME, formatType="utc")
        elif tip.get("type") == "quantitative":
            tip.setdefault("format", TOOLTIP_NUMBER)
    return spec


def time_title(label: str, values: list[datetime]) -> str:
    """An axis title naming the day (or days) its times fall on, so a day's times need no
    date on each tick.

    Example:
        >>> time_title("watermark", [datetime(2026, 8, 30, 0, 9), datetime(2026, 8, 30, 0, 59)])
        'watermark (UTC, 2026-08-30)'
        >>> time_title("started", [datetime(2026, 8, 30), datetime(2026, 9, 2)])
        'started (UTC, 2026-08-30 to 2026-09-02)'
    """
    days = sorted({value.date() for value in values})
    if not days:
        return f"{label} (UTC)"
    span = str(days[0]) if len(days) == 1 else f"{days[0]} to {days[-1]}"
    return f"{label} (UTC, {span})"
