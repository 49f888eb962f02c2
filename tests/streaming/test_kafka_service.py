"""The test Kafka broker does what the streaming engine needs: keyed, idempotent production to a
partitioned topic read back by a consumer group with committed offsets, and transactions whose
aborted messages a read_committed consumer never sees."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition


def _consume(
    consumer: Consumer, until: Callable[[list[Message]], bool], timeout: float = 60
) -> list[Message]:
    """Poll until `until(messages so far)` holds (or the timeout passes); return the messages."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    while not until(messages) and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=500, timeout=0.5):
            if msg.error() is not None:
                raise KafkaException(msg.error())
            messages.append(msg)
    return messages


def _delivery(errors: list[KafkaError]) -> Callable[[KafkaError | None, Message], None]:
    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(err)

    return on_delivery


def test_idempotent_producer_and_consumer_group(
    kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    topic = kafka_topic(partitions=3)
    keys = {f"key-{i:04d}".encode() for i in range(1000)}
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    errors: list[KafkaError] = []
    for key in sorted(keys):
        producer.produce(topic, key=key, value=b"v:" + key, on_delivery=_delivery(errors))
        producer.poll(0)
    assert producer.flush(30) == 0
    assert errors == []

    group = f"assay-t-{uuid.uuid4().hex[:12]}"
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        messages = _consume(consumer, lambda got: len(got) >= len(keys))
        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    finally:
        consumer.close()

    assert len(messages) == len(keys)
    assert {m.key() for m in messages} == keys
    assert all(m.value() == b"v:" + (m.key() or b"") for m in messages)
    assert {m.partition() for m in messages} == {0, 1, 2}  # the keys spread over all partitions
    assert sum(tp.offset for tp in committed) == len(keys)


def test_transactions_hide_aborted_messages_from_read_committed(
    kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    topic = kafka_topic(partitions=2)
    producer = Producer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "transactional.id": f"assay-t-{uuid.uuid4().hex[:12]}",
            "enable.idempotence": True,
        }
    )
    errors: list[KafkaError] = []
    on_delivery = _delivery(errors)

    def send(prefix: str, count: int) -> None:
        for i in range(count):
            key = f"{prefix}-{i:03d}".encode()
            producer.produce(
                topic, key=key, value=prefix.encode(), partition=i % 2, on_delivery=on_delivery
            )
            producer.poll(0)

    producer.init_transactions(30)
    producer.begin_transaction()
    send("committed", 100)
    producer.commit_transaction(30)

    producer.begin_transaction()
    send("aborted", 50)
    assert producer.flush(30) == 0  # the aborted messages do reach the log
    producer.abort_transaction(30)

    producer.begin_transaction()
    send("after", 10)  # on both partitions, after the aborted ones
    producer.commit_transaction(30)
    assert errors == []

    def read(isolation: str, until: Callable[[list[Message]], bool]) -> list[Message]:
        consumer = Consumer(
            {
                "bootstrap.servers": kafka_bootstrap,
                "group.id": f"assay-t-{uuid.uuid4().hex[:12]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": isolation,
            }
        )
        try:
            consumer.subscribe([topic])
            return _consume(consumer, until)
        finally:
            consumer.close()

    def values(messages: list[Message]) -> list[bytes]:
        return [m.value() or b"" for m in messages]

    # Reading up to the last committed transaction means reading past the aborted one.
    committed = read("read_committed", lambda got: values(got).count(b"after") >= 10)
    assert sorted(values(committed)) == [b"after"] * 10 + [b"committed"] * 100
    assert len({m.key() for m in committed}) == 110

    uncommitted = read("read_uncommitted", lambda got: values(got).count(b"after") >= 10)
    assert values(uncommitted).count(b"aborted") == 50
