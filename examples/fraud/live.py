"""Phase 5 of the demo: live transactions stream in through a folder, exactly once, and
keep per-card activity features fresh in the online store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import assay
from assay.cli.render import stream_line

#: The live period starts where the batch data ends.
LIVE_START = datetime(2026, 8, 30)


def arrival_lines(n: int, minute: int, seed: int, poison: bool = False) -> list[str]:
    """`n` transactions (JSON) over the 10 minutes from `minute`, as the switch sends them:
    a few out of order, three cards on a spree, and (with `poison`) a broken line and a
    straggler half an hour late."""
    rng = np.random.default_rng(seed)
    cards = rng.integers(1, 50_001, n)
    # Three cards on a spree: 1% of the traffic each, the kind of burst fraud looks like.
    burst = rng.random(n) < 0.03
    cards[burst] = rng.choice([7, 42, 1234], burst.sum())
    start = LIVE_START + timedelta(minutes=minute)
    offsets = np.sort(rng.uniform(0, 600, n)) + rng.normal(0, 5, n)  # slightly out of order
    lines = [
        json.dumps(
            {
                "transaction_id": f"live-{seed}-{i}",
                "card_id": int(card),
                "amount": round(float(rng.lognormal(3.5, 1)), 2),
                "event_time": (start + timedelta(seconds=float(s))).isoformat(),
            }
        )
        for i, (card, s) in enumerate(zip(cards, offsets, strict=True))
    ]
    if poison:
        lines.insert(n // 2, '{"transaction_id": "live-broken", "card_id": ')
        late = LIVE_START + timedelta(minutes=minute - 30)
        lines.append(
            json.dumps(
                {
                    "transaction_id": "live-late",
                    "card_id": 1,
                    "amount": 5.0,
                    "event_time": late.isoformat(),
                }
            )
        )
    return lines


def write_arrival(root: Path, n: int, minute: int, seed: int, poison: bool = False) -> Path:
    """One file of `arrival_lines` dropped into incoming/ of the project."""
    lines = arrival_lines(n, minute, seed, poison)
    folder = root / "incoming"
    folder.mkdir(exist_ok=True)
    staging = folder / f".{seed}.tmp"
    staging.write_text("\n".join(lines) + "\n")
    # Files appear whole: written aside, then renamed in.
    return staging.rename(folder / f"arrival-{seed:03d}.jsonl")


def live_phase(project: assay.Project, console: Console) -> None:
    console.rule("[bold]Phase 5: live - transactions stream in, features stay fresh")
    for arrival in range(6):
        write_arrival(project.root, 4_000, minute=10 * arrival, seed=arrival, poison=arrival == 3)
        project.stream(
            "bronze.live_transactions",
            until_idle=True,
            on_batch=lambda b: console.print("  " + stream_line(b)),
        )
    [status] = project.stream_status()
    console.print(
        f"stream: watermark {status.watermark}, {status.dead_lettered} dead-lettered "
        f"(deadletter.bronze_live_transactions), {status.late} late row(s) kept in "
        "late.silver_card_activity_* tables"
    )
    now = LIVE_START + timedelta(hours=1)
    busiest = project.sql(
        "SELECT card_id FROM bronze.live_transactions GROUP BY 1 ORDER BY count(*) DESC LIMIT 3"
    )["card_id"].to_pylist()
    refs = ["card_activity_10m:count", "card_activity_10m:amount_sum", "card_activity_1h:count"]
    served = project.features.online([{"card_id": c} for c in busiest], refs, now=now)
    table = Table(title=f"fresh online features at {now:%H:%M} (as of each card's latest event)")
    for col in ("card_id", "txns last 10m", "amount last 10m", "txns last 1h", "as of"):
        table.add_column(col)
    for card, vector in zip(busiest, served, strict=True):
        # Both views have a `count`: in a vector they are named view__feature.
        last_10m, last_1h = vector["card_activity_10m__count"], vector["card_activity_1h__count"]
        amount = vector["amount_sum"]["value"]
        table.add_row(
            str(card),
            str(last_10m["value"]),
            f"{amount:,.2f}" if amount is not None else "-",
            str(last_1h["value"]),
            f"{last_10m['event_timestamp']:%H:%M} / {last_1h['event_timestamp']:%H:%M}",
        )
    console.print(table)


def produce_to_kafka(bootstrap: str, topic: str, arrivals: int, per_arrival: int) -> int:
    """Send the same live transactions to a Kafka topic (keyed by transaction id), for a
    project whose `bronze.live_transactions` is declared with `assay.kafka(...)`."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    sent = 0
    for arrival in range(arrivals):
        for line in arrival_lines(per_arrival, 10 * arrival, arrival, poison=arrival == 3):
            key = json.loads(line).get("transaction_id") if line.endswith("}") else None
            producer.produce(topic, value=line.encode(), key=key)
            producer.poll(0)
            sent += 1
    producer.flush(60)
    return sent


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Send the demo's live transactions to Kafka.")
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--topic", default="transactions")
    parser.add_argument("--arrivals", type=int, default=6)
    parser.add_argument("--per-arrival", type=int, default=4000)
    args = parser.parse_args()
    count = produce_to_kafka(args.bootstrap, args.topic, args.arrivals, args.per_arrival)
    print(f"sent {count:,} transactions to {args.topic} at {args.bootstrap}")
