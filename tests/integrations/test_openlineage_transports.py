"""The client's transports, configured in assay.yaml as the client documents them: HTTP
to a receiver on loopback (as Marquez takes events), Kafka to the project's real broker,
the console; a receiver that is down costs the run nothing but a logged warning."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import assay
from tests.integrations.test_openlineage_failures import small_project
from tests.integrations.test_openlineage_spec import validate_event

#: The scaffold's datasets, in run order; each is a START and a COMPLETE.
DATASETS = ["bronze.customers", "bronze.orders", "silver.orders", "gold.daily_totals"]


def expected_sequence(project: str) -> list[tuple[str, str]]:
    children = [(name, state) for name in DATASETS for state in ("START", "COMPLETE")]
    return [(project, "START"), *children, (project, "COMPLETE")]


def sequence(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["job"]["name"], e["eventType"]) for e in events]


class _Receiver(BaseHTTPRequestHandler):
    """Stores each POSTed JSON body with its path; answers 201 as Marquez does."""

    received: list[tuple[str, dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    received: list[tuple[str, dict[str, Any]]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_http_transport_posts_every_event_to_the_receiver(
    tmp_path: Path, receiver: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    url, received = receiver
    root = small_project(
        tmp_path / "shop", f"openlineage:\n  transport: {{type: http, url: {url}}}\n"
    )
    assert assay.Project(root).run().ok
    assert {path for path, _ in received} == {"/api/v1/lineage"}
    events = [event for _, event in received]
    for event in events:
        validate_event(event)
    assert sequence(events) == expected_sequence("shop")


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dead_receiver_does_not_fail_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    settings = f"openlineage:\n  transport: {{type: http, url: {url}, retry: {{total: 1}}}}\n"
    root = small_project(tmp_path / "shop", settings)
    project = assay.Project(root)
    with caplog.at_level(logging.WARNING, logger="assay.integrations.openlineage"):
        result = project.run()
    assert result.ok and project.row_count("gold.daily_totals") > 0
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("assay.integrations")]
    # One failure is logged, then the transport is left alone: every event is counted.
    assert len([w for w in warnings if "failed to send a START event of shop" in w]) == 1
    assert f"{len(expected_sequence('shop'))} of this run's events were not sent" in warnings[-1]


def test_kafka_transport_publishes_every_event(
    tmp_path: Path, kafka_bootstrap: str, kafka_topic: Any
) -> None:
    from confluent_kafka import Consumer

    topic = kafka_topic()
    settings = (
        "openlineage:\n  transport:\n    type: kafka\n"
        f"    topic: {topic}\n    config: {{bootstrap.servers: '{kafka_bootstrap}'}}\n"
    )
    root = small_project(tmp_path / "shop", settings)
    assert assay.Project(root).run().ok
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"{topic}-reader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    expected = expected_sequence("shop")
    messages: list[Any] = []
    try:
        for _ in range(600):  # polls of 0.1 s: the events are already on the broker
            message = consumer.poll(0.1)
            if message is not None and message.error() is None:
                messages.append(message)
            if len(messages) == len(expected):
                break
    finally:
        consumer.close()
    events = [json.loads(m.value()) for m in messages]
    for event in events:
        validate_event(event)
    assert sequence(events) == expected
    # Keyed by the project run: one partition keeps a run's events in order.
    assert {m.key() for m in messages} == {b"run:shop/shop"}


def test_console_transport_logs_every_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = small_project(tmp_path / "shop", "openlineage:\n  transport: {type: console}\n")
    with caplog.at_level(logging.INFO, logger="openlineage.client.transport.console"):
        assert assay.Project(root).run().ok
    events = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "openlineage.client.transport.console"
    ]
    for event in events:
        validate_event(event)
    assert sequence(events) == expected_sequence("shop")


def test_a_dead_kafka_broker_does_not_fail_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = (
        "openlineage:\n  transport:\n    type: kafka\n    topic: lineage\n"
        f"    config: {{bootstrap.servers: '127.0.0.1:{_closed_port()}'}}\n"
    )
    root = small_project(tmp_path / "shop", settings)
    with caplog.at_level(logging.WARNING, logger="assay.integrations.openlineage"):
        assert assay.Project(root).run().ok
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("assay.integrations")]
    assert len([w for w in warnings if "kafka transport failed to send a START event" in w]) == 1
    assert f"{len(expected_sequence('shop'))} of this run's events were not sent" in warnings[-1]
