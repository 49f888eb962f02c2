"""Alerts: what fires, and to whom, once. The `Alerter` takes what an evaluation observed
(alerts whose condition holds, and conditions that cleared), keeps one open alert per
(event, dataset, subject) in the catalog, sends it to each channel of `alerts:` in
assay.yaml (and always to the log), re-sends it only after the channel's
`throttle_seconds` and only when it is observed again, and sends a resolve message when its
condition clears (if `send_resolved`). A channel that fails is logged and retried on the
next evaluation; it never fails the run.

In assay.yaml (the log hears of every alert whatever is configured)::

    alerts:
      - {type: webhook, url: "https://hooks.slack.com/services/...", format: slack}
      - type: email
        to: [oncall@example.com]
        from: assay@example.com
        smtp: {host: smtp.example.com, port: 587, starttls: true, username: assay,
               password_env: SMTP_PASSWORD}
        on: [failure, sla, contract, quarantine]
        throttle_seconds: 3600

Example:
    >>> import assay, tempfile
    >>> from datetime import datetime
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> alerter = Alerter(assay.Project(root).runtime)
    >>> alert = Alert("failure", "silver.orders", "silver.orders failed: boom",
    ...               "assay run --select silver.orders")
    >>> alerter.evaluate([alert], [], run_id="r1", now=datetime(2026, 1, 1))
    >>> [a.key.event for a in alerter.store.open_alerts()]
    ['failure']
    >>> alerter.evaluate([], [Cleared("failure", "silver.orders")], now=datetime(2026, 1, 2))
    >>> alerter.store.open_alerts()
    []
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assay.catalog.alert_state import AlertKey, AlertRow, AlertStore
from assay.config import LogAlert
from assay.intervals import utcnow
from assay.orchestration.channels import Channel, ChannelError, Message, channel_id, send
from assay.runtime import Runtime

log = logging.getLogger("assay.alerts")


@dataclass(frozen=True)
class Alert:
    """A condition that holds now: what broke, on which dataset, and the fixing command.

    Attributes:
        event: failure, sla, contract, quarantine, duration, anomaly, stream_lag or budget.
        subject: what within the dataset (an interval, a rule, a metric); alerts with the
            same event, dataset and subject are one alert.
        details: the numbers and text behind the summary (error, share, limit, ...).
        owner: who is told; None: the dataset's owner (an alert about an owner, such as a
            budget, says it here).
    """

    event: str
    dataset: str
    summary: str
    fix: str
    subject: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None

    @property
    def key(self) -> AlertKey:
        return AlertKey(self.event, self.dataset, self.subject)


@dataclass(frozen=True)
class Cleared:
    """A condition observed to be gone: open alerts of `event` on `dataset` (with this
    `subject`, or any subject when None) resolve."""

    event: str
    dataset: str
    subject: str | None = None


class Alerter:
    """Opens, throttles, resolves and delivers alerts for one project."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.store = AlertStore(rt.catalog)
        self.channels: list[Channel] = list(rt.config.alerts)
        if not any(isinstance(c, LogAlert) for c in self.channels):
            self.channels.append(LogAlert(type="log"))  # the log always hears of alerts

    def evaluate(
        self,
        firing: Sequence[Alert],
        cleared: Iterable[Cleared],
        run_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record what holds and what cleared at `now` (naive UTC), then deliver."""
        now = now or utcnow()
        holding = {a.key for a in firing}
        for alert in firing:
            owner = alert.owner or self._owner(alert.dataset)
            self.store.open(alert.key, alert.summary, alert.details, alert.fix, owner, run_id, now)
        for gone in cleared:
            for row in self.store.open_alerts(gone.dataset):
                same = row.key.event == gone.event and gone.subject in (None, row.key.subject)
                if same and row.key not in holding:
                    self.store.resolve(row.id, now)
        self.deliver(now)

    def deliver(self, now: datetime | None = None) -> None:
        """Send what each channel is due: new and re-observed open alerts (past the
        throttle) and resolve messages. A channel that fails is logged and left alone for
        the rest of this delivery (a dead host costs one timeout, not one per alert); what
        it missed is sent on the next evaluation."""
        now = now or utcnow()
        down: set[str] = set()
        for row in self.store.open_alerts():
            for channel in self._subscribed(row, down):
                if self._firing_due(row, channel, now):
                    self._send(row, channel, "firing", now, down)
        for row in self.store.resolved_unsent():
            for channel in self._subscribed(row, down):
                delivery = self.store.delivery(row.id, channel_id(channel))
                if delivery is None or delivery.firing_sent_at is None:
                    continue  # never told of the alert: nothing to resolve
                if channel.send_resolved and delivery.resolved_sent_at is None:
                    self._send(row, channel, "resolved", now, down)

    def _subscribed(self, row: AlertRow, down: set[str]) -> list[Channel]:
        return [
            c
            for c in self.channels
            if (c.on is None or row.key.event in c.on) and channel_id(c) not in down
        ]

    def _firing_due(self, row: AlertRow, channel: Channel, now: datetime) -> bool:
        delivery = self.store.delivery(row.id, channel_id(channel))
        if delivery is None or delivery.firing_sent_at is None:
            return True
        seen_again = row.last_seen_at > delivery.firing_sent_at
        waited = (now - delivery.firing_sent_at).total_seconds() >= channel.throttle_seconds
        return seen_again and waited

    def _send(
        self, row: AlertRow, channel: Channel, status: str, now: datetime, down: set[str]
    ) -> None:
        message = Message(
            row.key.event,
            status,
            row.key.dataset,
            row.owner,
            row.summary,
            row.details,
            row.fix,
            row.run_id,
            now if status == "resolved" else row.last_seen_at,
        )
        name = channel_id(channel)
        column = "firing_sent_at" if status == "firing" else "resolved_sent_at"
        try:
            send(channel, message)
        except ChannelError as exc:
            log.error("alert %s not delivered: %s", row.key, exc)
            self.store.record_delivery(row.id, name, last_error=str(exc))
            down.add(name)
            return
        self.store.record_delivery(row.id, name, last_error=None, **{column: now})

    def _owner(self, dataset: str) -> str | None:
        spec = self.rt.dag.specs.get(dataset)
        return None if spec is None else spec.owner
