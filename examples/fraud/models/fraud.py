"""The fraud model: trained by `assay run` whenever transactions or chargebacks change.

Each example is a transaction since July; its label is whether a chargeback was filed
against it. Every fraud is kept and one legitimate transaction in four (by a hash of its
id, so the same ones every run): a quarter of the rows to join and fit, and ROC AUC, the
metric, does not change when one class is sampled uniformly. The features are the
`fraud_model` service's, joined as of the transaction's time; the amount and the hour
come with the transaction itself. The last 14 days of
transactions are the evaluation slice; the model is fitted on the days before them.
"""

import assay


@assay.model(
    "fraud_model",
    labels="""
        SELECT t.card_id, t.merchant_id, t.amount, hour(t.event_time) AS hour,
               t.event_time AS event_timestamp, c.chargeback_id IS NOT NULL AS is_fraud
        FROM silver.transactions t LEFT JOIN silver.chargebacks c USING (transaction_id)
        WHERE t.event_time >= TIMESTAMP '2026-07-01'
          AND (c.chargeback_id IS NOT NULL OR hash(t.transaction_id) % 4 = 0)
    """,
    features="fraud_model",
    label="is_fraud",
    timestamp="event_timestamp",
    metric="roc_auc",
    holdout="14d",
    schedule="on_upstream",
    owner="risk-team",
)
def fraud_model(X, y):
    """Gradient-boosted trees on the transaction and its card's and merchant's history."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(X, y)
