"""assay.yaml is read with YAML 1.2 booleans: `on:` in an alert channel stays a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.config import load_config
from assay.errors import ProjectError

ALERTS = """\
name: shop
alerts:
  - type: email
    to: [oncall@example.com]
    on: [failure, sla]
    send_resolved: false
  - {type: webhook, url: "http://127.0.0.1:9/hook", format: slack, on: [quarantine]}
"""


def test_on_is_a_key_and_true_false_are_booleans(tmp_path: Path) -> None:
    (tmp_path / "assay.yaml").write_text(ALERTS)
    config = load_config(tmp_path)
    email, webhook = config.alerts
    assert email.on == ["failure", "sla"] and email.send_resolved is False
    assert webhook.on == ["quarantine"]


def test_an_unknown_alert_event_is_named(tmp_path: Path) -> None:
    (tmp_path / "assay.yaml").write_text(ALERTS.replace("[failure, sla]", "[failure, outage]"))
    with pytest.raises(ProjectError, match=r"alerts\.0\.email\.on\.1"):
        load_config(tmp_path)
