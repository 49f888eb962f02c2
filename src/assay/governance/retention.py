"""Retention: delete the rows a dataset may no longer keep, then the files that held them.

A dataset's period is the stricter (shorter) of its declared `retention="400d"` (SQL
header `-- retention: 400d`) and the shortest `governance.retention` period (assay.yaml)
of the classifications its columns hold (see assay.governance.classes): a table with an
email column classified `pii` keeps rows no longer than `retention: {pii: 400d}` says,
whatever it declares. Stricter wins because the classification's period is the policy
(a DPO's), and a dataset's owner must not extend it by declaring a longer one; when the
classification overrides a longer declaration the rule's `source` names both, so
`assay retention list` and the governance report show the override. Rows
whose time column is older than `now - period` are expired.

A dataset without a time column cannot tell old rows from new: with a declared
retention that is an error (the declaration cannot be honoured), with only a
classification's it is skipped and reported (`RetentionOutcome.skipped`), so one such
dataset does not stop retention for the whole project.

`apply_retention` deletes the expired rows of each dataset as one commit (marked as
maintenance, so no run re-ingests files or refills intervals: the interval ledger still
calls them done) and then vacuums the table with no retention window: the files that held
the rows are removed from disk, and time travel to every version before the delete ends
with them. A dataset under a legal hold (assay.governance.holds) is skipped and reported,
neither deleted from nor vacuumed.

The rows a dataset rejected are copies of its data: its quarantine table
(`quarantine.<layer>_<name>`, by `quarantined_at`) and a stream's dead letters
(`deadletter.<layer>_<name>`, by `_ingested_at`) follow the dataset's retention, counted
from when they were rejected (their own event time may be what was wrong with them).

Example:
    >>> from datetime import datetime
    >>> rule = RetentionRule("silver.x", timedelta(days=200), "declared", "t")
    >>> rule.cutoff(datetime(2014, 1, 1))
    datetime.datetime(2013, 6, 15, 0, 0)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.errors import DefinitionError, UsageError
from assay.governance.holds import Holds
from assay.governance.protection import parse_retention
from assay.intervals import utcnow

if TYPE_CHECKING:
    from assay.runtime import Runtime

log = logging.getLogger("assay.governance")

#: Where a period comes from when the dataset declares one.
DECLARED = "declared"


@dataclass(frozen=True)
class RetentionRule:
    """How long one dataset keeps rows, why, and by which column.

    Attributes:
        dataset: `layer.name`.
        period: rows older than this (by `time_column`) are expired.
        source: `declared`, or `classification pii` (the classification whose period
            applies) with the columns that hold it.
        time_column: the dataset's declared time column (None: an error to apply).
        follows: for a table of rejected rows (quarantine, dead letters), the dataset
            whose retention it follows (its holds apply too); None for a dataset.
        declared: True when the dataset declares a retention itself (then a missing
            time column is an error, not a skip).
    """

    dataset: str
    period: timedelta
    source: str
    time_column: str | None
    follows: str | None = None
    declared: bool = True

    def cutoff(self, now: datetime) -> datetime:
        """Rows before this instant (naive UTC) are expired."""
        return now - self.period


@dataclass(frozen=True)
class RetentionOutcome:
    """What applying one rule did (or, in a dry run, would do).

    Attributes:
        rule: the rule applied.
        cutoff: rows before this were expired.
        rows_deleted: expired rows deleted (in a dry run: found).
        files_rewritten: data files the delete rewrote or dropped.
        files_removed: files the vacuum removed from disk (0 in a dry run).
        version: the delete's commit (None: nothing expired, or a dry run).
        held: the hold that made it skip the dataset (its glob and reason), else None.
        missing: True when the table does not exist yet (nothing to delete).
        skipped: why the dataset was skipped for another reason than a hold (no time
            column for a classification's retention), else None.
    """

    rule: RetentionRule
    cutoff: datetime
    rows_deleted: int = 0
    files_rewritten: int = 0
    files_removed: int = 0
    version: int | None = None
    held: str | None = None
    missing: bool = False
    skipped: str | None = None


#: Why a dataset whose retention comes from a classification only is skipped.
NO_TIME_COLUMN = "no time column: declare time_column="


def classification_periods(settings: Mapping[str, str]) -> dict[str, timedelta]:
    """`governance.retention` of assay.yaml, parsed: classification -> period.

    Example:
        >>> classification_periods({"pii": "400d"})["pii"].days
        400
    """
    return {
        name: parse_retention(text, f"assay.yaml governance.retention.{name}")
        for name, text in settings.items()
    }


def rule_for(
    spec: Any,
    columns: Mapping[str, frozenset[str]],
    periods: Mapping[str, timedelta],
) -> RetentionRule | None:
    """The retention of one dataset: the stricter of its declared period and the shortest
    period among the classifications its `columns` hold (column -> classifications);
    None: kept forever.

    Example:
        >>> from types import SimpleNamespace
        >>> from assay.governance.protection import Protection
        >>> spec = SimpleNamespace(name="silver.c", protection=Protection(), time_column="t")
        >>> periods = {"pii": timedelta(days=400), "health": timedelta(days=90)}
        >>> rule_for(spec, {"email": frozenset({"pii"}), "dx": frozenset({"health"})},
        ...          periods).source
        'classification health (dx)'
        >>> spec.protection = Protection(retention=timedelta(days=120))
        >>> rule_for(spec, {"dx": frozenset({"health"})}, periods).source
        'classification health (dx), stricter than the declared 120d'
    """
    declared = spec.protection.retention
    held: dict[str, list[str]] = {}
    for column, classes in sorted(columns.items()):
        for name in classes:
            if name in periods:
                held.setdefault(name, []).append(column)
    if not held:
        if declared is None:
            return None
        return RetentionRule(spec.name, declared, DECLARED, spec.time_column)
    shortest = min(held, key=lambda name: (periods[name], name))
    by_class = f"classification {shortest} ({', '.join(held[shortest])})"
    if declared is None:
        return RetentionRule(spec.name, periods[shortest], by_class, spec.time_column, None, False)
    if declared <= periods[shortest]:  # the declaration keeps to the policy: nothing to flag
        return RetentionRule(spec.name, declared, DECLARED, spec.time_column)
    source = f"{by_class}, stricter than the {DECLARED} {describe_period(declared)}"
    return RetentionRule(spec.name, periods[shortest], source, spec.time_column)


def retention_rules(runtime: Runtime, names: Sequence[str] = ()) -> list[RetentionRule]:
    """The rules of the project's datasets (or of `names`), in dependency order; datasets
    that keep rows forever have none."""
    unknown = [n for n in names if n not in runtime.dag.specs]
    if unknown:
        raise UsageError(
            f"no dataset named {unknown[0]}",
            hint="see `assay retention list` for the datasets and their periods",
        )
    periods = classification_periods(runtime.config.governance.retention)
    classes = _column_classes(runtime) if periods else {}
    rules = []
    for name in runtime.dag.order(names or None):
        rule = rule_for(runtime.dag[name], classes.get(name, {}), periods)
        if rule is not None:
            rules.append(rule)
    return rules


def _column_classes(runtime: Runtime) -> dict[str, dict[str, frozenset[str]]]:
    from assay.governance.classes import column_classes

    return column_classes(runtime)


def apply_retention(
    runtime: Runtime,
    names: Sequence[str] = (),
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    on_done: Callable[[RetentionOutcome], None] | None = None,
) -> list[RetentionOutcome]:
    """Delete the expired rows of each dataset with a retention (one commit per table),
    then vacuum the files that held them; skip held datasets. In dependency order.

    Args:
        runtime: the project's runtime.
        names: only these datasets (default: every dataset with a retention).
        now: the instant periods count back from (naive UTC; default: now).
        dry_run: count the expired rows and the files holding them; change nothing.
        on_done: called with each outcome as it is known (progress).

    Raises:
        DefinitionError: a dataset declaring a retention has no time column, or a
            declared time column is not in its table; checked for every dataset before
            any row is deleted. (A classification's retention on a dataset without a
            time column is skipped instead, see `NO_TIME_COLUMN`.)
    """
    moment = now or utcnow()
    holds = Holds(runtime.catalog)
    outcomes = []
    for rule in retention_plan(runtime, names):
        outcome = _apply_one(runtime, holds, rule, moment, dry_run)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes


def retention_plan(runtime: Runtime, names: Sequence[str] = ()) -> list[RetentionRule]:
    """Every table `apply_retention` works on, in order: each dataset with a retention,
    then its tables of rejected rows (what a progress bar counts).

    Raises:
        DefinitionError: as `apply_retention`, before anything is deleted.
    """
    rules = retention_rules(runtime, names)
    for rule in rules:
        _check_time_column(runtime, rule)
    return [side for rule in rules for side in (rule, *rejected_rules(runtime, rule))]


def rejected_rules(runtime: Runtime, rule: RetentionRule) -> list[RetentionRule]:
    """The rules of the tables holding `rule.dataset`'s rejected rows, where they exist.

    Example:
        >>> from types import SimpleNamespace
        >>> import tempfile
        >>> from assay.tables import Warehouse
        >>> rt = SimpleNamespace(warehouse=Warehouse(tempfile.mkdtemp()))
        >>> rejected_rules(rt, RetentionRule("bronze.x", timedelta(days=1), "declared", "t"))
        []
    """
    # Imported here: the families' names are the pipelines' (a tier above governance).
    from assay.pipelines.rejected import DEAD_LETTERS, QUARANTINE

    out = []
    for family, column in ((QUARANTINE, "quarantined_at"), (DEAD_LETTERS, "_ingested_at")):
        table = family.name(rule.dataset)
        if runtime.warehouse.exists(table):
            source = f"{rule.source}, as {rule.dataset} (rejected rows, by {column})"
            out.append(RetentionRule(table, rule.period, source, column, rule.dataset))
    return out


def _check_time_column(runtime: Runtime, rule: RetentionRule) -> None:
    where = getattr(runtime.dag[rule.dataset], "where", None)
    if rule.time_column is None and not rule.declared:
        return  # a classification's period: skipped and reported when applied
    if rule.time_column is None:
        raise DefinitionError(
            f"{rule.dataset} declares a retention of {describe_period(rule.period)} "
            f"({rule.source}) but has no time column to tell old rows from new",
            where=where or rule.dataset,
            hint="declare time_column= on the dataset (SQL header: `-- time_column: "
            "event_time`), or remove its retention",
        )
    if runtime.warehouse.exists(rule.dataset):
        names = runtime.warehouse.schema(rule.dataset).names
        if rule.time_column not in names:
            raise DefinitionError(
                f"time column {rule.time_column!r} of {rule.dataset} is not in its table",
                where=where or rule.dataset,
                hint=f"the table has: {', '.join(names)}; fix time_column= or rebuild the "
                f"table (`assay run --full-refresh {rule.dataset}`)",
            )


def _apply_one(
    runtime: Runtime, holds: Holds, rule: RetentionRule, now: datetime, dry_run: bool
) -> RetentionOutcome:
    cutoff = rule.cutoff(now)
    if not runtime.warehouse.exists(rule.dataset):
        return RetentionOutcome(rule, cutoff, missing=True)
    if rule.time_column is None:
        return RetentionOutcome(rule, cutoff, skipped=NO_TIME_COLUMN)
    hold = holds.active(rule.dataset) or (rule.follows and holds.active(rule.follows)) or None
    if hold is not None:
        return RetentionOutcome(rule, cutoff, held=f"{hold.pattern}: {hold.reason}")
    if dry_run:
        rows, files = expired_counts(runtime, rule, cutoff)
        return RetentionOutcome(rule, cutoff, rows_deleted=rows, files_rewritten=files)
    wh = runtime.warehouse
    kind = wh.schema(rule.dataset).field(rule.time_column).type
    predicate = expired_predicate(rule.time_column, cutoff, kind)
    meta = {"maintenance": "retention", "cutoff": cutoff.isoformat(), "period": rule.source}
    deleted = wh.delete(rule.dataset, predicate, meta)
    # Vacuum only after a delete: a run with nothing expired commits nothing at all.
    removed = wh.vacuum(rule.dataset, 0) if deleted.version is not None else []
    outcome = RetentionOutcome(
        rule,
        cutoff,
        rows_deleted=deleted.rows_deleted,
        files_rewritten=deleted.files_removed,
        files_removed=len(removed),
        version=deleted.version,
    )
    if deleted.version is not None:
        _audit(runtime, outcome)
    return outcome


def expired_predicate(column: str, cutoff: datetime, kind: pa.DataType) -> str:
    """The SQL condition (delta-rs dialect) of rows older than `cutoff` (naive UTC): a
    timestamp before it (text without an offset is read as UTC for zoned and naive
    columns alike), or a date whose whole day ended by it. A NULL time never expires.

    Example:
        >>> expired_predicate("t", datetime(2013, 6, 15, 12), pa.timestamp("us", "UTC"))
        '"t" < \\'2013-06-15 12:00:00\\''
        >>> expired_predicate("d", datetime(2013, 6, 15, 12), pa.date32())
        '"d" < \\'2013-06-15\\''
    """
    from sqlglot import exp

    from assay.sqlbuild import column as sql_column
    from assay.sqlbuild import render

    if pa.types.is_date(kind):
        # Day d covers [d, d + 1 day): expired when d + 1 day <= cutoff.
        bound = (cutoff - timedelta(days=1)).date()
        text = (bound + timedelta(days=1)).isoformat()
    else:
        text = cutoff.isoformat(" ")
    return render(sql_column(column) < exp.Literal.string(text), "delta")


def expired_counts(runtime: Runtime, rule: RetentionRule, cutoff: datetime) -> tuple[int, int]:
    """Rows older than `cutoff` and the data files holding any of them (a dry run)."""
    import pyarrow.dataset as pads

    assert rule.time_column is not None
    dataset = runtime.warehouse.dataset(rule.dataset)
    kind = dataset.schema.field(rule.time_column).type
    field = pads.field(rule.time_column)
    if pa.types.is_date(kind):
        bound = pa.scalar((cutoff - timedelta(days=1)).date() + timedelta(days=1), kind)
    else:  # a naive bound cast to a zoned type is read as UTC
        bound = pa.scalar(cutoff, pa.timestamp("us")).cast(kind)
    rows, files = 0, 0
    for fragment in dataset.get_fragments():
        found = fragment.count_rows(filter=field < bound)
        rows += found
        files += bool(found)
    return rows, files


def _audit(runtime: Runtime, outcome: RetentionOutcome) -> None:
    from assay.governance.audit_hooks import audit_write

    detail = {
        "cutoff": outcome.cutoff.isoformat(),
        "period": outcome.rule.source,
        "version": outcome.version,
        "files_rewritten": outcome.files_rewritten,
        "files_removed": outcome.files_removed,
    }
    try:
        audit_write(runtime, outcome.rule.dataset, outcome.rows_deleted, "retention", detail=detail)
    except Exception as exc:  # the delete is done: say the log missed it, do not undo it
        log.warning("retention of %s is not in the audit log: %s", outcome.rule.dataset, exc)


def describe_period(period: timedelta) -> str:
    """A period as assay.yaml would write it.

    Example:
        >>> describe_period(timedelta(days=400)), describe_period(timedelta(hours=12))
        ('400d', '12h')
    """
    if period % timedelta(days=1) == timedelta(0):
        return f"{period.days}d"
    return f"{int(period.total_seconds() // 3600)}h"


def held_names(outcomes: Iterable[RetentionOutcome]) -> list[str]:
    """The datasets skipped because of a hold."""
    return [o.rule.dataset for o in outcomes if o.held]
