"""The Alerter's state on a moved clock (`now` injected, no sleeping): throttle expiry,
channel subscriptions (`on:`), `send_resolved: false`, state that survives processes; and
the quarantine alert of a batch over `max_quarantined` on palmerpenguins' real NA values."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import assay
from assay.orchestration.alerts import Alert, Alerter, Cleared
from tests.conftest import MakeProject
from tests.orchestration.receivers import Webhook, webhook_receiver  # noqa: F401 - fixture
from tests.pipelines.test_max_quarantined import CONTRACT, PENGUINS_CSV, pipeline

T0 = datetime(2026, 3, 1, 12, 0)
BROKEN = Alert(
    "failure",
    "silver.orders",
    "silver.orders failed: boom",
    "assay run --select silver.orders",
    details={"error": "boom"},
)


def project(make_project: MakeProject, alerts: list[dict[str, Any]]) -> assay.Project:
    sql = "-- name: silver.orders\n-- owner: ana\nSELECT 1 AS id\n"
    return assay.Project(make_project({"pipelines/orders.sql": sql}, {"alerts": alerts}))


def test_an_open_alert_is_sent_again_only_after_the_throttle(
    make_project: MakeProject, webhook: Webhook
) -> None:
    alerts = [{"type": "webhook", "url": webhook.url, "throttle_seconds": 600}]
    alerter = Alerter(project(make_project, alerts).runtime)

    alerter.evaluate([BROKEN], [], run_id="r1", now=T0)
    alerter.evaluate([BROKEN], [], run_id="r2", now=T0 + timedelta(seconds=599))
    assert [b["run_id"] for b in webhook.bodies] == ["r1"]

    alerter.evaluate([BROKEN], [], run_id="r3", now=T0 + timedelta(seconds=600))
    assert [b["run_id"] for b in webhook.bodies] == ["r1", "r3"]
    assert webhook.bodies[1]["time"] == "2026-03-01T12:10:00Z"

    # Time passing alone (nothing observed again) sends nothing.
    alerter.evaluate([], [], now=T0 + timedelta(hours=5))
    assert len(webhook.bodies) == 2

    alerter.evaluate([], [Cleared("failure", "silver.orders")], now=T0 + timedelta(hours=6))
    assert webhook.bodies[2]["status"] == "resolved"
    assert webhook.bodies[2]["owner"] == "ana"
    alerter.evaluate([], [Cleared("failure", "silver.orders")], now=T0 + timedelta(hours=7))
    assert len(webhook.bodies) == 3

    # The same condition again later is a new alert: sent at once.
    alerter.evaluate([BROKEN], [], run_id="r9", now=T0 + timedelta(hours=8))
    assert (webhook.bodies[3]["status"], webhook.bodies[3]["run_id"]) == ("firing", "r9")


def test_the_state_survives_a_new_process(make_project: MakeProject, webhook: Webhook) -> None:
    alerts = [{"type": "webhook", "url": webhook.url}]
    first = project(make_project, alerts)
    Alerter(first.runtime).evaluate([BROKEN], [], run_id="r1", now=T0)

    again = assay.Project(first.root)  # a new catalog connection: nothing in memory
    Alerter(again.runtime).evaluate([BROKEN], [], run_id="r2", now=T0 + timedelta(minutes=5))

    assert len(webhook.bodies) == 1
    (row,) = Alerter(again.runtime).store.open_alerts()
    assert (row.times_seen, row.run_id) == (2, "r2")


def test_channels_get_only_the_events_they_subscribe_to(
    make_project: MakeProject, webhook: Webhook
) -> None:
    alerts = [{"type": "webhook", "url": webhook.url, "on": ["sla"], "send_resolved": False}]
    alerter = Alerter(project(make_project, alerts).runtime)
    late = Alert("sla", "silver.orders", "late", "assay run --select silver.orders", "deadline")

    alerter.evaluate([BROKEN, late], [], now=T0)
    alerter.evaluate([], [Cleared("sla", "silver.orders", "deadline")], now=T0)

    assert [(b["event"], b["status"]) for b in webhook.bodies] == [("sla", "firing")]
    assert [a.key.event for a in alerter.store.open_alerts()] == ["failure"]


def test_a_batch_over_max_quarantined_fires_a_quarantine_alert(
    make_project: MakeProject, webhook: Webhook
) -> None:
    frame = pd.read_csv(PENGUINS_CSV)
    rows, missing = len(frame), int(frame["sex"].isna().sum())
    root: Path = make_project(
        {"pipelines/bronze.py": pipeline("1%"), "contracts/penguins.yaml": CONTRACT},
        {"alerts": [{"type": "webhook", "url": webhook.url}]},
    )
    (root / "data").mkdir()
    shutil.copy(PENGUINS_CSV, root / "data" / "penguins.csv")

    assay.Project(root).run()

    (body,) = webhook.bodies
    assert (body["event"], body["dataset"], body["owner"]) == (
        "quarantine",
        "bronze.penguins",
        "field-team",
    )
    assert body["summary"].startswith(
        "bronze.penguins quarantined more rows than max_quarantined allows: contract failed"
    )
    assert (
        f"{missing / rows:.2%} of the batch's {rows:,} rows quarantined ({missing:,})"
        in (body["summary"])
    )
    assert (
        f"over max_quarantined 1.00%; top rules: required(sex) {missing}"
        in (body["details"]["error"])
    )
    assert body["fix"] == "assay run --select bronze.penguins"


def test_the_catalog_refuses_a_second_open_alert_with_the_same_key(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes that both found no open alert and both insert: the unique index on open
    alerts stops the second, which then counts as seeing the same alert again."""
    import sqlalchemy as sa

    from assay.catalog.alert_state import alerts

    store = Alerter(project(make_project, []).runtime).store
    store.open(BROKEN.key, "first", {}, "fix", None, "r1", T0)
    row = {
        "event": "failure",
        "dataset": "silver.orders",
        "subject": "",
        "status": "open",
        "summary": "second",
        "details": "{}",
        "fix": "fix",
        "opened_at": T0,
        "last_seen_at": T0,
        "times_seen": 1,
    }
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as con:
        con.execute(alerts.insert().values(**row))

    # The process that lost the race counts its observation on the open alert.
    looked: list[object] = []
    first_look = store.find_open

    def racing(key: object) -> object:
        looked.append(key)
        return None if len(looked) == 1 else first_look(key)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "find_open", racing)
    again = store.open(BROKEN.key, "again", {}, "fix", None, "r2", T0)
    assert (again.times_seen, again.summary, len(store.open_alerts())) == (2, "again", 1)
    monkeypatch.undo()

    store.resolve(store.open_alerts()[0].id, T0)
    with store.engine.begin() as con:  # once resolved, the key may open again
        con.execute(alerts.insert().values(**row))
    assert [a.summary for a in store.open_alerts()] == ["second"]


def test_a_failing_channel_is_tried_once_per_delivery_then_catches_up(
    make_project: MakeProject, webhook: Webhook
) -> None:
    alerts = [{"type": "webhook", "url": webhook.url}]
    alerter = Alerter(project(make_project, alerts).runtime)
    other = Alert("failure", "gold.totals", "gold.totals failed: boom", "assay run")
    webhook.status = 500

    alerter.evaluate([BROKEN, other], [], now=T0)

    assert len(webhook.requests) == 1  # the second alert did not wait on a failing channel
    webhook.status = 200
    alerter.deliver(T0 + timedelta(minutes=1))
    assert sorted(b["dataset"] for b in webhook.bodies[1:]) == ["gold.totals", "silver.orders"]
    alerter.deliver(T0 + timedelta(minutes=2))
    assert len(webhook.requests) == 3
