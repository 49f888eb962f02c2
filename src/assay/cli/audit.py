"""`assay audit`: who read and wrote what, from the hash-chained audit log; `--verify`
checks that no event was edited, deleted or inserted, `--head` prints the anchor to keep
outside the database and `--verify --anchor SEQ:HASH` checks the chain still has it."""

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


#: What `--since` takes, for every command's error hint.
SINCE_HINT = (
    "give an age like 7d, 24h, 4w (s, m, h, d or w ago) or an ISO date like 2026-01-31 "
    "or '2026-01-31 08:00' (UTC)"
)


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """`--since` as a naive UTC time: an ISO time (UTC unless it carries an offset) or an
    age such as `30m`, `12h`, `7d`; anything else is a UsageError whose hint names both.

    Example:
        >>> parse_since("2d", now=datetime(2026, 1, 3))
        datetime.datetime(2026, 1, 1, 0, 0)
    """
    from assay.errors import UsageError
    from assay.intervals import to_naive_utc, utcnow

    if not text:
        return None
    age = _AGO.match(text.strip())
    if age:
        return (now or utcnow()) - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        message = f"invalid time {text!r} for --since: neither an age nor a date"
        raise UsageError(message, hint=SINCE_HINT) from None
    return to_naive_utc(moment)


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
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            help="With --verify: SEQ:HASH printed earlier by --head; the chain must still have "
            "that hash at that event (repeatable).",
        ),
    ] = None,
    anchor_file: Annotated[
        Path | None,
        typer.Option(
            "--anchor-file",
            help="With --verify: a file of SEQ:HASH lines (e.g. `assay audit --head >> FILE` "
            "run daily); every line is checked.",
        ),
    ] = None,
    head: Annotated[
        bool,
        typer.Option("--head", help="Print the chain's head as SEQ:HASH, to keep as an anchor."),
    ] = False,
    project: ProjectOpt = Path("."),
) -> None:
    """Show the audit log: every read (allowed or denied) and write through assay, with
    principal, role, dataset, columns, rows and the query's hash (never its text). With
    roles in assay.yaml, only a role that allows `audit` may read it.

    **What --verify proves.** The plain hash chain finds events edited, deleted or inserted
    by someone who did not recompute the hashes. Anyone who can write the catalog database
    can recompute them all, and then plain --verify says OK. Two defences: (1) anchors:
    keep `assay audit --head` (SEQ:HASH) outside the database (a ticket, git, a WORM bucket)
    and verify with `--anchor SEQ:HASH`; a rewritten chain cannot keep that hash. (2) a
    keyed chain: set `ASSAY_AUDIT_KEY` (a secret the database's other writers do not have)
    for every assay process; events are then hashed with HMAC-SHA-256 under it, and a
    rewrite without the key fails --verify. Verifying a keyed chain needs the key.

    Examples: `assay audit --user alice --since 7d`, `assay audit --action deny`,
    `assay audit --dataset gold.customers --format json`, `assay audit --head >> anchors.txt`,
    `assay audit --verify --anchor-file anchors.txt`
    """
    from assay.governance.audit import AuditLog
    from assay.governance.permissions import require_action

    proj = _project(project)
    require_action(proj.runtime, "audit")
    log = AuditLog(proj.catalog)
    if head:
        seq, digest = log.head()
        sys.stdout.write(f"{seq}:{digest}\n")
        return
    anchors = _anchors(anchor or [], anchor_file)
    if verify:
        _verify(log, anchors)
        return
    if anchors:
        from assay.errors import UsageError

        raise UsageError("--anchor and --anchor-file check the chain", hint="add --verify")
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


def _anchors(texts: list[str], path: Path | None) -> dict[int, str]:
    """The anchors given on the command line and in `path` (blank lines and # comments
    skipped), as seq -> hash; two different hashes for one event are an error."""
    from assay.errors import UsageError
    from assay.governance.audit_chain import parse_anchor

    lines = list(texts)
    if path is not None:
        if not path.is_file():
            raise UsageError(f"no anchor file {path}", hint="write it with `assay audit --head`")
        lines += [t for t in path.read_text().splitlines() if t.strip() and t[0] != "#"]
    anchors: dict[int, str] = {}
    for text in lines:
        seq, digest = parse_anchor(text)
        if anchors.setdefault(seq, digest) != digest:
            raise UsageError(
                f"two anchors for event {seq} differ ({anchors[seq][:16]}... and {digest[:16]}...)",
                hint="one of them was not printed by `assay audit --head` for this log",
            )
    return anchors


def _verify(log: AuditLog, anchors: dict[int, str]) -> None:
    from rich.markup import escape

    from assay.cli.render import console, err_console

    with console.status(f"Verifying the hash chain of {log.count():,} event(s)..."):
        result = log.verify(anchors)
    if result.ok:
        keyed = log.keyed_from()
        how = "plain sha256" if keyed is None else f"HMAC-SHA-256 from event {keyed}"
        checked = f", {len(anchors)} anchor(s) hold" if anchors else ""
        console.print(
            f"[green]OK[/]: {result.events:,} event(s), the hash chain ({how}) is intact{checked}."
        )
        if keyed is None and not anchors:
            console.print(
                "[yellow]note:[/] a plain chain without anchors does not catch a rewrite by "
                "someone who can write the database: keep `assay audit --head` elsewhere "
                "and pass it as --anchor, or set ASSAY_AUDIT_KEY"
            )
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
