"""`assay features ...`: feature views, training sets, materialization, online reads, skew."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.common import EngineOpt, ProjectOpt, handles_errors, open_project, parse_time

features_app = typer.Typer(help="Feature views, training sets and serving.", no_args_is_help=True)


@features_app.command("list")
@handles_errors
def features_list(project: ProjectOpt = Path(".")) -> None:
    """List feature views with their registry version, source, entities, TTL and features.

    Example: `assay features list --project examples/fraud`
    """
    from assay.cli.render import console, rows_table

    proj = open_project(project)
    latest = proj.features.register()
    rows = [
        (
            name,
            latest[name].version,
            view.source,
            ", ".join(view.join_keys),
            str(view.ttl_delta or "-"),
            ", ".join(view.features),
            view.owner,
        )
        for name, view in sorted(proj.features.views.items())
    ]
    console.print(
        rows_table(
            "feature views", ["view", "version", "source", "keys", "ttl", "features", "owner"], rows
        )
    )
    services = [(s.name, ", ".join(s.features)) for s in proj.features.services.values()]
    if services:
        console.print(rows_table("feature services", ["service", "features"], services))


@features_app.command("show")
@handles_errors
def features_show(
    name: Annotated[str, typer.Argument(help="Feature view name.")],
    project: ProjectOpt = Path("."),
) -> None:
    """Show a feature view's definition and every registered version.

    Example: `assay features show card_daily`
    """
    import json

    from assay.cli.render import console, rows_table
    from assay.errors import UsageError
    from assay.features.registry import history

    proj = open_project(project)
    if name not in proj.features.views:
        raise UsageError(
            f"unknown feature view {name!r}",
            hint=f"views: {', '.join(sorted(proj.features.views))}",
        )
    proj.features.register()
    versions = history(proj.catalog, name)
    console.print_json(json.dumps(versions[-1].definition))
    console.print(
        rows_table(
            f"versions of {name}",
            ["version", "registered (UTC)"],
            [(v.version, v.registered_at) for v in versions],
        )
    )


@features_app.command("training-set")
@handles_errors
def features_training_set(
    entities: Annotated[
        Path,
        typer.Option(
            help="Entity rows: Parquet or CSV with keys, the event timestamp and any labels."
        ),
    ],
    features: Annotated[
        list[str],
        typer.Option(
            "--features", "-f", help="view:feature (repeatable), view:*, or a service name."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")],
    event_timestamp: Annotated[str, typer.Option(help="Timestamp column.")] = "event_timestamp",
    save_as: Annotated[
        str | None,
        typer.Option(help="Also save as table training.NAME, recording source versions."),
    ] = None,
    project: ProjectOpt = Path("."),
    engine: EngineOpt = None,
) -> None:
    """Build a point-in-time-correct training set (no feature newer than its row).

    Example: `assay features training-set --entities labels.parquet -f fraud_model
    --out train.parquet`
    """
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from assay.cli.render import console
    from assay.errors import UsageError

    if not entities.is_file():
        raise UsageError(f"no such file {entities}")
    frame = pcsv.read_csv(entities) if entities.suffix == ".csv" else pq.read_table(entities)
    refs: list[str] | str = (
        features[0] if len(features) == 1 and ":" not in features[0] else features
    )
    result = open_project(project, engine).features.training_set(
        frame, refs, event_timestamp, save_as=save_as
    )
    _write_table(result, out)
    console.print(f"Wrote {result.num_rows:,} rows x {result.num_columns} columns to {out}")


def _write_table(result: Any, out: Path) -> None:
    """`result` to `out`: CSV for `.csv`, else Parquet (which keeps the Arrow types)."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if out.suffix == ".csv":
        pcsv.write_csv(result, out)
    else:
        pq.write_table(result, out)


@features_app.command("rebuild")
@handles_errors
def features_rebuild(
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")],
    mlflow_run: Annotated[
        str | None,
        typer.Option("--mlflow-run", help="The MLflow run that logged the training set."),
    ] = None,
    training_set: Annotated[
        str | None,
        typer.Option("--training-set", "-t", help="Or a saved training set (training.NAME)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Which training set, when the run logged several.")
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow tracking URI (default: mlflow.tracking_uri in assay.yaml)."),
    ] = None,
    project: ProjectOpt = Path("."),
    engine: EngineOpt = None,
) -> None:
    """Rebuild a training set exactly: from the MLflow run that logged it, or a saved one.

    With --mlflow-run, the run's entity rows are joined with the source tables at the
    Delta versions the run recorded (time travel), and the result is checked against the
    logged schema, row count and digest: a difference is an error naming the columns.
    The sources table lists the feature tables and, for a model, the tables its labels
    query read (role `labels`), each at its version.

    Example: `assay features rebuild --mlflow-run 3f2a9c... --out train.parquet`
    """
    from assay.cli.render import console, rows_table
    from assay.errors import UsageError

    if (mlflow_run is None) == (training_set is None):
        raise UsageError(
            "name one training set to rebuild",
            hint="pass --mlflow-run RUN_ID or --training-set NAME",
        )
    features = open_project(project, engine).features
    if training_set is not None:
        with console.status(f"Rebuilding training.{training_set}..."):
            result = features.rebuild_training_set(training_set)
        _write_table(result, out)
        console.print(f"Wrote {result.num_rows:,} rows x {result.num_columns} columns to {out}")
        return
    with console.status(f"Rebuilding the training set of MLflow run {mlflow_run}..."):
        rebuilt = features.rebuild_from_mlflow(str(mlflow_run), name, tracking_uri)
    record = rebuilt.record
    contracts = {
        table: ", ".join(f"{c['id']} {c['version']}" for c in found)
        for table, found in record.contracts.items()
    }
    roles = [("features", t, v) for t, v in sorted(record.sources.items())]
    roles += [("labels", t, v) for t, v in sorted(record.label_sources.items())]
    console.print(
        rows_table(
            f"sources of {record.name}",
            ["role", "table", "version", "contracts"],
            [(role, t, v, contracts.get(t, "-")) for role, t, v in roles],
        )
    )
    _write_table(rebuilt.table, out)
    console.print(
        f"[green]digest matches[/] {rebuilt.digest}: {rebuilt.table.num_rows:,} rows x "
        f"{rebuilt.table.num_columns} columns, as logged; wrote {out}"
    )


@features_app.command("materialize")
@handles_errors
def features_materialize(
    end: Annotated[str | None, typer.Option(help="As-of time (UTC); default now.")] = None,
    start: Annotated[
        str | None,
        typer.Option(help="Only rows at or after this time (a full, not incremental, read)."),
    ] = None,
    views: Annotated[list[str] | None, typer.Option("--view", help="Views (default all).")] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Write each view's latest values (within TTL) to the online store, incrementally.

    Example: `assay features materialize --end 2026-08-30`
    """
    from assay.cli.render import console, rows_table

    done = open_project(project).features.materialize(
        parse_time(end), parse_time(start), views or ()
    )
    console.print(
        rows_table(
            "materialized",
            ["view", "entities written", "read", "source v"],
            [
                (m.view, f"{m.rows:,}", "new files" if m.incremental else "full", m.source_version)
                for m in done
            ],
        )
    )


def _entity(text: str) -> dict[str, Any]:
    """`key=value[,key=value]`; a value that reads as JSON (`7`, `1.5`, `"7"`) is that value,
    anything else is text."""
    from assay.errors import UsageError

    entity: dict[str, Any] = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"invalid entity {text!r}", hint="use key=value[,key=value]")
        try:
            entity[key.strip()] = json.loads(value)
        except ValueError:
            entity[key.strip()] = value
    return entity


@features_app.command("online")
@handles_errors
def features_online(
    entities: Annotated[
        list[str],
        typer.Option("--entity", "-k", help="An entity's join keys: key=value[,key=value]."),
    ],
    features: Annotated[
        list[str],
        typer.Option(
            "--features", "-f", help="view:feature (repeatable), view:*, or a service name."
        ),
    ],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The time the vectors are for (UTC); default now."),
    ] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Read feature vectors from the online store, as the feature server serves them;
    TTLs count from --as-of (for historical data: the end it was materialized with).

    Example: `assay features online -k symbol=IBM -f prices:price --as-of 2002-12-15`
    """
    from assay.cli.render import console, rows_table

    rows = [_entity(e) for e in entities]
    refs: list[str] | str = (
        features[0] if len(features) == 1 and ":" not in features[0] else features
    )
    vectors = open_project(project).features.online(rows, refs, as_of=parse_time(as_of))
    table = [
        (json.dumps(row), name, v["value"], v["event_timestamp"], v["status"])
        for row, vector in zip(rows, vectors, strict=True)
        for name, v in vector.items()
    ]
    title = f"online features as of {as_of or 'now'}"
    console.print(rows_table(title, ["entity", "feature", "value", "event time", "status"], table))


@features_app.command("skew")
@handles_errors
def features_skew(
    training_set: Annotated[
        str | None,
        typer.Option(
            "--training-set",
            "-t",
            help="A saved training set (training.NAME) to measure drift against.",
        ),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only requests at or after (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Only requests before (UTC).")] = None,
    strict: Annotated[
        bool, typer.Option(help="Exit 1 on any mismatch or a PSI shift (> 0.25), for monitoring.")
    ] = False,
    project: ProjectOpt = Path("."),
) -> None:
    """Training/serving skew of logged requests (server.log_sample_rate > 0).

    Each logged request is replayed through the point-in-time join at its request time;
    served values that differ are mismatches (a stale materialization, a late row, or a
    bug). With --training-set, served values are compared with the set's distribution:
    PSI (under 0.1 none, up to 0.25 moderate, above: shift) and the KS test.

    Example: `assay features skew --training-set fraud_model --since 2026-08-01`
    """
    from assay.cli.render import console, skew_tables

    report = open_project(project).features.skew(parse_time(since), parse_time(until), training_set)
    for table in skew_tables(report):
        console.print(table)
    if strict and any(f.mismatches or f.drift == "shift" for f in report.features):
        raise typer.Exit(1)
