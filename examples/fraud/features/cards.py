"""Features of cards and merchants over the gold tables."""

from assay import Aggregation, Entity, FeatureService, FeatureView

card = Entity("card", join_keys=["card_id"], description="A payment card.")
merchant = Entity("merchant", join_keys=["merchant_id"], description="A merchant.")

card_daily = FeatureView(
    name="card_daily",
    entities=[card],
    source="gold.card_daily",
    timestamp="event_time",  # the end of the day: when the day's aggregate is known
    ttl="30d",
    features=[
        "txn_count_1d",
        "amount_sum_1d",
        "amount_max_1d",
        "distinct_merchants_1d",
        "txn_count_7d",
        "amount_mean_7d",
    ],
    owner="risk-team",
    tags={"pii": "false"},
)

merchant_daily = FeatureView(
    name="merchant_daily",
    entities=[merchant],
    source="gold.merchant_daily",
    timestamp="event_time",  # end of the day, as for cards
    ttl="30d",
    features=["txn_count", "amount_sum", "chargebacks_30d"],
    owner="risk-team",
)

# Declared once over the transactions themselves; assay computes the windows exactly at
# every training row's timestamp and, on materialization, as of the materialization time.
card_activity = FeatureView(
    name="card_activity",
    entities=[card],
    source="silver.transactions",
    timestamp="event_time",
    aggregations=[
        Aggregation(function="count", time_window="1h"),
        Aggregation(function="count", time_window="1d"),
        Aggregation("amount", "sum", "1d"),
        Aggregation("merchant_id", "count_distinct", "7d"),
    ],
    owner="risk-team",
)

fraud_model = FeatureService(
    name="fraud_model",
    features=[
        "card_daily:txn_count_7d",
        "card_daily:amount_mean_7d",
        "card_daily:amount_max_1d",
        "merchant_daily:chargebacks_30d",
        "card_activity:count_1h",
        "card_activity:amount_sum_1d",
    ],
)
