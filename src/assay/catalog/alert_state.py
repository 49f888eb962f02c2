"""The alert state the catalog keeps, so dedup, throttling and resolve messages survive
processes: one row per alert (open until its condition clears) and one row per alert and
channel saying what that channel has been sent.

The tables live in the catalog's database but are created here, on first use, so the
catalog's core schema does not change when alerting is not used.

Example:
    >>> from datetime import datetime
    >>> from assay.catalog import Catalog
    >>> store = AlertStore(Catalog("sqlite://"))
    >>> key = AlertKey("failure", "silver.x", "run")
    >>> row = store.open(key, "silver.x failed", {}, "assay run", "", "r1", datetime(2026, 1, 1))
    >>> [a.key.dataset for a in store.open_alerts()]
    ['silver.x']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from assay.catalog.store import Catalog, create_tables

_meta = sa.MetaData()

alerts = sa.Table(
    "assay_alerts",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("dataset", sa.String(200), nullable=False, index=True),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # open | resolved
    sa.Column("owner", sa.String(200)),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),  # JSON object
    sa.Column("fix", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(40)),
    sa.Column("opened_at", sa.DateTime, nullable=False),
    sa.Column("last_seen_at", sa.DateTime, nullable=False),
    sa.Column("resolved_at", sa.DateTime),
    sa.Column("times_seen", sa.Integer, nullable=False),
)
_OPEN = sa.text("status = 'open'")
# At most one open alert per key, even when two processes (a run and the scheduler) see
# the same condition at once: the second insert fails and becomes an update.
sa.Index(
    "uq_assay_alerts_open",
    alerts.c.event,
    alerts.c.dataset,
    alerts.c.subject,
    unique=True,
    sqlite_where=_OPEN,
    postgresql_where=_OPEN,
)

deliveries = sa.Table(
    "assay_alert_deliveries",
    _meta,
    sa.Column("alert_id", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(500), primary_key=True),
    sa.Column("firing_sent_at", sa.DateTime),
    sa.Column("resolved_sent_at", sa.DateTime),
    sa.Column("last_error", sa.Text),
)


@dataclass(frozen=True)
class AlertKey:
    """What makes an alert the same alert: at most one is open per key."""

    event: str
    dataset: str
    subject: str


@dataclass(frozen=True)
class AlertRow:
    """One stored alert."""

    id: int
    key: AlertKey
    status: str
    owner: str | None
    summary: str
    details: dict[str, Any]
    fix: str
    run_id: str | None
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    times_seen: int


@dataclass(frozen=True)
class Delivery:
    """What one channel has been sent about one alert."""

    firing_sent_at: datetime | None
    resolved_sent_at: datetime | None
    last_error: str | None


class AlertStore:
    """Reads and writes the alert tables through the catalog's engine."""

    def __init__(self, catalog: Catalog):
        self.engine = catalog.engine
        create_tables(self.engine, alerts, deliveries)

    def find_open(self, key: AlertKey) -> AlertRow | None:
        query = sa.select(alerts).where(
            alerts.c.event == key.event,
            alerts.c.dataset == key.dataset,
            alerts.c.subject == key.subject,
            alerts.c.status == "open",
        )
        with self.engine.connect() as con:
            row = con.execute(query.order_by(alerts.c.id)).mappings().first()
        return None if row is None else _alert(row)

    def open(
        self,
        key: AlertKey,
        summary: str,
        details: dict[str, Any],
        fix: str,
        owner: str | None,
        run_id: str | None,
        now: datetime,
    ) -> AlertRow:
        """Record that the condition of `key` holds at `now`: a new open alert, or the open
        one seen again (its text refreshed to the newest observation)."""
        values = {
            "summary": summary,
            "details": json.dumps(details, default=str),
            "fix": fix,
            "owner": owner,
            "run_id": run_id,
            "last_seen_at": now,
        }
        found = self.find_open(key)
        if found is None:
            try:
                with self.engine.begin() as con:
                    con.execute(
                        alerts.insert().values(
                            event=key.event,
                            dataset=key.dataset,
                            subject=key.subject,
                            status="open",
                            opened_at=now,
                            times_seen=1,
                            **values,
                        )
                    )
            except sa.exc.IntegrityError:  # another process opened it just now
                found = self.find_open(key)
        if found is not None:
            with self.engine.begin() as con:
                con.execute(
                    alerts.update()
                    .where(alerts.c.id == found.id)
                    .values(times_seen=alerts.c.times_seen + 1, **values)
                )
        opened = self.find_open(key)
        assert opened is not None  # just written in this process
        return opened

    def resolve(self, alert_id: int, now: datetime) -> None:
        with self.engine.begin() as con:
            con.execute(
                alerts.update()
                .where(alerts.c.id == alert_id)
                .values(status="resolved", resolved_at=now)
            )

    def open_alerts(self, dataset: str | None = None) -> list[AlertRow]:
        query = sa.select(alerts).where(alerts.c.status == "open")
        if dataset is not None:
            query = query.where(alerts.c.dataset == dataset)
        with self.engine.connect() as con:
            return [_alert(r) for r in con.execute(query.order_by(alerts.c.id)).mappings()]

    def recent(self, limit: int = 50) -> list[AlertRow]:
        """Open alerts and the latest resolved ones, newest first."""
        query = sa.select(alerts).order_by(alerts.c.last_seen_at.desc(), alerts.c.id.desc())
        with self.engine.connect() as con:
            return [_alert(r) for r in con.execute(query.limit(limit)).mappings()]

    def resolved_unsent(self) -> list[AlertRow]:
        """Resolved alerts: candidates for a resolve message (the caller checks channels)."""
        query = sa.select(alerts).where(alerts.c.status == "resolved")
        query = query.where(
            sa.exists().where(
                deliveries.c.alert_id == alerts.c.id,
                deliveries.c.firing_sent_at.is_not(None),
                deliveries.c.resolved_sent_at.is_(None),
            )
        )
        with self.engine.connect() as con:
            return [_alert(r) for r in con.execute(query.order_by(alerts.c.id)).mappings()]

    def delivery(self, alert_id: int, channel: str) -> Delivery | None:
        query = sa.select(deliveries).where(
            deliveries.c.alert_id == alert_id, deliveries.c.channel == channel
        )
        with self.engine.connect() as con:
            row = con.execute(query).mappings().first()
        if row is None:
            return None
        return Delivery(row["firing_sent_at"], row["resolved_sent_at"], row["last_error"])

    def record_delivery(self, alert_id: int, channel: str, **values: Any) -> None:
        """Set columns of the (alert, channel) delivery row, creating it if needed."""
        where = (deliveries.c.alert_id == alert_id, deliveries.c.channel == channel)
        with self.engine.begin() as con:
            exists = con.execute(sa.select(deliveries.c.alert_id).where(*where)).first()
            if exists:
                con.execute(deliveries.update().where(*where).values(**values))
            else:
                con.execute(
                    deliveries.insert().values(alert_id=alert_id, channel=channel, **values)
                )


def _alert(row: sa.RowMapping) -> AlertRow:
    return AlertRow(
        id=row["id"],
        key=AlertKey(row["event"], row["dataset"], row["subject"]),
        status=row["status"],
        owner=row["owner"],
        summary=row["summary"],
        details=json.loads(row["details"]),
        fix=row["fix"],
        run_id=row["run_id"],
        opened_at=row["opened_at"],
        last_seen_at=row["last_seen_at"],
        resolved_at=row["resolved_at"],
        times_seen=row["times_seen"],
    )
