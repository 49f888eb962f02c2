"""Deterministic synthetic card-fraud data for the demo (seeded; same bytes every time).

Writes, under `data/`:
- transactions/YYYY-MM-DD.jsonl: card transactions, one file per day, with ~1% duplicate
  events, a few malformed lines and bad amounts, PII (card numbers, IPs), and from day 45 on
  a new field `device_id` (a schema change part-way through);
- chargebacks/YYYY-MM-DD.jsonl: fraud labels, filed 2-30 days after the transaction, in the
  file of the day they arrive;
- customers.csv (names, emails, phones: PII) and merchants.parquet.

`generate(root, through_day=N)` writes only what has "arrived" by day N, so the demo can show
data arriving in two phases.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

START = datetime(2026, 6, 1)
DAYS = 90
SCHEMA_CHANGE_DAY = 45
SEED = 20260601


def build(n_transactions: int = 1_000_000, seed: int = SEED) -> dict[str, pa.Table]:
    """All tables of the synthetic world, as Arrow (not yet split into files)."""
    rng = np.random.default_rng(seed)
    n_customers, n_merchants = max(n_transactions // 20, 10), max(n_transactions // 200, 5)
    n_cards = int(n_customers * 1.2)
    first = np.array(
        [
            "Ada",
            "Grace",
            "Alan",
            "Edsger",
            "Barbara",
            "Donald",
            "Frances",
            "Ken",
            "Margaret",
            "Linus",
            "Radia",
            "Tim",
            "Katherine",
            "Dennis",
            "Sophie",
        ]
    )
    last = np.array(
        [
            "Lovelace",
            "Hopper",
            "Turing",
            "Dijkstra",
            "Liskov",
            "Knuth",
            "Allen",
            "Thompson",
            "Hamilton",
            "Torvalds",
            "Perlman",
            "Lee",
            "Johnson",
            "Wilson",
        ]
    )
    countries = np.array(["GB", "US", "DE", "FR", "ES", "IT", "NL", "PL", "SE", "IE"])
    cust_ids = np.arange(1, n_customers + 1)
    fn, ln = rng.choice(first, n_customers), rng.choice(last, n_customers)
    customers = pa.table(
        {
            "customer_id": cust_ids,
            "name": np.char.add(np.char.add(fn, " "), ln),
            "email": _emails(np.char.lower(fn), cust_ids, rng),
            "phone": np.char.add(
                "+44 7700 ", rng.integers(100000, 999999, n_customers).astype(str)
            ),
            "country": rng.choice(countries, n_customers),
            "signup_date": [
                (START - timedelta(days=int(d))).date().isoformat()
                for d in rng.integers(30, 2000, n_customers)
            ],
        }
    )
    categories = np.array(
        [
            "grocery",
            "electronics",
            "travel",
            "fuel",
            "restaurants",
            "fashion",
            "gaming",
            "jewelry",
            "pharmacy",
            "digital_goods",
        ]
    )
    merchant_risk = rng.beta(1, 12, n_merchants)
    merchants = pa.table(
        {
            "merchant_id": np.arange(1, n_merchants + 1),
            "merchant_name": np.char.add("Merchant ", np.arange(1, n_merchants + 1).astype(str)),
            "category": rng.choice(categories, n_merchants),
            "country": rng.choice(countries, n_merchants),
            "onboarded_at": pa.array(
                [START - timedelta(days=int(d)) for d in rng.integers(100, 3000, n_merchants)],
                pa.timestamp("us"),
            ),
        }
    )
    card_owner = rng.integers(1, n_customers + 1, n_cards)
    card_numbers = np.char.add("4", rng.integers(10**14, 10**15 - 1, n_cards).astype(str))
    card = rng.integers(0, n_cards, n_transactions)
    merchant = rng.integers(0, n_merchants, n_transactions)
    seconds = np.sort(rng.integers(0, DAYS * 86400, n_transactions))
    amount = np.round(rng.lognormal(3.3, 1.0, n_transactions), 2)
    # Fraud: likelier at risky merchants, for large amounts and at night.
    hour = (seconds // 3600) % 24
    p_fraud = 0.002 + merchant_risk[merchant] * 0.05 + (amount > 300) * 0.01 + (hour < 5) * 0.005
    is_fraud = rng.random(n_transactions) < p_fraud
    octets = [np.char.add(".", rng.integers(0, 255, n_transactions).astype(str)) for _ in "abc"]
    ips = np.char.add(np.char.add(np.char.add("10", octets[0]), octets[1]), octets[2])
    transactions = pa.table(
        {
            "transaction_id": np.char.add("tx", np.arange(1, n_transactions + 1).astype(str)),
            "event_time": _timestamps(seconds),
            "card_id": card + 1,
            "customer_id": card_owner[card],
            "card_number": card_numbers[card],
            "merchant_id": merchant + 1,
            "amount": amount,
            "currency": rng.choice(
                np.array(["EUR", "GBP", "USD", "eur"]), n_transactions, p=[0.5, 0.3, 0.19, 0.01]
            ),
            "ip_address": ips,
            "device_id": np.char.add(
                "dev", rng.integers(1, n_cards * 2, n_transactions).astype(str)
            ),
        }
    )
    fraud_idx = np.flatnonzero(is_fraud)
    delay = rng.integers(2 * 86400, 30 * 86400, len(fraud_idx))
    chargebacks = pa.table(
        {
            "chargeback_id": np.char.add("cb", np.arange(1, len(fraud_idx) + 1).astype(str)),
            "transaction_id": transactions["transaction_id"].take(fraud_idx),
            "reported_at": _timestamps(seconds[fraud_idx] + delay),
            "reason_code": rng.choice(
                np.array(["fraud_card_absent", "fraud_stolen_card", "fraud_account_takeover"]),
                len(fraud_idx),
            ),
        }
    )
    return {
        "customers": customers,
        "merchants": merchants,
        "transactions": transactions,
        "chargebacks": chargebacks,
    }


def _emails(first: np.ndarray, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """first<id>@example.com, with ~0.5% typed badly ("_at_" for "@")."""
    good = np.char.add(np.char.add(first, ids.astype(str)), "@example.com")
    bad = np.char.add(np.char.add(first, ids.astype(str)), "_at_example.com")
    return np.where(rng.random(len(ids)) < 0.005, bad, good)


def _timestamps(seconds: np.ndarray) -> pa.Array:
    base = np.datetime64(START, "s")
    return pa.array(base + seconds.astype("timedelta64[s]")).cast(pa.timestamp("us"))


def generate(
    root: Path, through_day: int = DAYS, n_transactions: int = 1_000_000, seed: int = SEED
) -> dict[str, int]:
    """Write the files that have arrived by `through_day` (1-based); return counts written."""
    tables = build(n_transactions, seed)
    data = root / "data"
    (data / "transactions").mkdir(parents=True, exist_ok=True)
    (data / "chargebacks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1)
    counts = {"transaction_lines": 0, "chargeback_lines": 0}
    if not (data / "customers.csv").exists():
        duckdb.from_arrow(tables["customers"]).write_csv(str(data / "customers.csv"))
        pq.write_table(tables["merchants"], data / "merchants.parquet")
    con = duckdb.connect()
    con.register("tx", tables["transactions"])
    con.register("cb", tables["chargebacks"])
    for day in range(min(through_day, DAYS)):
        date = (START + timedelta(days=day)).date()
        counts["transaction_lines"] += _write_transactions(con, data, date, day, rng)
        counts["chargeback_lines"] += _write_day(
            con,
            data / "chargebacks" / f"{date}.jsonl",
            f"SELECT * FROM cb WHERE CAST(reported_at AS DATE) = DATE '{date}' "
            "ORDER BY reported_at",
        )
    return counts


def _write_day(con: duckdb.DuckDBPyConnection, path: Path, query: str) -> int:
    if path.exists():
        return sum(1 for _ in path.open())
    con.execute(f"COPY ({query}) TO '{path}' (FORMAT JSON, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')")
    return sum(1 for _ in path.open())


def _write_transactions(
    con: duckdb.DuckDBPyConnection, data: Path, date: object, day: int, rng: np.random.Generator
) -> int:
    path = data / "transactions" / f"{date}.jsonl"
    if path.exists():
        return sum(1 for _ in path.open())
    device = ", device_id" if day >= SCHEMA_CHANGE_DAY else ""
    # ~1% of events are delivered twice (an at-least-once upstream).
    query = f"""
        WITH day AS (SELECT * EXCLUDE (device_id){device} FROM tx
                     WHERE CAST(event_time AS DATE) = DATE '{date}')
        SELECT * FROM (SELECT * FROM day UNION ALL
                       SELECT * FROM day USING SAMPLE 1 PERCENT (bernoulli, {day}))
        ORDER BY event_time, transaction_id
    """
    _write_day(con, path, query)
    lines = path.read_text().splitlines()
    # A few broken records: an amount that is not a number, a truncated line, and a line
    # that is JSON but not an object. Victims are distinct, chosen before any edit.
    na_victim, cut_victim, insert_at = (int(i) for i in rng.choice(len(lines), 3, replace=False))
    record = json.loads(lines[na_victim])
    record["amount"] = "N/A"
    lines[na_victim] = json.dumps(record)
    lines[cut_victim] = lines[cut_victim][: len(lines[cut_victim]) // 2]
    lines.insert(insert_at, '["not", "an", "object"]')
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).parent)
    parser.add_argument("--through-day", type=int, default=DAYS)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    args = parser.parse_args()
    print(generate(args.root, args.through_day, args.transactions))


if __name__ == "__main__":
    main()
