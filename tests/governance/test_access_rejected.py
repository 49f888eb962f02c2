"""Quarantine, dead-letter and late tables read under their dataset's policy (issue 17,
finding 1), on the fraud example: its generator types ~0.5% of emails badly, which the
customers contract quarantines with the clear record, writes malformed transaction lines,
and its live stream gets a broken line (dead letter) and a straggler (late rows).

The oracle is the raw Delta tables read with deltalake and pandas (what is stored) and
hashlib (the `hash` mask), never assay's reader.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

import assay
from assay.config import RoleSettings
from assay.errors import AccessDeniedError
from assay.governance.access import AccessPolicy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"
sys.path.insert(0, str(EXAMPLE))

import generate  # noqa: E402
import live  # noqa: E402

#: The third arrival's file: the stream's row filter keeps only its rows.
THIRD = "incoming/arrival-003.jsonl"

ROLES = {
    "analyst": {
        "principals": ["ann"],
        "grants": [
            "gold.*",
            "silver.customers",
            "silver.transactions",
            "bronze.live_transactions",
            "quarantine.*",
            "deadletter.*",
            "late.*",
        ],
        "masks": {"*.email": "hash", "bronze.live_transactions.card_id": "hash"},
        "row_filters": {
            "silver.customers": "country = 'FR'",
            "bronze.live_transactions": f"_partition = '{THIRD}'",
        },
    },
    "ops": {"principals": ["otto"], "grants": ["quarantine.*", "deadletter.*", "late.*"]},
    "dpo": {"principals": ["dora"], "grants": ["*"], "classifications": ["*"]},
}


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fraud example run, its live stream fed five arrivals (the last two poisoned), and
    the roles above added to its assay.yaml."""
    root = tmp_path_factory.mktemp("fraud_rejected")
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    generate.generate(root, through_day=60, n_transactions=6000)
    project = assay.Project(root)
    assert project.run().ok
    for arrival in range(5):
        live.write_arrival(root, 300, minute=10 * arrival, seed=arrival, poison=arrival >= 3)
        project.stream("bronze.live_transactions", until_idle=True)
    config = yaml.safe_load((root / "assay.yaml").read_text())
    config["roles"] = ROLES
    (root / "assay.yaml").write_text(yaml.safe_dump(config))
    return root


def _stored(root: Path, table: str) -> pd.DataFrame:
    layer, name = table.split(".")
    return DeltaTable(str(root / "warehouse" / layer / name)).to_pandas()


def _as(monkeypatch: pytest.MonkeyPatch, root: Path, user: str) -> assay.Project:
    monkeypatch.setenv("ASSAY_USER", user)
    return assay.Project(root)


def test_the_example_holds_rejected_rows_of_each_family(fraud: Path) -> None:
    customers = _stored(fraud, "quarantine.silver_customers")
    assert len(customers) > 0 and customers["raw_record"].str.contains("_at_example").all()
    assert len(_stored(fraud, "quarantine.bronze_transactions")) > 0
    assert len(_stored(fraud, "deadletter.bronze_live_transactions")) == 2
    assert len(_stored(fraud, "late.silver_card_activity_10m")) > 0


def test_raw_records_are_denied_to_a_role_that_reads_the_dataset_masked(
    fraud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _as(monkeypatch, fraud, "ann")
    for column in ("raw_record", "reason", "batch_key"):
        with pytest.raises(AccessDeniedError) as caught:
            project.sql(f"SELECT {column} FROM quarantine.silver_customers")
        text = str(caught.value)
        assert "'analyst'" in text and "quarantine.silver_customers" in text
        assert f"'{column}'" in text and "silver.customers" in text
        assert "masked email" in text and "country = 'FR'" in text
        assert caught.value.where == f"quarantine.silver_customers.{column}"
    with pytest.raises(AccessDeniedError, match="may not read column"):
        project.table("quarantine.silver_customers")  # every column: the raw ones too
    with pytest.raises(AccessDeniedError, match="'raw_record'"):
        project.sql("SELECT count(*) FROM quarantine.silver_customers WHERE raw_record LIKE '%'")


def test_metadata_columns_stay_readable_and_complete(
    fraud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _stored(fraud, "quarantine.silver_customers")
    project = _as(monkeypatch, fraud, "ann")
    seen = project.sql(
        "SELECT rule, count(*) AS n FROM quarantine.silver_customers GROUP BY rule"
    ).to_pandas()
    expected = stored.groupby("rule").size()
    assert dict(zip(seen["rule"], seen["n"], strict=True)) == expected.to_dict()


def test_a_grant_on_the_quarantine_alone_is_not_enough(
    fraud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _as(monkeypatch, fraud, "ann")  # no grant on bronze.transactions
    with pytest.raises(AccessDeniedError) as caught:
        project.sql("SELECT rule FROM quarantine.bronze_transactions")
    assert "no grant on bronze.transactions" in str(caught.value)
    assert "quarantine.bronze_transactions" in str(caught.value)
    ops = _as(monkeypatch, fraud, "otto")  # quarantine.*, deadletter.*, late.*: no dataset
    for table in (
        "quarantine.silver_customers",
        "deadletter.bronze_live_transactions",
        "late.silver_card_activity_10m",
    ):
        with pytest.raises(AccessDeniedError, match=r"role 'ops' has no grant on"):
            ops.sql(f"SELECT count(*) FROM {table}")


def test_a_role_reading_the_dataset_as_stored_reads_the_raw_records(
    fraud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _stored(fraud, "quarantine.silver_customers")
    project = _as(monkeypatch, fraud, "dora")
    seen = project.sql("SELECT raw_record, reason FROM quarantine.silver_customers").to_pandas()
    assert sorted(seen["raw_record"]) == sorted(stored["raw_record"])
    assert sorted(seen["reason"]) == sorted(stored["reason"])


def test_dead_letters_of_a_stream_are_governed_as_the_stream(
    fraud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _as(monkeypatch, fraud, "ann")  # masks card_id, keeps the third file's rows
    with pytest.raises(AccessDeniedError) as caught:
        project.sql("SELECT raw_record FROM deadletter.bronze_live_transactions")
    assert "bronze.live_transactions" in str(caught.value)
    assert "deadletter.bronze_live_transactions" in str(caught.value)
    with pytest.raises(AccessDeniedError, match="'_key'"):
        project.sql("SELECT _key FROM deadletter.bronze_live_transactions")
    seen = project.sql("SELECT rule FROM deadletter.bronze_live_transactions").to_pandas()
    stored = _stored(fraud, "deadletter.bronze_live_transactions")
    kept = stored[stored["_partition"] == THIRD]  # dead letters hold the filter's column
    assert 0 < len(kept) < len(stored)
    assert sorted(seen["rule"]) == sorted(kept["rule"])
    dora = _as(monkeypatch, fraud, "dora")
    raw = dora.sql("SELECT raw_record FROM deadletter.bronze_live_transactions").to_pandas()
    assert sorted(raw["raw_record"]) == sorted(stored["raw_record"])
    assert all("live-broken" in r for r in raw["raw_record"])


def test_late_rows_get_the_streams_masks_and_row_filter(
    fraud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _stored(fraud, "late.silver_card_activity_10m")
    project = _as(monkeypatch, fraud, "ann")
    seen = project.sql(
        "SELECT transaction_id, card_id, amount FROM late.silver_card_activity_10m"
    ).to_pandas()
    kept = stored[stored["_partition"] == THIRD]
    assert 0 < len(kept) < len(stored)  # the filter keeps some rows, not all
    expected = sorted(
        (t, hashlib.sha256(str(c).encode()).hexdigest(), a)
        for t, c, a in zip(kept["transaction_id"], kept["card_id"], kept["amount"], strict=True)
    )
    got = sorted(zip(seen["transaction_id"], seen["card_id"], seen["amount"], strict=True))
    assert got == expected
    dora = _as(monkeypatch, fraud, "dora")
    everything = dora.sql("SELECT count(*) AS n FROM late.silver_card_activity_10m")
    assert everything["n"][0].as_py() == len(stored)


def test_the_project_names_each_rejected_table_and_its_dataset(
    fraud: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.governance.access_rejected import rejected_tables

    project = _as(monkeypatch, fraud, "dora")
    dag = project.runtime.dag
    found = rejected_tables(dag[n] for n in dag.order())
    assert found["quarantine.silver_customers"] == "silver.customers"
    assert found["deadletter.bronze_live_transactions"] == "bronze.live_transactions"
    assert found["late.silver_card_activity_1h"] == "bronze.live_transactions"


def test_a_dataset_not_built_denies_the_raw_text() -> None:
    import pyarrow as pa

    policy = AccessPolicy(
        {"all": RoleSettings(principals=["x"], grants=["*"], classifications=["*"])}
    )
    schema = pa.schema([("rule", pa.string()), ("raw_record", pa.string())])
    access = policy.table("all", "quarantine.my_layer_t", schema)  # schemas: none known
    assert access.governed_by == "my.layer_t" and access.denied == {"raw_record": "raw record"}
    with pytest.raises(AccessDeniedError, match="is not built"):
        access.check_columns(["raw_record"], schema)
    access.check_columns(["rule"], schema)  # the metadata stays readable


def test_rejected_rows_on_each_engine(
    fraud: Path, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same narrowing on DuckDB and Spark: late rows masked and filtered as the stream,
    quarantined raw records refused."""
    from assay.engines import get_engine
    from assay.reader import Reader

    project = _as(monkeypatch, fraud, "ann")
    policy = AccessPolicy.for_runtime(project.runtime)
    reader = Reader(project.warehouse, get_engine(engine_name, project.warehouse), policy=policy)
    stored = _stored(fraud, "late.silver_card_activity_1h")
    kept = stored[stored["_partition"] == THIRD]
    assert 0 < len(kept) < len(stored)
    got = reader.sql("SELECT transaction_id, card_id FROM late.silver_card_activity_1h")
    expected = sorted(
        (t, hashlib.sha256(str(c).encode()).hexdigest())
        for t, c in zip(kept["transaction_id"], kept["card_id"], strict=True)
    )
    pairs = zip(got["transaction_id"].to_pylist(), got["card_id"].to_pylist(), strict=True)
    assert sorted(pairs) == expected
    with pytest.raises(AccessDeniedError, match="'raw_record'"):
        reader.sql("SELECT raw_record FROM quarantine.silver_customers")
