"""The fraud pipeline's transformations as a plain pandas script: the benchmark's baseline.

Same inputs and outputs as examples/fraud: parse the JSON lines (setting aside malformed
records and bad amounts), deduplicate transactions, build per-card daily aggregates with a
7-day window, chargebacks joined to their transactions, and per-merchant daily chargeback
rates; write each result to Parquet. Prints a JSON line with row counts and the in-memory
size of the parsed raw transactions.

Usage: python benchmarks/pandas_fraud.py PROJECT_DIR OUT_DIR
"""

from __future__ import annotations

import glob
import json
import os
import sys

import pandas as pd


def read_jsonl(pattern: str) -> tuple[pd.DataFrame, int]:
    """Parse each file's lines (setting aside malformed ones) into a frame; concat them."""
    frames, bad = [], 0
    for path in sorted(glob.glob(pattern)):
        records = []
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    bad += 1
                    continue
                if isinstance(record, dict):
                    records.append(record)
                else:
                    bad += 1
        frame = pd.DataFrame.from_records(records)
        frame["_source_file"] = path
        frames.append(frame)
    return pd.concat(frames, ignore_index=True), bad


def main(root: str, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    tx, malformed = read_jsonl(os.path.join(root, "data/transactions/*.jsonl"))
    raw_bytes = int(tx.memory_usage(deep=True).sum())
    tx["amount"] = pd.to_numeric(tx["amount"], errors="coerce")
    tx["event_time"] = pd.to_datetime(tx["event_time"], errors="coerce")
    bad_values = tx["amount"].isna() | tx["event_time"].isna()
    tx = tx[~bad_values]
    tx.to_parquet(os.path.join(out, "bronze_transactions.parquet"))

    silver = tx.drop_duplicates("transaction_id", keep="first").copy()
    silver["currency"] = silver["currency"].str.upper()
    silver.to_parquet(os.path.join(out, "silver_transactions.parquet"))

    silver["day"] = silver["event_time"].dt.floor("D")
    daily = (
        silver.groupby(["card_id", "day"])
        .agg(
            txn_count_1d=("transaction_id", "size"),
            amount_sum_1d=("amount", "sum"),
            amount_max_1d=("amount", "max"),
            distinct_merchants_1d=("merchant_id", "nunique"),
        )
        .reset_index()
        .sort_values(["card_id", "day"])
    )
    rolled = (
        daily.set_index("day")
        .groupby("card_id")[["txn_count_1d", "amount_sum_1d"]]
        .rolling("7D")
        .sum()
        .reset_index()
    )
    daily = daily.merge(
        rolled.rename(columns={"txn_count_1d": "txn_count_7d", "amount_sum_1d": "amount_sum_7d"}),
        on=["card_id", "day"],
    )
    daily["amount_mean_7d"] = daily["amount_sum_7d"] / daily["txn_count_7d"]
    daily["event_time"] = daily["day"] + pd.Timedelta(days=1)
    daily.to_parquet(os.path.join(out, "gold_card_daily.parquet"))

    cb, _ = read_jsonl(os.path.join(root, "data/chargebacks/*.jsonl"))
    cb["reported_at"] = pd.to_datetime(cb["reported_at"])
    cb = cb.drop_duplicates("chargeback_id").merge(
        silver[["transaction_id", "event_time", "card_id", "merchant_id"]].rename(
            columns={"event_time": "transaction_time"}
        ),
        on="transaction_id",
    )
    cb.to_parquet(os.path.join(out, "silver_chargebacks.parquet"))

    flagged = silver.merge(
        cb[["transaction_id"]].assign(is_chargeback=1), on="transaction_id", how="left"
    )
    merchant = (
        flagged.groupby(["merchant_id", "day"])
        .agg(
            txn_count=("transaction_id", "size"),
            amount_sum=("amount", "sum"),
            chargebacks=("is_chargeback", "count"),
        )
        .reset_index()
    )
    merchant["chargeback_rate"] = merchant["chargebacks"] / merchant["txn_count"]
    merchant.to_parquet(os.path.join(out, "gold_merchant_daily.parquet"))

    customers = pd.read_csv(os.path.join(root, "data/customers.csv"))
    customers.drop_duplicates("customer_id", keep="last").to_parquet(
        os.path.join(out, "silver_customers.parquet")
    )
    print(
        json.dumps(
            {
                "silver_transactions": len(silver),
                "card_daily": len(daily),
                "merchant_daily": len(merchant),
                "quarantined": malformed + int(bad_values.sum()),
                "raw_bytes": raw_bytes,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
