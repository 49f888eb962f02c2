"""The openlineage-python client, made from `openlineage.transport` and kept from failing a run.

The transport settings go to the client's own transport factory as written, with two
project-friendly defaults: a file transport's relative `log_file_path` is in the project
folder, and a Kafka producer gives up on a message after 10 s (librdkafka waits 5 minutes by
default, and the client waits for every delivery) unless `message.timeout.ms` is set.

A transport that fails while sending (a receiver down, a broker gone) is logged and left
alone for the rest of the run, so one dead receiver costs one timeout, not one per event.
The Kafka transport only logs a message it could not deliver, so before its first event
the broker is asked for the topic's metadata (up to KAFKA_CHECK_SECONDS): no answer is that
failure.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assay.errors import ProjectError

log = logging.getLogger(__name__)

#: How long a Kafka producer tries to deliver one event unless the settings say otherwise.
KAFKA_MESSAGE_TIMEOUT_MS = "10000"
#: How long the broker has to answer before the first event (see the module).
KAFKA_CHECK_SECONDS = 5.0


def transport_config(transport: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """The client's transport settings, with assay's defaults filled in (see the module).

    Example:
        >>> transport_config({"type": "file", "log_file_path": "ol.jsonl"}, Path("/p"))
        {'type': 'file', 'log_file_path': '/p/ol.jsonl'}
    """
    config = dict(transport)
    path = config.get("log_file_path")
    if config["type"] == "file" and isinstance(path, str) and "://" not in path:
        config["log_file_path"] = str(root / path)
    producer = config.get("config")
    if config["type"] == "kafka" and isinstance(producer, Mapping):
        config["config"] = {"message.timeout.ms": KAFKA_MESSAGE_TIMEOUT_MS, **producer}
    return config


class Emitter:
    """Sends events through the configured transport; never raises once made.

    Args:
        transport: `openlineage.transport` from assay.yaml.
        root: the project folder (relative file paths are in it).
        where: the settings file, for errors.

    Raises:
        ProjectError: the client cannot make a transport of these settings.
    """

    def __init__(self, transport: Mapping[str, Any], root: Path, where: str):
        from openlineage.client import OpenLineageClient

        config = transport_config(transport, root)
        try:
            self.client = OpenLineageClient(config={"transport": config})
        except Exception as exc:
            raise ProjectError(
                f"openlineage.transport: the {config['type']!r} transport cannot be made: {exc}",
                where=where,
                hint="fix openlineage.transport; it takes the openlineage-python client's "
                "transport settings (https://openlineage.io/docs/client/python)",
            ) from None
        self.kind = str(config["type"])
        #: The first error while sending; set, the rest of the run's events are not sent.
        self.failure: str | None = None
        self.sent = 0
        self.dropped = 0
        self._checked = self.kind != "kafka"

    def emit(self, event: Any) -> None:
        """Send `event`; a failure is logged and the transport is not tried again."""
        if self.failure is not None:
            self.dropped += 1
            return
        try:
            if not self._checked:
                self._checked = True
                _check_broker(self.client.transport)
            self.client.emit(event)
            self.sent += 1
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            self.dropped += 1
            log.warning(
                "OpenLineage: the %s transport failed to send a %s event of %s (%s); the run "
                "goes on, and its further events are not sent",
                self.kind,
                getattr(getattr(event, "eventType", None), "value", "?"),
                getattr(getattr(event, "job", None), "name", "?"),
                self.failure,
            )

    def close(self) -> None:
        """Flush what the transport buffers; say how many events were not sent."""
        try:
            self.client.close(timeout=30.0)
        except Exception as exc:
            log.warning("OpenLineage: closing the %s transport failed: %s", self.kind, exc)
        if self.dropped:
            log.warning(
                "OpenLineage: %d of this run's events were not sent (%s)",
                self.dropped,
                self.failure,
            )


def _check_broker(transport: Any) -> None:
    """Raise unless the Kafka transport's broker answers with its topic's metadata."""
    producer = getattr(transport, "producer", None)
    if producer is not None:
        producer.list_topics(topic=transport.topic, timeout=KAFKA_CHECK_SECONDS)
