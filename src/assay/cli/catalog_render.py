"""Rich sections of `assay describe`: overview, schema with history, quality, lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

if TYPE_CHECKING:
    from assay.catalog.search import SearchHit
    from assay.catalog_views.describe import DescribedColumn, Description

_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "not_run": "dim"}


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else str(value)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)  # unreachable: the loop returns at TB


def describe_view(about: Description) -> RenderableType:
    """Every section of a description, one panel each (empty sections left out)."""
    sections: list[RenderableType] = [_overview(about), _schema(about)]
    quality = _quality(about)
    if quality is not None:
        sections.append(quality)
    if about.kind == "dataset":
        sections.append(_lineage(about))
    return Group(*sections)


def _overview(about: Description) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    facts: list[tuple[str, Any]] = [
        ("kind", f"{about.kind} ({about.subkind})"),
        ("defined in" if about.kind == "dataset" else "location", about.origin),
        ("owner", about.owner),
        ("description", about.description),
        ("tags", ", ".join(f"{k}={v}" if v else k for k, v in about.tags.items()) or None),
        ("version", about.version),
        ("rows", f"{about.rows:,}" if about.rows is not None else None),
        ("files", f"{about.files:,} ({_size(about.bytes)})" if about.files is not None else None),
        ("last commit (UTC)", _when(about.last_commit) if about.last_commit else None),
        (
            f"newest {about.time_column}",
            _when(about.newest_time) if about.newest_time is not None else None,
        ),
        ("registered (UTC)", _when(about.registered_at) if about.registered_at else None),
        ("refreshed (UTC)", _when(about.refreshed_at) if about.refreshed_at else None),
    ]
    if about.intervals is not None:
        i = about.intervals
        span = f", {_when(i.first)} .. {_when(i.last)}" if i.first else ""
        facts.append(("intervals", f"{i.done} done, {i.missing} missing ({i.grain}){span}"))
    if about.kind == "dataset" and about.version is None:
        facts.append(("table", "not built yet: `assay run`"))
    for label, value in facts:
        if value is not None:
            grid.add_row(label, escape(str(value)))
    return Panel(grid, title=f"[bold]{escape(about.name)}[/]", title_align="left")


def _history(column: DescribedColumn) -> str:
    parts = []
    if column.added_in is not None:
        parts.append(f"added v{column.added_in}")
    for change in column.retyped:
        parts.append(f"retyped v{change['version']} {change['from']} -> {change['to']}")
    if column.dropped_in is not None:
        parts.append(f"dropped v{column.dropped_in}")
    return ", ".join(parts)


def _schema(about: Description) -> Panel:
    table = Table(expand=False)
    for header in ("column", "type", "history", "notes"):
        table.add_column(header)
    for column in about.columns:
        notes = [
            "primary key" if column.primary_key else "",
            "not null" if column.nullable is False else "",
            column.comment or "",
        ]
        style = "dim strike" if column.dropped_in is not None else None
        table.add_row(
            escape(column.name),
            escape(column.type),
            escape(_history(column)),
            escape("; ".join(n for n in notes if n)),
            style=style,
        )
    since = f" (history from v{about.history_since})" if about.history_since else ""
    body: RenderableType = table if about.columns else "no columns known yet"
    return Panel(body, title=f"schema{since}", title_align="left")


def _quality(about: Description) -> Panel | None:
    if not (about.contracts or about.last_checks or about.quality_trend):
        return None
    parts: list[RenderableType] = []
    if about.contracts:
        parts.append(f"contract: {escape(', '.join(about.contracts))}")
    if about.last_checks:
        checks = Table(title=f"last results (run {escape(about.last_checks[0].run_id)})")
        for header in ("rule", "kind", "severity", "status", "observed", "detail"):
            checks.add_column(header)
        for r in about.last_checks:
            style = _STATUS_STYLE.get(r.status, "")
            checks.add_row(
                escape(r.rule),
                r.kind,
                r.severity,
                f"[{style}]{r.status}[/]" if style else r.status,
                "" if r.observed is None else f"{r.observed:g}",
                escape(r.detail or ""),
            )
        parts.append(checks)
    if about.quality_trend:
        trend = Table(title="trend (oldest first)")
        for header in ("run", "measured (UTC)", "pass", "warn", "fail", "not run"):
            trend.add_column(header)
        for q in about.quality_trend:
            trend.add_row(
                escape(q.run_id), _when(q.measured_at), str(q.passed), str(q.warned),
                str(q.failed), str(q.not_run),
            )  # fmt: skip
        parts.append(trend)
    if about.batch_rows:
        rows = ", ".join(f"{value:,.0f}" for _, value in about.batch_rows)
        parts.append(f"rows per checked batch (oldest first): {rows}")
    return Panel(Group(*parts), title="quality", title_align="left")


def _lineage(about: Description) -> Panel:
    def names(items: list[str]) -> str:
        return escape(", ".join(items)) if items else "-"

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("reads", names(about.upstream))
    grid.add_row("all upstream", names(about.upstream_all))
    grid.add_row("read by", names(about.downstream))
    grid.add_row("all downstream", names(about.downstream_all))
    if about.feature_views:
        grid.add_row("feature views", names(about.feature_views))
    return Panel(grid, title="lineage (tables)", title_align="left")


def marked(snippet: str) -> str:
    """A search snippet with its « » marks as rich highlights (the rest escaped)."""
    from assay.catalog.search import CLOSE, OPEN

    text = escape(snippet)
    return text.replace(OPEN, "[bold yellow]").replace(CLOSE, "[/]")


def hits_table(text: str, hits: list[SearchHit]) -> Table:
    table = Table(title=f"search: {escape(text)}")
    for header in ("name", "kind", "matched", "snippet", "rank"):
        table.add_column(header)
    for hit in hits:
        table.add_row(escape(hit.name), hit.kind, hit.field, marked(hit.snippet), f"{hit.rank:.3g}")
    return table
