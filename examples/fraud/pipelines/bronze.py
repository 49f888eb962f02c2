"""Bronze: every raw record as it arrived, plus its source file, line and ingest time."""

import assay

transactions = assay.files(
    "bronze.transactions",
    path="data/transactions/*.jsonl",
    format="jsonl",
    # Declared types: a value that does not cast (an amount of "N/A") is quarantined.
    columns={"event_time": "TIMESTAMP", "amount": "DOUBLE", "card_id": "BIGINT"},
    time_column="event_time",
    owner="payments-platform",
    tags={"pii": "card_number,ip_address", "source": "card-switch"},
    # `assay schedule` ingests new or changed files as soon as they land.
    schedule="on_arrival",
)

chargebacks = assay.files(
    "bronze.chargebacks",
    path="data/chargebacks/*.jsonl",
    format="jsonl",
    columns={"reported_at": "TIMESTAMP"},
    time_column="reported_at",
    owner="risk-team",
    schedule="on_arrival",
)

customers = assay.files(
    "bronze.customers",
    path="data/customers.csv",
    format="csv",
    columns={"customer_id": "BIGINT", "signup_date": "DATE"},
    owner="crm",
    tags={"pii": "name,email,phone"},
    schedule="on_arrival",
)

merchants = assay.files(
    "bronze.merchants", path="data/merchants.parquet", format="parquet", schedule="on_arrival"
)
