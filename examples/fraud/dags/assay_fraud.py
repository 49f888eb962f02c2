"""The fraud example as Airflow 3 DAGs (see the README's Airflow section).

Point Airflow's DAG folder here (`AIRFLOW__CORE__DAGS_FOLDER=examples/fraud/dags`), or copy
this file into yours and set ASSAY_FRAUD_PROJECT to the project folder. It defines:

- assay_fraud: every dataset, run by hand (`airflow dags trigger assay_fraud`);
- assay_fraud__arrivals: the file sources (schedule='on_arrival'), polled every 5 minutes;
- assay_fraud__<layer.name>: each transform (schedule='on_upstream'), run when one of its
  inputs' assets (`assay://fraud/<layer.name>`) gets new data;
- assay_fraud__training.fraud_model: the point-in-time training set of the `fraud_model`
  feature service, rebuilt when a feature view's source table commits.
"""

import os
from pathlib import Path

from assay.integrations.airflow import assay_dags, training_set_dag

PROJECT = os.environ.get("ASSAY_FRAUD_PROJECT", str(Path(__file__).resolve().parents[1]))

# Labels: every transaction since July, fraudulent when a chargeback names it.
LABELS = """
SELECT t.card_id, t.merchant_id, t.amount, t.event_time AS event_timestamp,
       c.chargeback_id IS NOT NULL AS is_fraud
FROM silver.transactions t LEFT JOIN silver.chargebacks c USING (transaction_id)
WHERE t.event_time >= TIMESTAMP '2026-07-01'
"""

globals().update(assay_dags(PROJECT))
training = training_set_dag(PROJECT, "fraud_model", LABELS, "fraud_model")
