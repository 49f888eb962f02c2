"""Deterministic synthetic card-fraud data for the demo (seeded; same bytes every time).

Writes, under `data/`:
- transactions/YYYY-MM-DD.jsonl: card transactions, one file per day, with ~1% duplicate
  events, a few malformed lines and bad amounts, PII (card numbers, IPs), and from day 45 on
  a new field `device_id` (a schema change part-way through);
- chargebacks/YYYY-MM-DD.jsonl: fraud labels, filed 2-30 days after the transaction, in the
  file of the day they arrive;
- customers.csv (names, emails, phones: PII) and merchants.parquet.

Fraud happens as it does (~1.5% of transactions): a card is compromised at some moment,
often at night, and used in a burst of transactions minutes apart at risky merchants, for
several times the card's usual amount. Cardholders also make quick repeat purchases and the
odd big one, so the demo's features (per-card 1-hour counts and daily sums, 7-day means,
merchants' recent chargebacks, amount, hour) carry the signal without giving it away
(`benchmarks/fraud_signal.py` measures it: AUC ~0.94 at 1M transactions).

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
import pyarrow.compute as pc
import pyarrow.parquet as pq

START = datetime(2026, 6, 1)
DAYS = 90
SCHEMA_CHANGE_DAY = 45
SEED = 20260601
END = DAYS * 86400  # seconds after START where the data ends
FRAUD_SHARE = 0.015  # share of transactions that are fraud
NIGHT_BURST_SHARE = 0.3  # fraud bursts that start between midnight and 5am
TRIP_SHARE = 0.3  # legitimate purchases made minutes after another on the same card
BIG_PURCHASE_SHARE = 0.02  # legitimate purchases of several times the card's usual amount
# How legitimate transactions spread over the hours of the day: few at night.
DAY_PROFILE = np.array(
    [5, 4, 3, 3, 3, 5, 8, 12, 16, 18, 20, 22, 24, 22, 20, 20, 21, 23, 24, 22, 18, 14, 10, 6]
)


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
    activity = _card_activity(rng, n_transactions, n_cards, merchant_risk)
    card, merchant, seconds = activity["card"], activity["merchant"], activity["seconds"]
    amount, is_fraud = activity["amount"], activity["is_fraud"]
    octets = [rng.integers(0, 255, n_transactions) for _ in "abc"]
    transactions = pa.table(
        {
            "transaction_id": _joined("tx", np.arange(1, n_transactions + 1)),
            "event_time": _timestamps(seconds),
            "card_id": card + 1,
            "customer_id": card_owner[card],
            "card_number": pa.array(card_numbers).take(card),
            "merchant_id": merchant + 1,
            "amount": amount,
            "currency": rng.choice(
                np.array(["EUR", "GBP", "USD", "eur"]), n_transactions, p=[0.5, 0.3, 0.19, 0.01]
            ),
            "ip_address": _joined("10.", octets[0], ".", octets[1], ".", octets[2]),
            "device_id": _joined("dev", rng.integers(1, n_cards * 2, n_transactions)),
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


def _card_activity(
    rng: np.random.Generator, n_transactions: int, n_cards: int, merchant_risk: np.ndarray
) -> dict[str, np.ndarray]:
    """Every transaction's card, merchant, second, amount and fraud label, in time order.

    Each card has its own usual amount and pace. Fraud happens as it does: a card is
    compromised at some moment and used in a burst (see `_fraud_bursts`); the burst's
    transactions are the fraud. Legitimate use also has quick repeat purchases and the
    odd big one, so no single feature gives fraud away.
    """
    usual_amount = rng.lognormal(3.3, 0.6, n_cards)
    fraud = _fraud_bursts(rng, n_transactions, n_cards, merchant_risk, usual_amount)
    legit = _legit_use(
        rng, n_transactions - len(fraud["card"]), n_cards, len(merchant_risk), usual_amount
    )
    # Stable, so the same seed orders ties (same second) the same way every time.
    order = np.argsort(np.concatenate([legit["seconds"], fraud["seconds"]]), kind="stable")
    return {key: np.concatenate([legit[key], fraud[key]])[order] for key in legit}


def _legit_use(
    rng: np.random.Generator,
    n_legit: int,
    n_cards: int,
    n_merchants: int,
    usual_amount: np.ndarray,
) -> dict[str, np.ndarray]:
    """Cardholders' own transactions: mostly by day, near each card's usual amount."""
    pace = rng.gamma(1.5, 1.0, n_cards)  # some cards are used far more than others
    card = rng.choice(n_cards, n_legit, p=pace / pace.sum())
    hour = rng.choice(24, n_legit, p=DAY_PROFILE / DAY_PROFILE.sum())
    seconds = rng.integers(0, DAYS, n_legit) * 86400 + hour * 3600 + rng.integers(0, 3600, n_legit)
    # Shopping trips: some purchases follow another of the same card within half an hour.
    trip = np.flatnonzero(rng.random(n_legit) < TRIP_SHARE)
    before = rng.integers(0, n_legit, len(trip))
    card[trip] = card[before]
    seconds[trip] = np.minimum(seconds[before] + rng.integers(60, 1800, len(trip)), END - 1)
    amount = usual_amount[card] * rng.lognormal(0.0, 0.7, n_legit)
    big = rng.random(n_legit) < BIG_PURCHASE_SHARE  # a new laptop, a flight
    amount[big] *= rng.uniform(3, 10, int(big.sum()))
    return {
        "card": card,
        "merchant": rng.integers(0, n_merchants, n_legit),
        "seconds": seconds,
        "amount": _money(amount),
        "is_fraud": np.zeros(n_legit, dtype=bool),
    }


def _fraud_bursts(
    rng: np.random.Generator,
    n_transactions: int,
    n_cards: int,
    merchant_risk: np.ndarray,
    usual_amount: np.ndarray,
) -> dict[str, np.ndarray]:
    """Compromised cards: from a moment (often at night), a burst of 2-10 transactions a few
    minutes apart at risky merchants, for several times the card's usual amount; a third
    of bursts open with a small test charge."""
    sizes = 2 + rng.poisson(2.5, max(int(n_transactions * FRAUD_SHARE) // 4, 1))
    sizes = np.minimum(sizes, 10)
    sizes = sizes[: max(int(np.searchsorted(np.cumsum(sizes), n_transactions * FRAUD_SHARE)), 1)]
    n_bursts = len(sizes)
    cards = rng.choice(n_cards, n_bursts, replace=n_bursts > n_cards)
    night = rng.random(n_bursts) < NIGHT_BURST_SHARE
    start_hour = np.where(night, rng.uniform(0, 5, n_bursts), rng.uniform(0, 24, n_bursts))
    start = rng.integers(0, DAYS, n_bursts) * 86400 + (start_hour * 3600).astype(np.int64)
    burst = np.repeat(np.arange(n_bursts), sizes)
    position = np.arange(len(burst)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    gaps = np.where(position == 0, 0, 30 + rng.exponential(900, len(burst)).astype(np.int64))
    since_start = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[np.cumsum(sizes) - sizes], sizes)
    risky = merchant_risk
    amount = usual_amount[cards[burst]] * rng.lognormal(np.log(2.5), 0.9, len(burst))
    test_charge = (position == 0) & (rng.random(len(burst)) < 1 / 3)
    amount[test_charge] = rng.uniform(0.5, 5.0, int(test_charge.sum()))
    return {
        "card": cards[burst],
        "merchant": rng.choice(len(merchant_risk), len(burst), p=risky / risky.sum()),
        "seconds": np.minimum(start[burst] + since_start, END - 1),
        "amount": _money(amount),
        "is_fraud": np.ones(len(burst), dtype=bool),
    }


def _money(amount: np.ndarray) -> np.ndarray:
    """Amounts in cents, at least one cent."""
    return np.maximum(np.round(amount, 2), 0.01)


def _joined(*parts: str | np.ndarray) -> pa.Array:
    """Strings and integer arrays joined element-wise, as Arrow strings (fast at 1M rows)."""
    return pc.binary_join_element_wise(
        *[part if isinstance(part, str) else pa.array(part).cast(pa.string()) for part in parts],
        "",
    )


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
