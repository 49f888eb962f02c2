"""What every page of the web UI uses: templates, the request's project and principal,
reads as that principal, and charts.

A page module (`assay.server.ui.pages.<page>`) is a thin route over a read model::

    @router.get("/runs", response_class=HTMLResponse)
    def runs(request: Request) -> HTMLResponse:
        with as_principal(request):
            timeline = run_timeline(project_of(request).runtime)
        return render(request, "runs.html", "Runs", timeline=timeline,
                      chart=chart(charts.timeline(...)))

Values shown to a user come from reads made inside `as_principal(request)`, so the key's
roles and masks apply to each of them (the feature server does the same per request).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from assay import __version__
from assay.governance.principal import acting_as
from assay.server.guard import PRINCIPAL

if TYPE_CHECKING:
    from assay.project import Project

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

#: The navigation bar: (path, label), in order. Every page is listed, whoever wrote it.
NAV = (
    ("/", "Overview"),
    ("/lineage", "Lineage"),
    ("/runs", "Runs"),
    ("/quality", "Quality"),
    ("/features", "Features"),
    ("/streams", "Streams"),
    ("/cost", "Cost"),
)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates of the UI, autoescaped (a dataset name or a value is never HTML)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails, not shows nothing
    )
    env.filters["dataset_url"] = dataset_url
    env.filters["when"] = when
    env.filters["duration"] = duration
    env.filters["number"] = number
    env.filters["cell"] = cell
    env.filters["ago"] = ago
    return env


def render(request: Request, template: str, title: str, **context: Any) -> HTMLResponse:
    """The page `template` (which extends base.html) filled with `context`.

    Args:
        request: the request being answered (its path marks the active nav entry).
        template: a file in `src/assay/server/ui/templates/`.
        title: the page's title, shown in the tab and as its heading.
        context: the template's variables.
    """
    page = environment().get_template(template)
    html = page.render(
        request=request,
        title=title,
        nav=NAV,
        active=_active_nav(request.url.path),
        principal=request.scope.get(PRINCIPAL, ""),
        project_name=project_of(request).config.name,
        query=request.query_params.get("q", ""),
        static_version=__version__,
        **context,
    )
    status = int(context.get("status_code", 200))
    return HTMLResponse(html, status_code=status)


def _active_nav(path: str) -> str:
    if path.startswith("/datasets/"):
        return "/"
    return next((href for href, _ in NAV if href != "/" and path.startswith(href)), path)


class NotFound(HTTPException):
    """A 404 page naming what is missing, with close names to follow ("did you mean").

    Example:
        >>> NotFound("No dataset is named gold.x.", ["gold.y"]).suggestions
        ['gold.y']
    """

    def __init__(self, detail: str, suggestions: list[str] | None = None):
        super().__init__(404, detail)
        self.suggestions = list(suggestions or [])


def project_of(request: Request) -> Project:
    """The project the UI serves."""
    project: Project = request.app.state.project
    return project


def principal_of(request: Request) -> str:
    """The principal the request was authenticated as (`key:NAME`)."""
    principal = request.scope.get(PRINCIPAL)
    if not principal:  # the guard sets it on every page request; a route outside it is a bug
        raise RuntimeError(f"{request.url.path} was served without an authenticated principal")
    return str(principal)


@contextmanager
def as_principal(request: Request) -> Iterator[None]:
    """Every read inside the block goes through `runtime.reader` as the request's principal,
    so its roles, masks and row filters apply (and the audit log names it)."""
    with acting_as(principal_of(request)):
        yield


def chart(spec: dict[str, Any], height: int | None = None) -> Markup:
    """A `<div class="chart">` holding a Vega-Lite spec; `static/assay.js` draws it with
    vega-embed in the current theme.

    Args:
        spec: a Vega-Lite spec with its data inline (`data.values`); see `charts`.
        height: the box's height in pixels before the chart is drawn (avoids a jump).

    Example:
        >>> str(chart({"mark": "bar", "data": {"values": [{"a": 1}]}}))[:46]
        '<div class="chart" data-vega="{&#34;mark&#34;:'
    """
    text = json.dumps(spec, default=_json_value, separators=(",", ":"))
    style = f' style="min-height:{height}px"' if height else ""
    return Markup(f'<div class="chart" data-vega="{escape(text)}"{style}></div>')


def _json_value(value: Any) -> Any:
    """Times as ISO strings (Vega-Lite parses them as temporal), decimals as floats."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def dataset_url(name: str) -> str:
    """The page of dataset `name`.

    Example:
        >>> dataset_url("silver.transactions")
        '/datasets/silver.transactions'
    """
    return f"/datasets/{name}"


def when(value: datetime | date | str | None) -> str:
    """A time as users read it (UTC, to the second); empty for None.

    Example:
        >>> when(datetime(2026, 1, 2, 3, 4, 5, 678))
        '2026-01-02 03:04:05'
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def duration(seconds: float | None) -> str:
    """A duration: `850 ms`, `12.3 s`, `4 min 5 s`, `2 h 3 min`; empty for None.

    Example:
        >>> duration(0.85), duration(12.34), duration(245), duration(7380)
        ('850 ms', '12.3 s', '4 min 5 s', '2 h 3 min')
    """
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def number(value: float | int | None) -> str:
    """A count with thousands separators, a fraction with 3 significant digits.

    Example:
        >>> number(1234567), number(0.012345), number(None)
        ('1,234,567', '0.0123', '')
    """
    if value is None:
        return ""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


def cell(value: Any) -> str:
    """A table cell's text: empty for null, floats to 6 significant digits, times as
    `when` shows them.

    Example:
        >>> cell(None), cell(243.44833333333335), cell(1306.82), cell("a")
        ('', '243.448', '1306.82', 'a')
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return when(value)
    return str(value)


def ago(value: datetime | None, now: datetime) -> str:
    """How long before `now` (both naive UTC) `value` was, roughly.

    Example:
        >>> now = datetime(2026, 3, 1, 12)
        >>> ago(datetime(2026, 3, 1, 11, 59, 30), now), ago(datetime(2026, 3, 1, 9), now)
        ('30 s ago', '3 h ago')
        >>> ago(datetime(2026, 2, 27, 12), now), ago(datetime(2025, 11, 1), now)
        ('2 days ago', '4 months ago')
    """
    if value is None:
        return ""
    seconds = (now - value).total_seconds()
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400 * 30, "month"), (86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            count = int(seconds // size)
            plural = "s" if count > 1 and unit in ("month", "day") else ""
            return f"{count} {unit}{plural} ago"
    return f"{int(seconds)} s ago"
