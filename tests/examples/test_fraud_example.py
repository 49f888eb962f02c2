"""The fraud example end to end on a small seeded data set: counts, quarantine, increments."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import assay
from tests.helpers import VOLATILE, checksum

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"
sys.path.insert(0, str(EXAMPLE))

import generate  # noqa: E402

N = 30_000


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fraud")
    shutil.copy(EXAMPLE / "assay.yaml", root)
    shutil.copytree(EXAMPLE / "pipelines", root / "pipelines")
    shutil.copytree(EXAMPLE / "contracts", root / "contracts")
    return root


def _lines(root: Path, folder: str) -> int:
    return sum(
        1 for p in (root / "data" / folder).glob("*.jsonl") for line in p.open() if line.strip()
    )


def test_phases_ingest_only_new_data_and_balance_rows(fraud: Path) -> None:
    generate.generate(fraud, through_day=60, n_transactions=N)
    project = assay.Project(fraud)
    first = project.run()
    assert first.ok, [r.error for r in first.failed]
    bronze = first.result("bronze.transactions")
    assert bronze.rows_in == _lines(fraud, "transactions")
    # 3 broken records per day file: a truncated line, a non-object line, an "N/A" amount.
    assert bronze.rows_quarantined == 3 * 60
    assert bronze.rows_in == bronze.rows_written + bronze.rows_quarantined
    assert first.result("silver.transactions").intervals == 60

    generate.generate(fraud, through_day=90, n_transactions=N)
    second = assay.Project(fraud).run()
    assert second.ok
    assert second.result("bronze.transactions").rows_in == (
        _lines(fraud, "transactions") - bronze.rows_in
    )
    assert second.result("silver.transactions").intervals == 30
    # Late chargebacks change earlier days' merchant rates: those intervals are recomputed.
    assert second.result("gold.merchant_daily").intervals > 30

    third = assay.Project(fraud).run()
    assert third.commits == 0


def test_tables_match_a_direct_computation(fraud: Path) -> None:
    project = assay.Project(fraud)
    (raw_total,) = (
        project.sql("SELECT count(DISTINCT transaction_id) FROM bronze.transactions")
        .to_pylist()[0]
        .values()
    )
    (silver_total,) = (
        project.sql("SELECT count(*) FROM silver.transactions").to_pylist()[0].values()
    )
    assert silver_total == raw_total  # deduplicated, nothing lost
    check = project.sql("""
        SELECT count(*) AS bad FROM gold.card_daily g JOIN (
            SELECT card_id, date_trunc('day', event_time) AS day, count(*) AS n, sum(amount) AS s
            FROM silver.transactions GROUP BY ALL) d USING (card_id, day)
        WHERE g.txn_count_1d <> d.n OR abs(g.amount_sum_1d - d.s) > 1e-6
    """).to_pylist()[0]
    assert check["bad"] == 0
    cards = project.sql("SELECT count(*) AS n FROM gold.card_daily").to_pylist()[0]["n"]
    pairs = project.sql(
        "SELECT count(DISTINCT (card_id, date_trunc('day', event_time))) AS n "
        "FROM silver.transactions"
    ).to_pylist()[0]["n"]
    assert cards == pairs
    # The schema change on day 45: device_id exists and is null only before it.
    nulls = project.sql("""
        SELECT min(event_time) FILTER (WHERE device_id IS NOT NULL) AS first_device
        FROM silver.transactions""").to_pylist()[0]
    assert str(nulls["first_device"]).startswith("2026-07-16")


def test_contracts_catch_the_injected_defects(fraud: Path) -> None:
    project = assay.Project(fraud)
    bad_emails = project.sql(
        "SELECT count(*) AS n FROM bronze.customers WHERE email NOT LIKE '%@%'"
    ).to_pylist()[0]["n"]
    assert bad_emails > 0
    rejected = project.sql(
        "SELECT rule, count(*) AS n FROM quarantine.silver_customers GROUP BY rule"
    ).to_pylist()
    assert rejected == [{"rule": "format(email)", "n": bad_emails}]
    customers = project.table("silver.customers").num_rows
    assert customers + bad_emails == project.table("bronze.customers").num_rows
    with project.catalog.engine.connect() as con:
        warned = {
            row[0]
            for row in con.execute(
                sa.text("SELECT rule FROM assay_check_results WHERE status = 'warn'")
            )
        }
    assert "duplicate deliveries" not in warned  # ~1% duplicates: within the 2% tolerance
    assert "column(device_id)" in warned  # the schema change on day 45, not in the contract
    results = {r.rule: r for r in project.check(["bronze.transactions"])}
    duplicates = results["duplicate deliveries"]
    assert duplicates.status == "pass" and 0.5 < (duplicates.observed or 0) < 2


def test_live_phase_streams_exactly_once_and_serves_fresh_activity(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import io

    import live
    from rich.console import Console

    root = tmp_path_factory.mktemp("live")
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    shutil.copy(EXAMPLE / "assay.yaml", root)
    project = assay.Project(root)
    output = io.StringIO()
    live.live_phase(project, Console(file=output, width=200))
    # 6 arrivals of 4,000, plus one straggler; the one broken line is a dead letter.
    [status] = project.stream_status()
    assert project.row_count("bronze.live_transactions") == 6 * 4000 + 1
    assert status.dead_lettered == 1 and status.late > 0
    assert "fresh online features" in output.getvalue()
    # Every closed 10-minute window equals a batch count over the streamed rows (late ones
    # excluded: the straggler arrived after its windows closed).
    bad = project.sql("""
        SELECT count(*) AS bad FROM silver.card_activity_10m w
        WHERE w.count <> (SELECT count(*) FROM bronze.live_transactions t
                          WHERE t.card_id = w.card_id AND t.transaction_id <> 'live-late'
                            AND t.event_time >= w.window_start AND t.event_time < w.window_end)
    """).to_pylist()
    assert bad == [{"bad": 0}]


def test_live_transactions_through_kafka_give_the_same_tables(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, kafka_topic: Any
) -> None:
    import live

    topic = kafka_topic(partitions=2)
    assert live.produce_to_kafka(kafka_bootstrap, topic, arrivals=6, per_arrival=4000) == 24_002
    root = tmp_path_factory.mktemp("live_kafka")
    (root / "pipelines").mkdir()
    declaration = (EXAMPLE / "pipelines" / "live.py").read_text()
    kafka = declaration.replace(
        'assay.folder_stream(\n    "bronze.live_transactions",\n    path="incoming/*.jsonl",',
        f'assay.kafka(\n    "bronze.live_transactions",\n    topic="{topic}",\n'
        f'    bootstrap_servers="{kafka_bootstrap}",',
    )
    assert kafka != declaration
    (root / "pipelines" / "live.py").write_text(kafka)
    shutil.copy(EXAMPLE / "assay.yaml", root)
    project = assay.Project(root)
    stats = project.stream("bronze.live_transactions", until_idle=True)
    assert (stats.rows_in, stats.written, stats.dead_lettered) == (24_002, 24_001, 1)
    assert project.row_count("silver.card_activity_10m") > 0


#: Columns that differ between runs: ids and when each run wrote a row.
RUN_COLUMNS = frozenset({*VOLATILE, "rejected_at"})


def test_the_fraud_pipeline_gives_the_same_tables_and_training_set_on_spark(
    tmp_path: Path, spark_jars: str
) -> None:
    """Both engines build every table from the same files; the tables (quarantine too) and a
    point-in-time training set agree row for row (floats to 6 decimals: engines sum in
    different orders)."""
    roots = {}
    for engine in ("duckdb", "spark"):
        root = roots[engine] = tmp_path / engine
        root.mkdir()
        for folder in ("pipelines", "contracts", "features"):
            shutil.copytree(EXAMPLE / folder, root / folder)
        shutil.copy(EXAMPLE / "assay.yaml", root)
    generate.generate(roots["duckdb"], through_day=90, n_transactions=8_000)
    shutil.copytree(roots["duckdb"] / "data", roots["spark"] / "data")
    projects = {e: assay.Project(root, engine=e) for e, root in roots.items()}
    results = {e: p.run() for e, p in projects.items()}
    assert all(r.ok for r in results.values()), {e: r.failed for e, r in results.items()}
    assert projects["spark"].engine.name == "spark"

    duck, spark = projects["duckdb"], projects["spark"]
    tables = duck.warehouse.list_tables()
    assert tables == spark.warehouse.list_tables() and "gold.card_daily" in tables
    for name in tables:
        got, want = spark.table(name), duck.table(name)
        assert checksum(got, RUN_COLUMNS, 6) == checksum(want, RUN_COLUMNS, 6), name

    labels = duck.sql(
        "SELECT t.card_id, t.merchant_id, t.amount, t.event_time AS event_timestamp, "
        "c.chargeback_id IS NOT NULL AS is_fraud FROM silver.transactions t "
        "LEFT JOIN silver.chargebacks c USING (transaction_id) ORDER BY t.transaction_id"
    )
    sets = {e: p.features.training_set(labels, "fraud_model") for e, p in projects.items()}
    assert sets["duckdb"].num_rows == labels.num_rows
    assert checksum(sets["duckdb"], digits=6) == checksum(sets["spark"], digits=6)
