"""Live card transactions: JSON-lines files dropped into incoming/ by the payment switch
(in production the same declaration with `assay.kafka(...)` reads a topic). `assay stream
bronze.live_transactions` keeps per-card activity over the last 10 minutes and the last
hour fresh online after every micro-batch (windows start every minute and every 5
minutes; each card is served its oldest open window so far, then the closed one)."""

import assay
from assay import Aggregation, Entity

card = Entity("card", join_keys=["card_id"], description="A payment card.")

ACTIVITY = [Aggregation(function="count"), Aggregation("amount", "sum")]

live_transactions = assay.folder_stream(
    "bronze.live_transactions",
    path="incoming/*.jsonl",
    timestamp="event_time",
    key="transaction_id",
    columns={"transaction_id": "VARCHAR", "card_id": "BIGINT", "amount": "DOUBLE"},
    windows=[
        assay.window(
            "silver.card_activity_10m",
            keys=["card_id"],
            window=assay.hopping("10m", every="1m"),
            aggregations=ACTIVITY,
            allowed_lateness="1m",
            entity=card,
            emit="update",  # served after every batch, not only when a window closes
        ),
        assay.window(
            "silver.card_activity_1h",
            keys=["card_id"],
            window=assay.hopping("1h", every="5m"),
            aggregations=ACTIVITY,
            allowed_lateness="1m",
            entity=card,
            emit="update",  # served after every batch, not only when a window closes
        ),
    ],
    owner="risk-team",
)
