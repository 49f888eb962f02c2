"""`/cost`: cost by owner, team tag and dataset with trends, cost per day stacked by owner,
budgets with their usage, and storage per table with the saving `assay optimize` would
bring. The numbers are `assay cost --format json`'s (`assay.catalog_views.cost_view`)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from assay.catalog_views.cost_view import CostPage, cost_page
from assay.cost.model import CostLine, money
from assay.server.ui import charts
from assay.server.ui.web import as_principal, chart, duration, project_of, render

router = APIRouter()

#: The groupings shown, with their headings.
SECTIONS = (("owner", "By owner"), ("tag", "By team (team= tag)"), ("dataset", "By dataset"))


@router.get("/cost", response_class=HTMLResponse)
def cost_view(
    request: Request, days: int = Query(30, ge=1, le=366, description="Window, in days.")
) -> HTMLResponse:
    runtime = project_of(request).runtime
    with as_principal(request):
        page = cost_page(runtime, days)
    return render(
        request,
        "cost.html",
        "Cost",
        page=page,
        days=days,
        sections=SECTIONS,
        datasets=set(runtime.dag.specs),
        money=money,
        size=size,
        daily_chart=_daily_chart(page),
        dataset_chart=_dataset_chart(page),
    )


def _daily_chart(page: CostPage) -> Markup | None:
    if not page.daily:
        return None
    rows = [
        {
            "day": r["day"],
            # The axis parses `day` into a time; the tooltip shows this text as it is.
            "date": r["day"],
            "owner": r["group"],
            "cost": r["cost"],
            "amount": _amount(r["cost"], page.currency),
        }
        for r in page.daily
    ]
    spec = charts.bars(
        rows, "day", "cost", color="owner", title=f"Compute and scan per day ({page.currency})"
    )
    # One band per day (a lone day is a bar, not the whole axis).
    spec["encoding"]["x"].update(type="ordinal", title="day (UTC)")
    # Tooltips in the tables' words: a day (not midnight), money rounded with its currency.
    spec["encoding"]["tooltip"] = _tips(
        ("date", "day (UTC)"), ("owner", "owner"), ("amount", "cost")
    )
    return chart(spec, height=200)


def _dataset_chart(page: CostPage) -> Markup | None:
    lines = [line for line in page.reports["dataset"].lines if line.total > 0][:15]
    if not lines:
        return None
    rows = [
        {
            "dataset": line.key,
            "part": part,
            "cost": getattr(line, part),
            "amount": _amount(getattr(line, part), page.currency),
            "measured": _measured(line, part),
        }
        for line in lines
        for part in ("compute", "scan", "storage")
    ]
    spec = charts.bars(
        rows,
        "dataset",
        "cost",
        color="part",
        horizontal=True,
        title=f"Most expensive datasets ({page.currency})",
        height=max(120, 24 * len(lines)),
    )
    spec["encoding"]["y"]["sort"] = [line.key for line in lines]
    spec["encoding"]["tooltip"] = _tips(
        ("dataset", "dataset"), ("part", "part"), ("amount", "cost"), ("measured", "for")
    )
    return chart(spec)


def _amount(cost: float, currency: str) -> str:
    """Money as the tables show it, with its currency.

    Example:
        >>> _amount(0.000107230932, "EUR"), _amount(12.345, "USD")
        ('0.000107 EUR', '12.35 USD')
    """
    return f"{money(cost)} {currency}"


def _measured(line: CostLine, part: str) -> str:
    """What a part of a dataset's cost is the price of: CPU time, bytes read, bytes stored.

    Example:
        >>> line = CostLine("a.b", cpu_seconds=2.5, bytes_read=3 * 2**20, stored_bytes=1536)
        >>> [_measured(line, part) for part in ("compute", "scan", "storage")]
        ['2.5 s CPU', '3.0 MiB read', '1.5 KiB stored']
    """
    if part == "compute":
        return f"{duration(line.cpu_seconds)} CPU"
    if part == "scan":
        return f"{size(line.bytes_read)} read"
    return f"{size(line.stored_bytes)} stored"


def _tips(*fields: tuple[str, str]) -> list[dict[str, str]]:
    """Tooltip channels of text fields (field, title): shown as they are, never reformatted."""
    return [{"field": field, "type": "nominal", "title": title} for field, title in fields]


def size(num_bytes: float) -> str:
    """Bytes as people read them.

    Example:
        >>> size(0), size(1536), size(3 * 2**30)
        ('0 B', '1.5 KiB', '3.0 GiB')
    """
    value, unit = float(num_bytes), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
