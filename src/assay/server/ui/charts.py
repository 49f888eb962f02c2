"""Small builders of Vega-Lite specs for the UI's charts (pass them to `web.chart`).

Every chart has its data inline, a tooltip on every mark, and no colours of its own beyond
the categorical scheme: `static/assay.js` applies the light or dark theme when it draws.
Times are ISO strings typed `temporal` (`web.chart` turns datetimes into ISO strings).

Example:
    >>> spec = line([{"day": "2026-01-01", "rows": 3}], "day", "rows", title="Rows")
    >>> spec["encoding"]["x"]["type"], spec["encoding"]["y"]["type"], spec["mark"]["type"]
    ('temporal', 'quantitative', 'line')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"

Rows = Sequence[Mapping[str, Any]]


def field_type(rows: Rows, field: str) -> str:
    """The Vega-Lite type of `field`: temporal for dates and times (or ISO strings),
    quantitative for numbers, nominal otherwise.

    Example:
        >>> field_type([{"t": datetime(2026, 1, 1)}], "t"), field_type([{"n": 2.5}], "n")
        ('temporal', 'quantitative')
        >>> field_type([{"t": "2026-01-01T00:00:00"}], "t"), field_type([{"s": "a"}], "s")
        ('temporal', 'nominal')
    """
    value = next((row[field] for row in rows if row.get(field) is not None), None)
    if isinstance(value, datetime | date):
        return "temporal"
    if isinstance(value, bool):
        return "nominal"
    if isinstance(value, int | float):
        return "quantitative"
    if isinstance(value, str) and _looks_iso(value):
        return "temporal"
    return "nominal"


def _looks_iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return len(text) >= 10 and text[4] == "-"


def _base(rows: Rows, title: str, height: int) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "$schema": SCHEMA,
        "data": {"values": [dict(row) for row in rows]},
        "width": "container",
        "height": height,
        "autosize": {"type": "fit", "contains": "padding"},
    }
    if title:
        spec["title"] = title
    return spec


def _channel(rows: Rows, field: str, title: str | None = None, **extra: Any) -> dict[str, Any]:
    channel = {"field": field, "type": field_type(rows, field), "title": title or field}
    channel.update(extra)
    return channel


def _tooltip(rows: Rows, fields: Sequence[str]) -> list[dict[str, Any]]:
    tips = []
    for field in dict.fromkeys(f for f in fields if f):
        tip = _channel(rows, field)
        if tip["type"] == "temporal":
            tip["format"] = "%Y-%m-%d %H:%M:%S"
        tips.append(tip)
    return tips


def line(
    rows: Rows,
    x: str,
    y: str,
    color: str | None = None,
    title: str = "",
    height: int = 180,
    points: bool = True,
    tooltip: Sequence[str] = (),
) -> dict[str, Any]:
    """A line per `color` value (or one line) of `y` over `x`.

    Example:
        >>> spec = line([{"t": "2026-01-01", "psi": 0.1, "f": "amount"}], "t", "psi", color="f")
        >>> spec["encoding"]["color"]["field"], [t["field"] for t in spec["encoding"]["tooltip"]]
        ('f', ['t', 'psi', 'f'])
    """
    spec = _base(rows, title, height)
    spec["mark"] = {"type": "line", "point": points}
    x_channel = _channel(rows, x)
    if x_channel["type"] == "temporal":  # minutes at most: sub-second ticks read as noise
        x_channel["axis"] = {"format": "%b %d %H:%M", "labelOverlap": True}
    spec["encoding"] = {
        "x": x_channel,
        "y": _channel(rows, y),
        "tooltip": _tooltip(rows, [x, y, color or "", *tooltip]),
    }
    if color:
        spec["encoding"]["color"] = _channel(rows, color, type="nominal")
    return spec


def bars(
    rows: Rows,
    x: str,
    y: str,
    color: str | None = None,
    title: str = "",
    height: int = 180,
    horizontal: bool = False,
    tooltip: Sequence[str] = (),
    colors: Mapping[str, str] | None = None,
    span: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """Bars of `y` per `x` (stacked by `color`); `horizontal` puts the categories on y.

    Args:
        colors: fixed colours per `color` value (e.g. {"passed": "#2e9d5b", "failed": ...}).
        span: the (first, last) day a time axis shows, so days without bars show as gaps.

    Example:
        >>> spec = bars([{"day": "2026-01-01", "runs": 4}], "day", "runs")
        >>> spec["encoding"]["x"]["timeUnit"], spec["mark"]["type"]
        ('yearmonthdate', 'bar')
    """
    spec = _base(rows, title, height)
    spec["mark"] = {"type": "bar", "tooltip": True}
    category = _channel(rows, x)
    if category["type"] == "temporal":  # one bar per day, not a hairline per instant
        category["timeUnit"] = "yearmonthdate"
        if span is not None:
            category["scale"] = {"domain": [str(span[0]), str(span[1])]}
    elif not horizontal:  # names read level
        if category["type"] == "quantitative":  # version numbers: one bar each
            category["type"] = "ordinal"
        category["axis"] = {"labelAngle": 0, "labelLimit": 160}
    value = _channel(rows, y)
    spec["encoding"] = {
        "x": value if horizontal else category,
        "y": category if horizontal else value,
        "tooltip": _tooltip(rows, [x, y, color or "", *tooltip]),
    }
    if color:
        spec["encoding"]["color"] = _color(rows, color, colors)
    return spec


def heatmap(
    rows: Rows,
    x: str,
    y: str,
    color: str,
    title: str = "",
    height: int = 200,
    colors: Mapping[str, str] | None = None,
    tooltip: Sequence[str] = (),
) -> dict[str, Any]:
    """A grid of cells at (`x`, `y`) coloured by `color` (a state or a number).

    Example:
        >>> rows = [{"day": "2026-01-01", "hour": 3, "state": "done"}]
        >>> heatmap(rows, "day", "hour", "state", colors={"done": "#2e9d5b"})["mark"]["type"]
        'rect'
    """
    spec = _base(rows, title, height)
    spec["mark"] = {"type": "rect", "tooltip": True, "stroke": None}
    x_channel = _channel(rows, x, type="ordinal")
    if field_type(rows, x) == "temporal":
        x_channel.update(type="ordinal", timeUnit="yearmonthdate")
    spec["encoding"] = {
        "x": x_channel,
        "y": _channel(rows, y, type="ordinal"),
        "color": _color(rows, color, colors),
        "tooltip": _tooltip(rows, [x, y, color, *tooltip]),
    }
    return spec


def timeline(
    rows: Rows,
    start: str,
    end: str,
    lane: str,
    color: str | None = None,
    title: str = "",
    height: int | None = None,
    colors: Mapping[str, str] | None = None,
    tooltip: Sequence[str] = (),
) -> dict[str, Any]:
    """A Gantt-style timeline: one bar from `start` to `end` per row, one lane per `lane`.

    Example:
        >>> rows = [{"s": "2026-01-01T00:00:00", "e": "2026-01-01T00:01:00", "d": "a"}]
        >>> spec = timeline(rows, "s", "e", "d")
        >>> spec["encoding"]["x2"], spec["encoding"]["y"]["field"]
        ({'field': 'e'}, 'd')
    """
    lanes = len({row.get(lane) for row in rows}) or 1
    spec = _base(rows, title, height or max(80, 26 * lanes + 40))
    spec["mark"] = {"type": "bar", "tooltip": True, "minBandSize": 3}
    spec["encoding"] = {
        "x": _channel(rows, start, title="time", type="temporal"),
        "x2": {"field": end},
        "y": _channel(rows, lane, type="nominal"),
        "tooltip": _tooltip(rows, [lane, start, end, color or "", *tooltip]),
    }
    if color:
        spec["encoding"]["color"] = _color(rows, color, colors)
    return spec


def _color(rows: Rows, field: str, colors: Mapping[str, str] | None) -> dict[str, Any]:
    channel = _channel(rows, field)
    if colors:
        # Only the values present: the legend lists what the chart shows, nothing more.
        present = {row.get(field) for row in rows}
        domain = [value for value in colors if value in present]
        domain += sorted({str(v) for v in present if v not in colors and v is not None})
        channel["type"] = "nominal"
        channel["scale"] = {
            "domain": domain,
            "range": [colors.get(value, "#8a8f98") for value in domain],
        }
    return channel


#: Colours of states, shared by pages so "failed" looks the same everywhere (readable on
#: both themes' backgrounds).
STATE_COLORS = {
    "success": "#2e9d5b",
    "passed": "#2e9d5b",
    "done": "#2e9d5b",
    "fresh": "#2e9d5b",
    "warning": "#d9a21b",
    "warn": "#d9a21b",
    "stale": "#d9a21b",
    "running": "#3b82c4",
    "failed": "#d64545",
    "blocked": "#d64545",
    "missing": "#8a8f98",
    "skipped": "#8a8f98",
    "never built": "#8a8f98",
}
