"""Rendering helpers for the CLI: tables, progress bars and run summaries (rich)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:  # annotations only: `assay run` must not import streaming or pandas
    from assay.features.skew import SkewReport
    from assay.lineage.impact import Impact
    from assay.pipelines.runner import DatasetResult, RunResult
    from assay.streaming.runner import BatchStats, StreamStats
    from assay.streaming.status import StreamStatus


def _console(stderr: bool = False) -> Console:
    # Piped output (CI logs, `| less`) gets a wide fixed width instead of rich's 80 columns.
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=160)


console = _console()
err_console = _console(stderr=True)

_STATUS_STYLE = {"success": "green", "up_to_date": "dim", "failed": "bold red", "skipped": "yellow"}


class RichReporter:
    """Draws one progress bar per dataset that has work."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def dataset_started(self, dataset: str, units: int, reasons: list[str]) -> None:
        why = "; ".join(reasons)
        why = why if len(why) <= 48 else why[:47] + "…"
        label = f"{dataset} [dim]({why})[/]" if why else dataset
        self.tasks[dataset] = self.progress.add_task(label, total=units)

    def unit_done(self, dataset: str, label: str) -> None:
        if dataset in self.tasks:
            self.progress.advance(self.tasks[dataset])

    def dataset_finished(self, result: DatasetResult) -> None:
        if result.dataset in self.tasks:
            task = self.tasks[result.dataset]
            self.progress.update(task, completed=self.progress.tasks[task].total)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def run_summary(result: RunResult, title: str) -> Table:
    table = Table(
        title=f"{title} {result.run_id} - {result.seconds:.1f}s, {result.commits} commit(s)"
    )
    for col in (
        "dataset",
        "status",
        "commits",
        "intervals",
        "rows in",
        "written",
        "quarantined",
        "seconds",
        "why",
    ):
        table.add_column(
            col,
            justify="right"
            if col in ("commits", "intervals", "rows in", "written", "quarantined", "seconds")
            else "left",
        )
    for r in result.results:
        style = _STATUS_STYLE.get(r.status, "")
        table.add_row(
            r.dataset,
            f"[{style}]{r.status}[/]",
            str(r.commits),
            str(r.intervals),
            f"{r.rows_in:,}",
            f"{r.rows_written:,}",
            f"{r.rows_quarantined:,}",
            f"{r.seconds:.2f}",
            escape("; ".join(r.reasons)),
        )
    return table


def failure_summary(result: RunResult) -> None:
    for r in result.failed:
        # Errors quote user text and install commands (`pip install 'assay[mlflow]'`):
        # printed as text, not as rich markup, or the brackets would vanish.
        err_console.print(f"[bold red]FAILED[/] {r.dataset}: {escape(r.error or '')}")
    skipped = [r.dataset for r in result.results if r.status == "skipped"]
    if skipped:
        err_console.print(f"[yellow]skipped[/] (upstream failed): {', '.join(skipped)}")


def arrow_table(data: pa.Table, title: str | None = None, limit: int | None = None) -> Table:
    table = Table(title=title)
    for name in data.column_names:
        table.add_column(name, overflow="fold")
    rows = data.slice(0, limit).to_pylist() if limit is not None else data.to_pylist()
    for row in rows:
        table.add_row(*[_cell(v) for v in row.values()])
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "[dim]null[/]"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def rows_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*[_cell(v) for v in row])
    return table


def to_csv(data: pa.Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(data.column_names)
    for row in data.to_pylist():
        writer.writerow(["" if v is None else v for v in row.values()])
    return out.getvalue()


def to_json(data: pa.Table) -> str:
    def default(v: Any) -> Any:
        return v.isoformat() if isinstance(v, datetime | date) else str(v)

    return json.dumps(data.to_pylist(), default=default, indent=1)


def check_table(results: Sequence[Any]) -> Table:
    """Contract results: one row per rule, failures first."""
    from assay.cli.recorded_checks import RULE_WIDTH

    table = Table(title="contract checks")
    # The rule column keeps up to RULE_WIDTH characters per line, so similar dbt test
    # names stay apart; longer names fold (never cut).
    widest = max((len(r.rule) for r in results), default=0)
    for col in ("dataset", "rule", "kind", "severity", "status", "observed", "expected", "detail"):
        width = min(RULE_WIDTH, widest) if col == "rule" else None
        table.add_column(col, overflow="fold", min_width=width)
    style = {"pass": "green", "warn": "yellow", "fail": "bold red", "not_run": "dim"}
    order = {"fail": 0, "warn": 1, "not_run": 2, "pass": 3}
    for r in sorted(results, key=lambda r: (order[r.status], r.dataset, r.rule)):
        detail = (r.detail or "").removeprefix(f"{r.rule} ")  # the rule is in its own column
        table.add_row(
            escape(r.dataset),
            escape(r.rule),
            r.kind,
            r.severity,
            f"[{style[r.status]}]{r.status}[/]",
            _cell(r.observed),
            escape(r.expected or ""),
            escape(detail),
        )
    return table


def skew_tables(report: SkewReport) -> list[Table]:
    """Per-feature mismatches and drift, then example mismatches."""
    against = f" vs {report.baseline}" if report.baseline else ""
    summary = rows_table(
        f"training/serving skew: {report.requests:,} logged requests{against}",
        ["feature", "served", "mismatches", "rate", "PSI", "KS", "KS p", "drift"],
        [
            (
                f.feature,
                f"{f.logged:,}",
                f"{f.mismatches:,}",
                f"{f.mismatch_rate:.2%}",
                *(("-" if math.isnan(v) else f"{v:.3f}") for v in (f.psi, f.ks, f.ks_pvalue)),
                f.drift,
            )
            for f in report.features
        ],
    )
    tables = [summary]
    if report.examples:
        tables.append(
            rows_table(
                "example mismatches",
                ["requested at", "entity", "feature", "served", "status", "point in time"],
                [
                    (
                        e["requested_at"],
                        e["entity"],
                        e["feature"],
                        e["served"],
                        e["status"],
                        e["point_in_time"],
                    )
                    for e in report.examples
                ],
            )
        )
    return tables


def stream_line(batch: BatchStats) -> str:
    """One line per micro-batch: counts, watermark, speed."""
    parts = [
        f"batch v{batch.version}" if batch.version is not None else "batch (replayed)",
        f"{batch.rows_in:,} in",
        f"{batch.written:,} written",
        f"{batch.dead_lettered:,} dead-lettered",
    ]
    if batch.duplicates:
        parts.append(f"{batch.duplicates:,} duplicates dropped")
    if batch.skipped:
        parts.append(f"{batch.skipped:,} already committed")
    if batch.windows_emitted or batch.late:
        parts.append(f"{batch.windows_emitted:,} windows closed, {batch.late:,} late")
    if batch.watermark is not None:
        parts.append(f"watermark {batch.watermark:%Y-%m-%d %H:%M:%S}")
    rate = batch.rows_in / batch.seconds if batch.seconds else 0
    parts.append(f"{rate:,.0f} rows/s")
    return " | ".join(parts)


def stream_summary(name: str, stats: StreamStats) -> Table:
    # Rows in = written + dead-lettered + duplicates dropped (`dedupe_within`).
    dupes = bool(stats.duplicates)
    return rows_table(
        f"stream {name}",
        [
            "batches",
            "rows in",
            "written",
            "dead-lettered",
            *(["duplicates dropped"] if dupes else []),
            "already committed",
            "windows",
            "late",
            "rows/s",
        ],
        [
            (
                stats.batches,
                f"{stats.rows_in:,}",
                f"{stats.written:,}",
                f"{stats.dead_lettered:,}",
                *([f"{stats.duplicates:,}"] if dupes else []),
                f"{stats.skipped:,}",
                f"{stats.windows_emitted:,}",
                f"{stats.late:,}",
                f"{stats.rows_per_second:,.0f}",
            )
        ],
    )


def streams_table(streams: Sequence[StreamStatus]) -> Table:
    """Per stream: committed offsets, lag, watermark, throughput, dead letters, late rows."""

    def offsets(values: dict[str, int]) -> str:
        shown = [f"{p}:{o}" for p, o in sorted(values.items())[:4]]
        more = len(values) - len(shown)
        return ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")

    dedupe = any(s.duplicates is not None for s in streams)  # a stream with dedupe_within
    return rows_table(
        "streams",
        [
            "stream",
            "source",
            "committed offsets",
            "lag",
            "watermark",
            "rows/s",
            "dead-lettered",
            *(["duplicates dropped"] if dedupe else []),
            "late",
            "last commit (UTC)",
        ],
        [
            (
                s.name,
                s.source,
                offsets(s.offsets) or "-",
                f"{s.lag:,}" if s.lag is not None else "-",
                s.watermark,
                f"{s.rows_per_second:,.0f}" if s.rows_per_second is not None else "-",
                f"{s.dead_lettered:,}",
                *([f"{s.duplicates:,}" if s.duplicates is not None else "-"] if dedupe else []),
                f"{s.late:,}",
                s.last_commit,
            )
            for s in streams
        ],
    )


def impact_table(found: Impact) -> Table:
    """`assay plan`'s impact of changed SQL: what each reaches, and what would break."""
    table = Table(title=f"impact of changed code: {', '.join(found.changed)}", title_justify="left")
    table.add_column("downstream")
    table.add_column("kind")
    table.add_column("breaks?")
    direct = {u.table: b for b in found.breaking for u in b.users}
    reached = {n: b for b in found.breaking for n in b.reaches}
    for node in found.affected:
        if broken := direct.get(node):
            verdict = f"[red]yes: {broken.change.describe()}[/]"
        elif broken := reached.get(node):
            verdict = f"[red]yes, through its inputs: {broken.change.describe()}[/]"
        else:
            verdict = "[green]no[/]"
        table.add_row(str(node), node.kind.replace("_", " "), verdict)
    return table
