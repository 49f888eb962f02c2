"""The `assay` command line: thin wrappers that call the Project API and render results."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from assay.cli.alerts import alerts as alerts_command
from assay.cli.audit import audit as audit_command
from assay.cli.catalog import catalog_app
from assay.cli.catalog import describe as describe_command
from assay.cli.common import EngineOpt, ProjectOpt, handles_errors
from assay.cli.common import open_project as _project
from assay.cli.cost import cost as cost_command
from assay.cli.dbt import dbt_app
from assay.cli.features import features_app
from assay.cli.forget import forget as forget_command
from assay.cli.governance import governance_app
from assay.cli.hold import hold_app
from assay.cli.keys import keys_app
from assay.cli.lineage import lineage as lineage_command
from assay.cli.models import models_app
from assay.cli.optimize import optimize as optimize_command
from assay.cli.optimize import storage as storage_command
from assay.cli.pii import pii_app
from assay.cli.retention import retention_app
from assay.cli.runbook import runbook
from assay.cli.schedule import schedule as schedule_command
from assay.cli.ui import ui as ui_command

app = typer.Typer(
    help="assay: refine raw data into bronze, silver and gold Delta tables, idempotently.\n\n"
    "Start with `assay init my-project`, then `assay run --project my-project`.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)


@app.command()
@handles_errors
def init(directory: Annotated[Path, typer.Argument(help="Folder to create.")]) -> None:
    """Scaffold a working project.

    Example: `assay init shop && assay run --project shop`
    """
    from assay.cli.render import console
    from assay.scaffold import init_project

    root = init_project(directory)
    console.print(f"Created project in [bold]{root}[/]. Next: [cyan]assay run --project {root}[/]")


@app.command()
@handles_errors
def run(
    project: ProjectOpt = Path("."),
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            "-s",
            help="Datasets to run: `name`, `+name` (with upstream), "
            "`name+` (with downstream) or a layer. Repeatable.",
        ),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild the selected tables from scratch.")
    ] = False,
    engine: EngineOpt = None,
    allow_breaking: Annotated[
        bool,
        typer.Option(
            "--allow-breaking-changes",
            help="Run even when changed SQL removes or retypes a column downstream uses.",
        ),
    ] = False,
) -> None:
    """Run the pipeline DAG in dependency order; retries transient errors with backoff.

    A changed SQL file that removes or retypes a column something downstream uses stops the
    run before it starts, naming the users (`assay plan` shows the impact).

    Example: `assay run --select silver.transactions+`, or on Spark: `assay run --engine spark`
    """
    from assay.cli.render import RichReporter, console, failure_summary, progress_bar, run_summary

    proj = _project(project, engine)
    with progress_bar() as bar:
        result = proj.run(
            select or (),
            full_refresh=full_refresh,
            reporter=RichReporter(bar),
            allow_breaking=allow_breaking,
        )
    console.print(run_summary(result, "run"))
    if not result.ok:
        failure_summary(result)
        raise typer.Exit(1)


@app.command()
@handles_errors
def repair(
    name: Annotated[str, typer.Argument(help="The table whose Delta log is torn.")],
    project: ProjectOpt = Path("."),
) -> None:
    """Recover a table whose newest Delta commit is torn (empty or half written).

    Moves the torn commit file aside (into `_delta_log/torn/`) and rebuilds the table and
    everything downstream from their sources, so nothing keeps rows of the lost commit.

    Example: `assay repair bronze.transactions`
    """
    from assay.cli.render import RichReporter, console, failure_summary, progress_bar, run_summary

    proj = _project(project, None)
    with progress_bar() as bar:
        result = proj.repair(name, reporter=RichReporter(bar))
    console.print(run_summary(result, "repair"))
    if not result.ok:
        failure_summary(result)
        raise typer.Exit(1)


@app.command()
@handles_errors
def stream(
    name: Annotated[str, typer.Argument(help="Streaming dataset (assay.kafka / folder_stream).")],
    max_batches: Annotated[
        int | None, typer.Option(help="Stop after this many micro-batches.", min=1)
    ] = None,
    until_idle: Annotated[
        bool, typer.Option(help="Stop when a poll finds no new records (catch up, then exit).")
    ] = False,
    project: ProjectOpt = Path("."),
) -> None:
    """Run a stream: micro-batches exactly once into its Delta table, bad records to its
    dead-letter table, windows written as they close. Ctrl-C stops after the current batch
    is committed; a restart resumes from the offsets the table recorded.

    Example: `assay stream bronze.events --until-idle`
    """
    from assay.cli.render import console, stream_line, stream_summary

    proj = _project(project)
    try:
        stats = proj.stream(
            name, max_batches, until_idle, on_batch=lambda b: console.print(stream_line(b))
        )
    except KeyboardInterrupt:
        console.print("stopped")
        return
    console.print(stream_summary(name, stats))


@app.command()
@handles_errors
def backfill(
    name: Annotated[str, typer.Argument(help="Incremental dataset, as layer.name.")],
    start: Annotated[str, typer.Option(help="First day (inclusive), YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day (exclusive), YYYY-MM-DD.")],
    workers: Annotated[int, typer.Option(min=1, help="Intervals computed in parallel.")] = 1,
    restate: Annotated[
        bool, typer.Option(help="Recompute the window's intervals of NAME even if done.")
    ] = False,
    project: ProjectOpt = Path("."),
    engine: EngineOpt = None,
) -> None:
    """Fill exactly the missing or stale intervals of a dataset and its downstream.

    Resumable: intervals already done are skipped, so re-run after a crash. With
    `--restate`, NAME's intervals in the window are recomputed; downstream follows as stale.

    Example: `assay backfill silver.transactions --start 2026-01-01 --end 2026-02-01 --workers 2`
    """
    from assay.cli.render import RichReporter, console, failure_summary, progress_bar, run_summary

    proj = _project(project, engine)
    with progress_bar() as bar:
        result = proj.backfill(
            name, start, end, workers=workers, reporter=RichReporter(bar), restate=restate
        )
    console.print(run_summary(result, "backfill"))
    if not result.ok:
        failure_summary(result)
        raise typer.Exit(1)


@app.command()
@handles_errors
def plan(
    project: ProjectOpt = Path("."),
    select: Annotated[list[str] | None, typer.Option("--select", "-s")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh")] = False,
) -> None:
    """Show what `assay run` would do and why, without writing anything; for changed SQL
    files, what they reach downstream and the used columns they remove or retype (then
    exit 1: `assay run` would stop).

    Example: `assay plan --project examples/fraud`
    """
    from assay.cli.render import console, impact_table, rows_table
    from assay.intervals import group_contiguous

    proj = _project(project)
    works = proj.plan(select or (), full_refresh)
    rows = []
    for w in works:
        spans = ", ".join(
            f"{s.date()}..{e.date()}" if (e - s).days >= 1 else f"{s}..{e}"
            for s, e in group_contiguous(w.intervals)
        )
        rows.append(
            (
                w.dataset,
                "[yellow]run[/]" if w.needed else "[dim]up to date[/]",
                "; ".join(w.reasons) or "-",
                spans or "-",
            )
        )
    console.print(rows_table("plan", ["dataset", "action", "why", "intervals"], rows))
    found = proj.impact(select or ())
    if found.changed:
        console.print(impact_table(found))
    if found.breaking:
        raise typer.Exit(1)


@app.command()
@handles_errors
def status(project: ProjectOpt = Path(".")) -> None:
    """List datasets with last run, version, rows, quarantined rows and intervals.

    Example: `assay status --project examples/fraud`
    """
    from rich.markup import escape

    from assay.cli.recorded_checks import blocked_checks_table
    from assay.cli.render import console, err_console, rows_table, streams_table

    proj = _project(project)
    rows = []
    statuses = proj.status()
    for s in statuses:
        intervals = (
            "-"
            if s.intervals_done is None
            else f"{s.intervals_done} done, cannot plan (below)"
            if s.problem
            else f"{s.intervals_done} done, {s.intervals_missing} missing"
        )
        rows.append(
            (
                s.name,
                s.kind,
                s.version,
                f"{s.rows:,}" if s.rows is not None else None,
                f"{s.quarantined:,}" if s.quarantined else "0",
                s.last_run.strftime("%Y-%m-%d %H:%M:%S") if s.last_run else None,
                s.last_status,
                intervals,
            )
        )
    console.print(
        rows_table(
            "status",
            [
                "dataset",
                "kind",
                "version",
                "rows",
                "quarantined",
                "last run (UTC)",
                "last status",
                "intervals",
            ],
            rows,
        )
    )
    for s in statuses:
        if s.problem:
            err_console.print(f"[yellow]{s.name}[/]: {escape(s.problem)}")
    blocked = blocked_checks_table(proj.runtime.catalog, statuses)
    if blocked is not None:
        console.print(blocked)
    streams = proj.stream_status()
    if streams:
        console.print(streams_table(streams))


@app.command()
@handles_errors
def history(
    name: Annotated[str, typer.Argument(help="Table, as layer.name.")],
    limit: Annotated[int | None, typer.Option(help="Newest versions to show.")] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """List a table's versions with run id, operation, rows added and interval.

    Example: `assay history silver.transactions --limit 5`
    """
    from assay.cli.render import console, rows_table

    rows = [
        (
            c.version,
            c.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
            c.operation,
            c.metadata.get("run_id"),
            c.rows_added,
            _interval_span(c.metadata.get("intervals")),
            len(c.metadata.get("files", [])) or None,
        )
        for c in _project(project).history(name, limit)
    ]
    console.print(
        rows_table(
            f"history of {name}",
            ["version", "time", "operation", "run id", "rows added", "interval", "files"],
            rows,
        )
    )


def _interval_span(keys: list[str] | None) -> str | None:
    if not keys:
        return None
    first, last = keys[0].split("/")[0], keys[-1].split("/")[1]
    return f"{first} .. {last} ({len(keys)})"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class CheckFormat(StrEnum):
    """What `assay check` prints: only the formats it implements."""

    table = "table"
    json = "json"


@app.command()
@handles_errors
def show(
    name: Annotated[str, typer.Argument(help="Table, as layer.name or layer.name@version.")],
    version: Annotated[int | None, typer.Option(help="Time travel to this version.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to print.")] = 20,
    project: ProjectOpt = Path("."),
) -> None:
    """Print rows of a table, optionally at an earlier version (`--version 3`, or
    `layer.name@3`).

    Example: `assay show gold.card_daily --version 3 --limit 10`
    """
    from assay.cli.render import arrow_table, console

    data, v = _project(project).runtime.reader.head(name, limit, version)
    table = name.partition("@")[0]  # `layer.name@version` names the version too
    console.print(arrow_table(data, title=f"{table} @ v{v} (first {limit} rows)"))


@app.command()
@handles_errors
def sql(
    query: Annotated[str, typer.Argument(help="SQL; name tables as layer.name.")],
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    project: ProjectOpt = Path("."),
    engine: EngineOpt = None,
) -> None:
    """Query any tables by `layer.name` on the project's engine (SQL in DuckDB's dialect,
    translated for Spark).

    Example: `assay sql "SELECT card_id, count(*) FROM silver.transactions GROUP BY 1" -f csv`
    """
    from assay.cli.render import arrow_table, console, to_csv, to_json

    data = _project(project, engine).sql(query)
    if format is Format.csv:
        sys.stdout.write(to_csv(data))
    elif format is Format.json:
        sys.stdout.write(to_json(data) + "\n")
    else:
        console.print(arrow_table(data, limit=1000))


@app.command()
@handles_errors
def check(
    names: Annotated[
        list[str] | None, typer.Argument(help="Datasets (default: all with a contract).")
    ] = None,
    format: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="table or json.")
    ] = CheckFormat.table,
    sensitivity: Annotated[float, typer.Option(help="Anomaly threshold in robust std devs.")] = 3.5,
    project: ProjectOpt = Path("."),
    engine: EngineOpt = None,
) -> None:
    """Run data contracts against the tables now; exit 1 when an error rule fails. With
    `roles:` in assay.yaml, your role must list `check` in its `allow:`.

    Example: `assay check silver.transactions --format json`
    """
    import dataclasses
    import json

    from assay.cli.recorded_checks import recorded_checks, recorded_table
    from assay.cli.render import check_table, console

    proj = _project(project, engine)
    results = proj.check(names or (), sensitivity)
    if format is CheckFormat.json:
        sys.stdout.write(json.dumps([dataclasses.asdict(r) for r in results], indent=1) + "\n")
    else:
        console.print(check_table(results))
        # A table not built has nothing to check now: show what its last run measured.
        unbuilt = [r.dataset for r in results if r.rule == "table exists" and r.status == "fail"]
        recorded = recorded_checks(proj.runtime.catalog, unbuilt)
        if recorded:
            title = "checks recorded by the last run of the tables not built"
            console.print(recorded_table(recorded, title))
    if any(r.blocks for r in results):
        raise typer.Exit(1)


contract_app = typer.Typer(help="Data contracts (ODCS v3) in contracts/.", no_args_is_help=True)
app.add_typer(contract_app, name="contract")


@contract_app.command("infer")
@handles_errors
def contract_infer(
    name: Annotated[str, typer.Argument(help="Table, as layer.name.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing contract file.")] = False,
    project: ProjectOpt = Path("."),
) -> None:
    """Write a starting contract for a table from its data (types, nulls, ranges, values).

    Example: `assay contract infer silver.transactions` writes
    contracts/silver_transactions.yaml
    """
    import yaml

    from assay.cli.render import console
    from assay.errors import UsageError

    proj = _project(project)
    target = proj.root / "contracts" / f"{name.replace('.', '_')}.yaml"
    if target.exists() and not force:
        raise UsageError(f"{target} exists", hint="pass --force to overwrite it")
    document = proj.infer_contract(name)
    target.parent.mkdir(exist_ok=True)
    target.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    console.print(
        f"Wrote [bold]{target}[/] ({len(document['schema'][0]['properties'])} "
        "properties). Review it, then `assay check`."
    )


quarantine_app = typer.Typer(help="Rows set aside by contracts and parsers.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("replay")
@handles_errors
def quarantine_replay(
    name: Annotated[str, typer.Argument(help="Dataset whose quarantine to replay.")],
    project: ProjectOpt = Path("."),
) -> None:
    """Re-validate quarantined rows after a fix and move those that now pass into the table.

    Example: `assay quarantine replay bronze.transactions`
    """
    from assay.cli.render import console

    outcome = _project(project).replay_quarantine(name)
    console.print(
        f"{name}: {outcome.replayed:,} row(s) moved into the table, "
        f"{outcome.remaining:,} still quarantined."
    )


app.add_typer(features_app, name="features")
app.command("alerts")(alerts_command)
app.command("audit")(audit_command)
app.command("cost")(cost_command)
app.command("optimize")(optimize_command)
app.command("storage")(storage_command)
app.command("schedule")(schedule_command)
app.command()(runbook)
app.command(name="lineage")(lineage_command)
app.command("describe")(describe_command)
app.add_typer(catalog_app, name="catalog")
app.add_typer(hold_app, name="hold")
app.add_typer(keys_app, name="keys")
app.add_typer(retention_app, name="retention")
app.command("forget")(forget_command)
app.add_typer(pii_app, name="pii")
app.add_typer(governance_app, name="governance")
app.add_typer(dbt_app, name="dbt")
app.add_typer(models_app, name="models")
app.command("ui")(ui_command)


@app.command()
@handles_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (server.port).")] = None,
    hash_key: Annotated[
        bool,
        typer.Option(
            "--hash-key",
            help="Read an API key from standard input (typed without echo on a terminal), "
            "print its salted hash for server.api_keys in assay.yaml, and exit.",
        ),
    ] = False,
    project: ProjectOpt = Path("."),
    stray: Annotated[list[str] | None, typer.Argument(hidden=True)] = None,
) -> None:
    """Serve online features over HTTP (FastAPI; OpenAPI docs at /docs).

    Example: `assay serve --port 8000`, then
    `curl -H 'X-API-Key: KEY' -d '{"entities": [{"card_id": 1}], "service": "fraud_model"}'
    localhost:8000/features`. A key's hash for assay.yaml:
    `python -c 'import secrets; print(secrets.token_urlsafe(32))' | tee key.txt | assay serve
    --hash-key`.
    """
    from assay.errors import UsageError

    if stray:
        # `--hash-key KEY` (the old form) lands here: the key is in shell history by now.
        raise UsageError(
            f"unexpected argument{'s' if len(stray) > 1 else ''} {' '.join(stray)!r}"
            + (" after --hash-key" if hash_key else ""),
            hint="--hash-key reads the key from standard input (`assay serve --hash-key < "
            "key.txt`); a key typed on the command line is in your shell history, so use a "
            "new one"
            if hash_key
            else "serve takes options only; see `assay serve --help`",
        )
    if hash_key:
        from assay.server.auth import hash_key as digest

        key = _read_key()
        if len(key) < 16:
            from assay.cli.render import err_console

            err_console.print(
                f"[yellow]warning:[/] a {len(key)}-character key is easy to guess; "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` makes a strong one"
            )
        sys.stdout.write(digest(key) + "\n")
        return
    import uvicorn

    from assay.server.app import create_app

    proj = _project(project)
    settings = proj.config.server
    uvicorn.run(create_app(proj), host=host or settings.host, port=port or settings.port)


def _read_key() -> str:
    """One API key from standard input: prompted without echo on a terminal, else the
    first line (surrounding white space dropped, as HTTP drops it from header values)."""
    from assay.errors import UsageError

    if sys.stdin.isatty():
        import getpass

        key = getpass.getpass("API key (not echoed): ")
    else:
        lines = sys.stdin.read().splitlines()
        if len([line for line in lines if line.strip()]) > 1:
            raise UsageError(
                "standard input holds more than one line", hint="give one key per call"
            )
        key = lines[0] if lines else ""
    key = key.strip()
    if not key:
        raise UsageError(
            "no API key on standard input",
            hint="`assay serve --hash-key < key.txt`, or type it at the prompt",
        )
    if not key.isprintable() or not key.isascii():
        raise UsageError(
            "the API key holds a control or non-ASCII character, which HTTP headers cannot carry",
            hint="use letters, digits and punctuation (e.g. secrets.token_urlsafe(32))",
        )
    return key


def main() -> None:
    app()


if __name__ == "__main__":
    main()
