"""`assay pii scan`: find personal data in tables and keep what was found in the catalog.

Each table's newest version is sampled (a seeded random sample of rows, the same on every
run of one version), each column is judged by its name and its sampled values (see
assay.governance.detect, plus Presidio's recognizers with the `pii` extra), and the kinds
found at or above the minimum confidence replace what the catalog held for that table.
Those columns are then classified `pii` on every read (assay.governance.classes), and so
are the columns derived from them. The scan reads the warehouse directly, not through
the reader: a reader's masks would hide exactly what it looks for; it never shows or
stores a clear value, and it is written to the audit log. Because it reads clear values,
with `roles:` in assay.yaml the principal's role must allow `pii_scan`
(assay.governance.permissions).

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> project = assay.Project(root)
    >>> _ = project.run()
    >>> report = scan_table(project.runtime, "bronze.customers")
    >>> report.findings  # `name` holds "Ada", "Grace": no full names, so only doubtful
    ()
    >>> [(f.column, f.kind, f.confidence, f.examples) for f in report.doubtful]
    [('name', 'name', 0.3, ('A**', 'G****'))]
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from assay.catalog.classifications import ScanFinding, ScanStore
from assay.errors import TableNotFoundError, UsageError
from assay.governance import detect, pii_presidio
from assay.governance.permissions import require_action
from assay.intervals import utcnow

if TYPE_CHECKING:
    from assay.runtime import Runtime

#: Rows sampled per table by default.
SAMPLE_ROWS = 1000
#: Findings below this confidence are reported as doubtful and not stored, by default.
MIN_CONFIDENCE = 0.5
#: The sample's seed: the same version gives the same sample.
_SEED = 17


@dataclass(frozen=True)
class ScanReport:
    """One table's scan.

    Attributes:
        dataset: `layer.name`.
        version: the table version scanned.
        rows: rows in that version.
        sampled: rows sampled.
        findings: what was found, at or above the minimum confidence (stored).
        doubtful: what was found below it (shown, not stored).
        presidio: whether Presidio's recognizers were used.
    """

    dataset: str
    version: int | None
    rows: int
    sampled: int
    findings: tuple[ScanFinding, ...]
    doubtful: tuple[ScanFinding, ...]
    presidio: bool


def sample(runtime: Runtime, name: str, rows: int = SAMPLE_ROWS) -> tuple[pa.Table, int]:
    """A seeded random sample of `rows` rows of `name`'s newest version, and its row count.

    Raises:
        AccessDeniedError: roles are configured and the principal's role does not allow
            `pii_scan` (the sample holds clear values).
    """
    require_action(runtime, "pii_scan")
    dataset = runtime.warehouse.dataset(name)
    total = dataset.count_rows()
    if total <= rows:
        return dataset.to_table(), total
    picked = sorted(random.Random(_SEED).sample(range(total), rows))
    return dataset.take(picked), total


def _texts(column: pa.ChunkedArray) -> list[str] | None:
    """A column's non-null values as text, when values can show what it holds (text and
    whole numbers: card numbers are sometimes stored as integers)."""
    kind = column.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and not (
        pa.types.is_integer(kind)
    ):
        return None
    return [str(v) for v in column.to_pylist() if v is not None and str(v).strip()]


def scan_table(
    runtime: Runtime,
    name: str,
    rows: int = SAMPLE_ROWS,
    min_confidence: float = MIN_CONFIDENCE,
    use_presidio: bool | None = None,
) -> ScanReport:
    """Scan one table (see the module); nothing is stored (see `scan`).

    Args:
        runtime: the project's runtime.
        name: `layer.name`.
        rows: rows to sample.
        min_confidence: findings below it are doubtful.
        use_presidio: use Presidio's recognizers (None: when the `pii` extra is installed).

    Raises:
        UsageError: `name` is not a dataset of the project.
        TableNotFoundError: it has not been built yet.
    """
    check_built(runtime, name)
    presidio = pii_presidio.available() if use_presidio is None else use_presidio
    version = runtime.warehouse.version(name)
    table, total = sample(runtime, name, rows)
    found: list[ScanFinding] = []
    for column in table.column_names:
        if column.startswith("_"):  # assay's own (_ingested_at, _file, _line)
            continue
        values = _texts(table.column(column))
        extra = _presidio(values) if presidio and values else None
        for item in detect.evidence(column, values or [], extra):
            found.append(
                ScanFinding(
                    name,
                    column,
                    item.kind,
                    item.confidence,
                    item.matched,
                    item.sampled,
                    item.examples,
                    version,
                )
            )
    return ScanReport(
        name,
        version,
        total,
        table.num_rows,
        tuple(f for f in found if f.confidence >= min_confidence),
        tuple(f for f in found if f.confidence < min_confidence),
        presidio,
    )


def scan(
    runtime: Runtime,
    names: Sequence[str] | None = None,
    rows: int = SAMPLE_ROWS,
    min_confidence: float = MIN_CONFIDENCE,
    use_presidio: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[ScanReport]:
    """Scan tables (all built ones when `names` is None), store each table's findings in
    the catalog (replacing its earlier ones) and write one audit event per table.

    Raises:
        AccessDeniedError: roles are configured and the principal's role does not allow
            `pii_scan`.
        UsageError: a name is not a dataset, or `min_confidence` is not in 0..1.
        TableNotFoundError: a named table has not been built yet.
    """
    require_action(runtime, "pii_scan")
    if not 0 <= min_confidence <= 1:
        raise UsageError(
            f"--min-confidence must be between 0 and 1, not {min_confidence}",
            hint="e.g. --min-confidence 0.8",
        )
    if rows < 1:
        raise UsageError(f"--rows must be at least 1, not {rows}", hint="e.g. --rows 1000")
    chosen = list(names) if names else [n for n in runtime.dag.order() if _built(runtime, n)]
    for name in chosen:  # every name checked before any table is scanned
        check_built(runtime, name)
    reports = []
    store = ScanStore(runtime.catalog)
    for name in chosen:
        if progress is not None:
            progress(name)
        report = scan_table(runtime, name, rows, min_confidence, use_presidio)
        store.save(name, report.version, report.findings, utcnow())
        _audit(runtime, report)
        reports.append(report)
    return reports


def _presidio(values: list[str]) -> dict[str, set[int]]:
    """Presidio's matches among the values assay's own patterns did not recognise (the
    others are evidence already; Presidio costs ~0.3 ms a value), by position."""
    unknown = [i for i, v in enumerate(values) if detect.value_kind(v) is None]
    found = pii_presidio.presidio_matches([values[i] for i in unknown])
    return {kind: {unknown[i] for i in where} for kind, where in found.items()}


def _built(runtime: Runtime, name: str) -> bool:
    return bool(runtime.warehouse.exists(name))


def check_built(runtime: Runtime, name: str) -> None:
    """Raise unless `name` is a dataset of the project whose table is built."""
    runtime.dag[name]  # an unknown name raises, listing the known ones
    if not runtime.warehouse.exists(name):
        raise TableNotFoundError(
            "table not built yet: nothing to scan",
            where=name,
            hint=f"build it first: assay run --select {name}",
        )


def _audit(runtime: Runtime, report: ScanReport) -> None:
    from assay.governance.audit_hooks import audit_write

    detail = {
        "version": report.version,
        "sampled": report.sampled,
        "found": [f"{f.column}:{f.kind}" for f in report.findings],
    }
    columns = sorted({f.column for f in report.findings})
    audit_write(runtime, report.dataset, None, "pii_scan", columns, detail)
