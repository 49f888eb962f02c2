"""`assay audit`: who read and wrote what, from the hash-chained audit log; `--verify`
checks that no event was edited, deleted or inserted."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

if TYPE_CHECKING:
    from assay.governance.audit import AuditLog, AuditRecord


class AuditFormat(StrEnum):
    table = "table"
    json = "json"


_AGO = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """`--since` as a naive UTC time: an ISO time (UTC unless it carries an offset) or an
    age such as `30m`, `12h`, `7d`.

    Example:
        >>> parse_since("2d", now=datetime(2026, 1, 3))
        datetime.datetime(2026, 1, 1, 0, 0)
    """
    from assay.cli.common import parse_time
    from assay.intervals import to_naive_utc, utcnow

    if not text:
        return None
    age = _AGO.match(text.strip())
    if age:
        return (now or utcnow()) - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    moment = parse_time(text)
    return None if moment is None else to_naive_utc(moment)


@handles_errors
def audit(
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Only this principal's events.")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Only events on this layer.name.")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            "-a",
            help="Only this action: read, write, delete, erase, retention, hold, "
            "keys_rotate; `deny` lists every denied event.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only events since this UTC time (2026-01-31 08:00) or age (12h, 7d)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many (the newest).")] = 100,
    format: Annotated[
        AuditFormat, typer.Option("--format", "-f", help="table or json.")
    ] = AuditFormat.table,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify", help="Check the hash chain instead: OK, or the first broken event (exit 1)."
        ),
    ] = False,
    project: ProjectOpt = Path("."),
) -> None:
    """Show the audit log: every read (allowed or denied) and write through assay, with
    principal, role, dataset, columns, rows and the query's hash (never its text).

    Examples: `assay audit --user alice --since 7d`, `assay audit --action deny`,
    `assay audit --dataset gold.customers --format json`, `assay audit --verify`
    """
    from assay.governance.audit import AuditLog

    log = AuditLog(_project(project).catalog)
    if verify:
        _verify(log)
        return
    denied = True if action == "deny" else None
    shown = log.events(
        principal=user,
        dataset=dataset,
        action=None if action == "deny" else action,
        since=parse_since(since),
        limit=limit,
        denied=denied,
    )
    if format is AuditFormat.json:
        sys.stdout.write(json.dumps([_as_json(e) for e in shown], indent=1, default=str) + "\n")
        return
    _print_table(shown)


def _verify(log: AuditLog) -> None:
    from rich.markup import escape

    from assay.cli.render import console, err_console

    with console.status(f"Verifying the hash chain of {log.count():,} event(s)..."):
        result = log.verify()
    if result.ok:
        console.print(f"[green]OK[/]: {result.events:,} event(s), the hash chain is intact.")
        return
    broken = result.broken
    assert broken is not None  # not ok always names the broken link
    err_console.print(
        f"[bold red]BROKEN[/] at event {broken.seq} ({broken.kind}): {escape(broken.message)}"
    )
    err_console.print(
        "[cyan]hint:[/] the log was changed outside assay; keep the database as it is "
        "and compare it with a backup to see what was changed"
    )
    raise typer.Exit(1)


def _print_table(shown: list[AuditRecord]) -> None:
    from rich.markup import escape

    from assay.cli.render import console, rows_table

    if not shown:
        console.print("No audit events match.")
        return
    rows = [
        (
            event.seq,
            event.time.strftime("%Y-%m-%d %H:%M:%S"),
            escape(event.principal),
            escape(event.role or "-"),
            escape(event.action),
            escape(event.dataset or "-"),
            escape(", ".join(event.columns)) or ("all" if event.detail.get("all_columns") else "-"),
            "-" if event.rows is None else f"{event.rows:,}",
            "yes" if event.allowed else "[red]DENIED[/]",
            (event.query_hash or "")[:12] or "-",
            escape(_summary(event.detail)),
        )
        for event in shown
    ]
    columns = ["#", "time (UTC)", "principal", "role", "action", "dataset", "columns", "rows"]
    console.print(rows_table("Audit log", [*columns, "allowed", "query", "detail"], rows))


def _summary(detail: dict[str, object]) -> str:
    """The detail in one short line (`reason` first: why a read was denied)."""
    items = sorted(detail.items(), key=lambda kv: (kv[0] != "reason", kv[0]))
    text = ", ".join(f"{k}={v}" for k, v in items if k != "all_columns")
    return text if len(text) <= 80 else text[:77] + "..."


def _as_json(event: AuditRecord) -> dict[str, object]:
    from dataclasses import asdict

    data = asdict(event)
    data["time"] = event.time.isoformat(timespec="microseconds")
    data["columns"] = list(event.columns)
    return data
