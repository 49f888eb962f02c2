"""`assay governance report`: the records of processing a data protection officer asks for
(GDPR article 30, CCPA, HIPAA): which datasets hold personal data and in which columns,
who owns them and what for, how long rows are kept, which legal holds apply, which roles
may read them and how (masked, denied, filtered), and the last erasures with their proof.

Everything comes from what assay already knows: the effective classifications
(assay.governance.classes), each dataset's declaration (owner, description, retention),
its contract (ODCS `description.purpose`), assay.yaml (`roles:`, `governance:`), the legal
holds and the audit log. Nothing in it is a data value: classified columns are named,
never shown.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> found = records(assay.Project(root).runtime)
    >>> found.datasets, found.erasures
    ([], [])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.errors import AssayError
from assay.governance.classes import (
    ColumnClass,
    classified_columns,
    feature_classes,
    scan_store,
)
from assay.governance.permissions import require_action
from assay.governance.pii_declared import contract_purpose
from assay.governance.retention import classification_periods, describe_period, rule_for
from assay.intervals import utcnow

if TYPE_CHECKING:
    from assay.runtime import Runtime

#: Erasures listed, newest first.
LAST_ERASURES = 10


@dataclass(frozen=True)
class RoleAccess:
    """How one role reads one dataset.

    Attributes:
        role: the role's name.
        masked: column -> mask the role sees it through.
        denied: column -> the restricted classification it is not granted.
        row_filter: the rows it sees (None: all).
        error: why its access could not be worked out (a row filter on a missing column).
    """

    role: str
    masked: dict[str, str]
    denied: dict[str, str]
    row_filter: str | None
    error: str | None = None


@dataclass(frozen=True)
class DatasetRecord:
    """One dataset holding classified columns."""

    dataset: str
    owner: str | None
    purpose: str | None
    columns: dict[str, ColumnClass]
    retention: str | None
    retention_from: str | None
    hold: dict[str, str] | None
    roles: list[RoleAccess]
    no_access: list[str]
    built: bool
    features: dict[str, dict[str, list[str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class ErasureRecord:
    """One erasure from the audit log (salted hashes and counts, no values)."""

    time: datetime
    principal: str
    subject_columns: tuple[str, ...]
    rows: int | None
    tables: list[dict[str, Any]]
    skipped_held: list[dict[str, Any]]
    none_found: bool | None
    #: Held tables that still hold the subject (table, hold, rows): not a failed proof.
    still_held: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ProcessingRecords:
    """The whole report (see the module)."""

    project: str
    generated_at: datetime
    datasets: list[DatasetRecord] = field(default_factory=list)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    restricted: list[str] = field(default_factory=list)
    retention_by_class: dict[str, str] = field(default_factory=dict)
    erasures: list[ErasureRecord] = field(default_factory=list)
    last_scan: dict[str, Any] | None = None
    audit: bool = True


def records(runtime: Runtime) -> ProcessingRecords:
    """The records of processing of `runtime`'s project (the principal's role must allow
    `report`, when roles are configured)."""
    require_action(runtime, "report")
    config = runtime.config
    classified = classified_columns(runtime)
    policy = _policy(runtime)
    holds = _holds(runtime)
    found = ProcessingRecords(
        project=config.name,
        generated_at=utcnow(),
        roles={
            name: {
                "principals": list(role.principals),
                "grants": list(role.grants),
                "classifications": list(role.classifications),
            }
            for name, role in sorted(config.roles.items())
        },
        restricted=list(config.governance.restricted),
        retention_by_class=dict(config.governance.retention),
        audit=config.governance.audit,
    )
    features = feature_classes(runtime)
    for dataset, columns in classified.items():
        if dataset not in runtime.dag.specs:  # a scan result of a dataset since removed
            continue
        record = _dataset(runtime, dataset, columns, policy, holds)
        views = runtime.feature_views
        record.features.update(
            {
                view: {f: sorted(c) for f, c in served.items()}
                for view, served in features.items()
                if views[view].source == dataset
            }
        )
        found.datasets.append(record)
    found.erasures = _erasures(runtime)
    found.last_scan = _last_scan(runtime)
    return found


def _dataset(
    runtime: Runtime,
    dataset: str,
    columns: dict[str, ColumnClass],
    policy: Any,
    holds: Any,
) -> DatasetRecord:
    spec = runtime.dag.specs[dataset]
    retention, retention_from = _retention(runtime, spec, columns)
    hold = holds.active(dataset) if holds is not None else None
    roles, no_access = _roles(runtime, dataset, columns, policy)
    purpose = spec.description or next(
        (p for c in runtime.contracts.get(dataset, ()) if (p := contract_purpose(c))), None
    )
    return DatasetRecord(
        dataset=dataset,
        owner=spec.owner,
        purpose=purpose,
        columns=columns,
        retention=retention,
        retention_from=retention_from,
        hold=None
        if hold is None
        else {
            "pattern": hold.pattern,
            "reason": hold.reason,
            "by": hold.held_by,
            "since": hold.held_at.isoformat(timespec="seconds"),
        },
        roles=roles,
        no_access=no_access,
        built=bool(runtime.warehouse.exists(dataset)),
    )


def _retention(
    runtime: Runtime, spec: Any, columns: dict[str, ColumnClass]
) -> tuple[str | None, str | None]:
    """The period `assay retention apply` uses (assay.governance.retention) and why."""
    periods = classification_periods(runtime.config.governance.retention)
    rule = rule_for(spec, {c: col.classes for c, col in columns.items()}, periods)
    if rule is None:
        return None, None
    return describe_period(rule.period), rule.source


def _policy(runtime: Runtime) -> Any:
    from assay.governance.access import AccessPolicy

    return AccessPolicy.from_config(runtime.config, lambda: _plain(runtime))


def _plain(runtime: Runtime) -> dict[str, dict[str, frozenset[str]]]:
    from assay.governance.classes import column_classes

    return column_classes(runtime)


def _roles(
    runtime: Runtime, dataset: str, columns: dict[str, ColumnClass], policy: Any
) -> tuple[list[RoleAccess], list[str]]:
    """Each role that may read `dataset` and how; the roles that may not."""
    if policy is None:
        return [], []
    schema = _schema(runtime, dataset, columns)
    roles, none = [], []
    for role in sorted(policy.roles):
        try:
            access = policy.table(role, dataset, schema)
        except AssayError as exc:
            if "no grant" in exc.message:
                none.append(role)
                continue
            roles.append(RoleAccess(role, {}, {}, None, exc.message))
            continue
        roles.append(RoleAccess(role, dict(access.masks), dict(access.denied), access.row_filter))
    return roles, none


def _schema(runtime: Runtime, dataset: str, columns: dict[str, ColumnClass]) -> pa.Schema:
    """The table's schema when built, else its classified columns (as text)."""
    if runtime.warehouse.exists(dataset):
        return runtime.warehouse.schema(dataset)
    return pa.schema([(c, pa.string()) for c in columns])


def _holds(runtime: Runtime) -> Any:
    if scan_store(runtime) is None:  # no catalog yet: no hold either
        return None
    from assay.governance.holds import Holds

    return Holds(runtime.catalog)


def _erasures(runtime: Runtime) -> list[ErasureRecord]:
    if scan_store(runtime) is None:
        return []
    from assay.governance.audit import AuditLog

    events = AuditLog(runtime.catalog).events(action="erase", limit=LAST_ERASURES)
    return [
        ErasureRecord(
            time=e.time,
            principal=e.principal,
            subject_columns=tuple(e.columns),
            rows=e.rows,
            tables=list(e.detail.get("tables", [])),
            skipped_held=list(e.detail.get("skipped_held", [])),
            none_found=e.detail.get("none_found"),
            still_held=list(e.detail.get("still_held", [])),
        )
        for e in reversed(events)
    ]


def _last_scan(runtime: Runtime) -> dict[str, Any] | None:
    store = scan_store(runtime)
    results = store.results() if store is not None else []
    if not results:
        return None
    newest = max(r.scanned_at for r in results if r.scanned_at is not None)
    return {
        "at": newest.isoformat(timespec="seconds"),
        "datasets": len({r.dataset for r in results}),
        "findings": len(results),
    }
