"""PII scan results the catalog keeps: per dataset and column, the kind of personal data
found, how sure the scan is, the masked examples and the table version scanned.

The tables live in the catalog's database but are created here, on first use, so the
catalog's core schema does not change when `assay pii scan` is never run. A revision
counter goes up with every saved scan, so caches of the effective classifications (asked
on every read) can tell cheaply whether they are stale.

Example:
    >>> from datetime import datetime
    >>> from assay.catalog import Catalog
    >>> store = ScanStore(Catalog("sqlite://"))
    >>> found = ScanFinding("silver.c", "email", "email", 0.98, 49, 50, ("j***@e***.com",))
    >>> store.save("silver.c", 3, [found], datetime(2026, 1, 1))
    >>> [(r.column, r.kind, r.version) for r in store.results()], store.revision()
    ([('email', 'email', 3)], 1)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from assay.catalog.store import Catalog, create_tables

_meta = sa.MetaData()

scans = sa.Table(
    "assay_pii_scans",
    _meta,
    sa.Column("dataset", sa.String(200), primary_key=True),
    sa.Column("column", sa.String(300), primary_key=True),
    sa.Column("kind", sa.String(60), primary_key=True),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("matched", sa.Integer, nullable=False),
    sa.Column("sampled", sa.Integer, nullable=False),
    sa.Column("examples", sa.Text, nullable=False),  # JSON list of masked examples
    sa.Column("version", sa.Integer),  # the table version scanned
    sa.Column("scanned_at", sa.DateTime, nullable=False),
)

revisions = sa.Table(
    "assay_pii_revision",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
)


@dataclass(frozen=True)
class ScanFinding:
    """One kind of personal data found in one column.

    Attributes:
        dataset: `layer.name`.
        column: the column.
        kind: what was found (`email`, `phone`, `card_number`, `iban`, ...).
        confidence: 0..1, the share of sampled values that match, with the column name's
            evidence added (see assay.governance.detect).
        matched: sampled non-null values that match.
        sampled: sampled non-null values.
        examples: matching values, masked (never clear).
        version: the table version scanned (None: not a Delta table).
        scanned_at: when (None until stored).
    """

    dataset: str
    column: str
    kind: str
    confidence: float
    matched: int
    sampled: int
    examples: tuple[str, ...] = ()
    version: int | None = None
    scanned_at: datetime | None = None


class ScanStore:
    """Reads and writes stored scan results through the catalog's engine."""

    def __init__(self, catalog: Catalog):
        self.engine = catalog.engine
        create_tables(self.engine, scans, revisions)

    def save(
        self,
        dataset: str,
        version: int | None,
        findings: Sequence[ScanFinding],
        now: datetime,
    ) -> None:
        """Replace what is stored for `dataset` with `findings` (a scan that finds nothing
        clears it), in one transaction, and move the revision on."""
        rows = [
            {
                "dataset": dataset,
                "column": f.column,
                "kind": f.kind,
                "confidence": float(f.confidence),
                "matched": int(f.matched),
                "sampled": int(f.sampled),
                "examples": json.dumps(list(f.examples)),
                "version": version,
                "scanned_at": now,
            }
            for f in findings
        ]
        with self.engine.begin() as con:
            con.execute(scans.delete().where(scans.c.dataset == dataset))
            if rows:
                con.execute(scans.insert(), rows)
            self._bump(con)

    def results(self, dataset: str | None = None) -> list[ScanFinding]:
        """Stored findings (of `dataset`, or all), by dataset, column and kind."""
        query = sa.select(scans)
        if dataset is not None:
            query = query.where(scans.c.dataset == dataset)
        query = query.order_by(scans.c.dataset, scans.c.column, scans.c.kind)
        with self.engine.connect() as con:
            return [_finding(r) for r in con.execute(query).mappings()]

    def revision(self) -> int:
        """How many scans have been saved (0: none): changes whenever the results do."""
        with self.engine.connect() as con:
            value = con.execute(sa.select(revisions.c.revision)).scalar()
        return int(value or 0)

    def _bump(self, con: sa.Connection) -> None:
        updated = con.execute(revisions.update().values(revision=revisions.c.revision + 1))
        if not updated.rowcount:
            con.execute(revisions.insert().values(id=1, revision=1))


def _finding(row: sa.RowMapping) -> ScanFinding:
    return ScanFinding(
        dataset=row["dataset"],
        column=row["column"],
        kind=row["kind"],
        confidence=row["confidence"],
        matched=row["matched"],
        sampled=row["sampled"],
        examples=tuple(json.loads(row["examples"])),
        version=row["version"],
        scanned_at=row["scanned_at"],
    )
