"""The 18 official ODCS example contracts as a conformance suite: each loads, binds to Delta
tables built for the objects it describes (good rows, then bad rows), and every rule's
outcome is what the standard's text (specs/odcs/text) says, computed here independently
(pandas or plain Python over the same rows)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import yaml

from assay.catalog import Catalog
from assay.contracts import ContractError, load_contract_file
from assay.contracts.enforce import enforce
from assay.engines import get_engine
from assay.tables import Warehouse
from tests.contracts.odcs_support import (
    EXAMPLES,
    Lake,
    adventureworks_table,
    example,
    failing,
)

ALL = sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.yaml"))


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    warehouse = Warehouse(str(tmp_path / "wh"))
    return Lake(warehouse, get_engine("duckdb", warehouse), Catalog("sqlite://"))


def test_the_suite_has_all_18_official_examples() -> None:
    assert len(ALL) == 18


@pytest.mark.parametrize("relative", ALL)
def test_every_example_loads(relative: str) -> None:
    contracts = load_contract_file(example(relative))
    document = yaml.safe_load(example(relative).read_text())
    objects = document.get("schema") or []
    assert [c.object_name for c in contracts if c.object_name] == [o["name"] for o in objects]


COMPOSITE_FK = (
    "foreignKey(tbl.rcvr_id, tbl.rcvr_cntry_code -> receivers.id, receivers.country_code)"
)


def test_full_example(lake: Lake) -> None:
    """Property physicalName, composite foreign keys, a key both unique and part of a
    composite primary key, rowCount, and an SLA bound to the object its element names."""
    datasets = ["silver.tbl_1", "silver.receivers_master", "bronze.receiver_types", "gold.tab1"]
    contracts = lake.bind("all/full-example.odcs.yaml", datasets)
    assert {c.dataset for c in contracts} == set(datasets) - {"bronze.receiver_types"}
    sla = {c.dataset: [r.name for r in c.batch_rules if r.metric == "latency"] for c in contracts}
    assert sla == {
        "silver.tbl_1": [],
        "silver.receivers_master": [],
        "gold.tab1": ["latency(txn_ref_dt)"],
    }
    lake.put("bronze.receiver_types", pa.table({"type_code": ["person", "business"]}))
    receivers = pd.DataFrame(
        {
            "id": ["r1", "r2", "r3"],
            "country_code": ["DE", "DE", "FR"],
            "receiver_name": ["a", "b", "c"],
            "receiver_type": ["person", "business", None],
        }
    )
    tbl = pd.DataFrame(
        {
            "txn_ref_dt": [date(2024, 1, d) for d in (1, 2, 3, 4)],  # physicalName of the property
            "rcvr_id": ["r1", "r2", "r3", None],
            "rcvr_cntry_code": ["DE", "DE", "FR", "FR"],
        }
    )
    today = datetime.now(UTC).date()
    lake.put("gold.tab1", pa.table({"txn_ref_dt": [today - timedelta(days=1)]}))
    lake.put("silver.receivers_master", pa.Table.from_pandas(receivers))
    lake.put("silver.tbl_1", pa.Table.from_pandas(tbl))
    got = failing(lake.check("silver.receivers_master", contracts))
    assert got == {}
    got = failing(lake.check("silver.tbl_1", contracts))
    # rowCount must be > 1,000,000; the null rcvr_id is a primary-key null, not an orphan.
    assert got == {"rowCount": 4, "required(rcvr_id)": 1}
    assert failing(lake.check("gold.tab1", contracts)) == {}

    # Bad rows: a receiver key repeated, a receiver type nobody defines, orphan payments.
    bad_receivers = pd.concat([receivers, receivers.iloc[[0]]]).assign(
        receiver_type=["person", "business", "alien", "person"]
    )
    bad_tbl = tbl.assign(rcvr_id=["r1", "r9", "r3", "r1"], rcvr_cntry_code=["DE", "DE", "DE", None])
    lake.put("silver.receivers_master", pa.Table.from_pandas(bad_receivers))
    lake.put("silver.tbl_1", pa.Table.from_pandas(bad_tbl))
    lake.put("gold.tab1", pa.table({"txn_ref_dt": [today - timedelta(days=5)]}))
    types = {"person", "business"}
    orphans_type = int((~bad_receivers.receiver_type.isin(types)).sum())
    pairs = set(zip(bad_receivers.id, bad_receivers.country_code, strict=True))
    ids = set(bad_receivers.id)
    complete = bad_tbl.dropna(subset=["rcvr_id", "rcvr_cntry_code"])
    orphan_pairs = sum(
        (i, c) not in pairs for i, c in zip(complete.rcvr_id, complete.rcvr_cntry_code, strict=True)
    )
    orphan_ids = int((~bad_tbl.rcvr_id.isin(ids)).sum())
    duplicate_keys = len(bad_receivers) - len(pairs)
    assert (orphans_type, orphan_pairs, orphan_ids, duplicate_keys) == (1, 2, 1, 1)
    got = failing(lake.check("silver.receivers_master", contracts))
    assert got == {
        "primaryKey(id, country_code)": duplicate_keys,
        "unique(id)": 1,
        "foreignKey(receivers.receiver_type -> receiver_types.type_code)": orphans_type,
    }
    got = failing(lake.check("silver.tbl_1", contracts))
    assert got == {
        "rowCount": 4,
        "primaryKey(rcvr_id)": 1,
        "nullValues(rcvr_cntry_code)": 1,
        COMPOSITE_FK: orphan_pairs,
        "foreignKey(tbl.rcvr_id -> receivers.id)": orphan_ids,
    }
    latency = lake.check("gold.tab1", contracts)["latency(txn_ref_dt)"]
    assert latency.status == "warn" and latency.observed and latency.observed > 4 * 86400


def test_adventureworks_composite_keys_are_one_check_each(lake: Lake) -> None:
    """23 of the 68 AdventureWorks tables have composite primary keys; each is unique as a
    tuple while its columns repeat values, so each table passes (per-column uniqueness
    blocked all 23)."""
    path = example("all/postgresql-adventureworks-contract.odcs.yaml")
    objects = yaml.safe_load(path.read_text())["schema"]
    composite = [
        o["name"] for o in objects if sum(bool(p.get("primaryKey")) for p in o["properties"]) > 1
    ]
    assert len(objects) == 68 and len(composite) == 23
    datasets = [f"silver.{o['name']}" for o in objects]
    contracts = lake.bind("all/postgresql-adventureworks-contract.odcs.yaml", datasets)
    tables = {o["name"]: adventureworks_table(o) for o in objects}
    for o in objects:
        lake.put(f"silver.{o['name']}", tables[o["name"]])
    failures = {}
    for o in objects:
        results = lake.check(f"silver.{o['name']}", contracts)
        keys = [p["name"] for p in o["properties"] if p.get("primaryKey")]
        assert [r for r in results if r.startswith("unique(")] == []
        assert results[f"primaryKey({', '.join(keys)})"].status == "pass"
        failures.update({f"{o['name']}.{k}": v for k, v in failing(results).items()})
    # The only failures: `shift`'s two time-of-day columns, which the example declares as
    # logicalType date (physicalType time); stored as text 'HH:MM:SS', they are no dates.
    shifts = tables["shift"].num_rows
    assert failures == {"shift.type(starttime)": shifts, "shift.type(endtime)": shifts}

    # Bad rows: one repeated key tuple in every composite-key table.
    for name in composite:
        table = tables[name]
        lake.put(f"silver.{name}", pa.concat_tables([table, table.slice(0, 1)]))
        keys = [
            p["name"]
            for p in next(o for o in objects if o["name"] == name)["properties"]
            if p.get("primaryKey")
        ]
        results = lake.check(f"silver.{name}", contracts)
        frame = pa.concat_tables([table, table.slice(0, 1)]).to_pandas()
        assert (
            results[f"primaryKey({', '.join(keys)})"].observed
            == int(frame.duplicated(keys).sum())
            == 1
        )


ALL_TYPES_GOOD = {
    "account_id": "ACC12345678",
    "txn_ref_date": date(2020, 6, 1),
    "txn_timestamp": datetime(2020, 6, 1, 12),
    "txn_timestamp_tz": datetime(2019, 12, 31, 14, tzinfo=UTC),  # = 2020-01-01 00:00+10:00
    "txn_time": "23:59:59",
    "amount": 0.0,
    "age": 18,
    "is_open": True,
    "latest_txns": [1, 2, 3],
    "customer_details": '{"num_children": 2, "date_of_birth": "1990-01-01"}',
}
ALL_TYPES_BAD = [
    {"account_id": "XACC1234567"},  # 11 long, but ACC is followed by 7 digits only
    {"account_id": "ACC123456789"},  # the pattern matches within it (search); too long
    {"txn_ref_date": date(2020, 1, 1)},  # exclusiveMinimum
    {"txn_ref_date": date(2021, 1, 2)},
    {"txn_timestamp": datetime(2021, 1, 1, 0, 0, 1)},
    {"txn_timestamp_tz": datetime(2019, 12, 31, 13, 59, tzinfo=UTC)},
    {"txn_timestamp_tz": datetime(2020, 12, 31, 14, 0, 1, tzinfo=UTC)},
    {"txn_time": "24:00:00"},
    {"txn_time": "7:30"},
    {"amount": -0.01},
    {"amount": 1e39},  # does not fit f32
    {"age": 17},
    {"age": 100},  # exclusiveMaximum
    {"latest_txns": [1, 2, 3, 4]},
    {"latest_txns": [1, 1]},
    {"customer_details": '{"num_children": 2}'},
    {"customer_details": '{"a":1,"b":2,"c":3,"d":4,"num_children":1,"date_of_birth":"x"}'},
    {
        "account_id": None,
        "txn_time": None,
        "latest_txns": None,
        "age": None,
    },  # no values: no breaks
]


def all_types_oracle(row: dict[str, Any]) -> set[str]:
    """The rules a row breaks, from the standard's definitions (schema.md), in Python."""
    broken = set()
    a = row["account_id"]
    if a is not None:
        if len(a) < 11:
            broken.add("minLength(account_id)")
        if len(a) > 11:
            broken.add("maxLength(account_id)")
        if not re.search("ACC[0-9]{8}", a):  # ECMA-262 pattern: matches anywhere
            broken.add("pattern(account_id)")
    d = row["txn_ref_date"]
    if d is not None and not d > date(2020, 1, 1):
        broken.add("exclusiveMinimum(txn_ref_date)")
    if d is not None and d > date(2021, 1, 1):
        broken.add("maximum(txn_ref_date)")
    t = row["txn_timestamp"]
    if t is not None and t < datetime(2020, 1, 1):
        broken.add("minimum(txn_timestamp)")
    if t is not None and t > datetime(2021, 1, 1):
        broken.add("maximum(txn_timestamp)")
    tz = row["txn_timestamp_tz"]
    sydney = datetime.fromisoformat("2020-01-01 00:00:00+10:00")
    if tz is not None and tz < sydney:
        broken.add("minimum(txn_timestamp_tz)")
    if tz is not None and tz > sydney.replace(year=2021):
        broken.add("maximum(txn_timestamp_tz)")
    tm = row["txn_time"]
    if tm is not None:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?", tm):
            broken.add("type(txn_time)")
        elif not "00:00:00" <= tm <= "23:59:59":
            broken.add("maximum(txn_time)")
    if row["amount"] is not None and row["amount"] < 0:
        broken.add("minimum(amount)")
    if row["amount"] is not None and abs(row["amount"]) > 3.4028234663852886e38:
        broken.add("format(amount)")
    if row["age"] is not None and row["age"] < 18:
        broken.add("minimum(age)")
    if row["age"] is not None and not row["age"] < 100:
        broken.add("exclusiveMaximum(age)")
    items = row["latest_txns"]
    if items is not None and len(items) > 3:
        broken.add("maxItems(latest_txns)")
    if items is not None and len(set(items)) < len(items):
        broken.add("uniqueItems(latest_txns)")
    import json

    details = row["customer_details"]
    if details is not None:
        keys = json.loads(details).keys()
        if not {"num_children", "date_of_birth"} <= set(keys):
            broken.add("required(customer_details)")
        if len(keys) > 5:
            broken.add("maxProperties(customer_details)")
    return broken


def all_types_table(rows: list[dict[str, Any]]) -> pa.Table:
    schema = pa.schema(
        [
            ("account_id", pa.string()),
            ("txn_ref_date", pa.date32()),
            ("txn_timestamp", pa.timestamp("us")),
            ("txn_timestamp_tz", pa.timestamp("us", tz="UTC")),
            ("txn_time", pa.string()),  # Delta has no TIME type: times are text
            ("amount", pa.float64()),
            ("age", pa.int64()),
            ("is_open", pa.bool_()),
            ("latest_txns", pa.list_(pa.int64())),
            ("customer_details", pa.string()),  # physicalType json
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def test_all_data_types(lake: Lake) -> None:
    contracts = lake.bind("data-types/all-data-types.odcs.yaml", ["silver.transactions_tbl"])
    rows = [ALL_TYPES_GOOD] + [{**ALL_TYPES_GOOD, **change} for change in ALL_TYPES_BAD]
    expected = [all_types_oracle(r) for r in rows]
    assert expected[0] == set() and all(expected[1:-1]) and expected[-1] == set()
    table = all_types_table(rows)
    result = enforce(lake.engine, contracts, table)
    bad = [i for i, e in enumerate(expected) if e]
    assert result.good.num_rows + result.rejected.num_rows == len(rows)
    assert result.rejected.num_rows == len(bad)
    for reason, i in zip(result.reasons, bad, strict=True):
        assert {part.split(":")[0] for part in reason.split("; ")} == expected[i], rows[i]
    lake.put("silver.transactions_tbl", table)
    counts: dict[str, int] = {}
    for e in expected:
        for rule in e:
            counts[rule] = counts.get(rule, 0) + 1
    assert failing(lake.check("silver.transactions_tbl", contracts)) == counts


def test_table_column_description_loads_unquoted_dates(lake: Lake) -> None:
    path = "fundamentals/table-column-description.odcs.yaml"
    assert "- 2022-10-03" in example(path).read_text()  # unquoted in the file
    contracts = lake.bind(path, ["silver.tbl"])
    lake.put("silver.tbl", pa.table({"txn_ref_dt": ["2022-10-03", "2025-01-28"]}))
    assert failing(lake.check("silver.tbl", contracts)) == {}
    lake.put("silver.tbl", pa.table({"txn_ref_dt": ["2022-10-03", "03/10/2022", None]}))
    assert failing(lake.check("silver.tbl", contracts)) == {"type(txn_ref_dt)": 1}


def air_quality(values: list[Any]) -> pa.Table:
    return pa.table({"DataValue": pa.array(values, pa.float64())})


def test_column_accuracy_sql_rule_reads_the_object_by_name(lake: Lake) -> None:
    # Air_Quality binds by name, case-insensitively, to the one dataset of that name.
    contracts = lake.bind("quality/column-accuracy.odcs.yaml", ["bronze.air_quality", "gold.x"])
    lake.put("bronze.air_quality", air_quality([1.5, 250.0, 499.9]))
    assert failing(lake.check("bronze.air_quality", contracts)) == {}
    values = [1.5, 0.0, -3.0, 500.0, 250.0, None]
    lake.put("bronze.air_quality", air_quality(values))
    expected = sum(1 for v in values if v is not None and (v <= 0 or v >= 500))
    result = lake.check("bronze.air_quality", contracts)["sql(DataValue)"]
    assert (result.status, result.observed) == ("fail", expected)


def test_column_completeness(lake: Lake) -> None:
    contracts = lake.bind("quality/column-completeness.odcs.yaml", ["bronze.Air_Quality"])
    lake.put("bronze.Air_Quality", pa.table({"UniqueID": [1, 2, 3]}))
    assert failing(lake.check("bronze.Air_Quality", contracts)) == {}
    lake.put("bronze.Air_Quality", pa.table({"UniqueID": [1, None, 3, 3]}))
    got = failing(lake.check("bronze.Air_Quality", contracts))
    assert got == {"nullValues(UniqueID)": 1, "required(UniqueID)": 1, "primaryKey(UniqueID)": 1}


def test_column_custom_rules_are_reported_not_run(lake: Lake) -> None:
    contracts = lake.bind("quality/column-custom.odcs.yaml", ["bronze.air_quality"])
    lake.put("bronze.air_quality", pa.table({"UniqueID": [1, 2, 2]}))
    results = lake.check("bronze.air_quality", contracts)
    not_run = {k: r.detail for k, r in results.items() if r.status == "not_run"}
    assert len(not_run) == 2 and all("soda" in (d or "") for d in not_run.values())
    assert failing(results) == {"primaryKey(UniqueID)": 1}  # the rest still runs


def test_column_validity_null_in_valid_values_is_a_value(lake: Lake) -> None:
    """validValues ["", null, "n/a"], at most 5% invalid: a null is valid (listed), and
    the listed null does not turn the rule off (SQL's NOT IN with NULL would)."""
    contracts = lake.bind("quality/column-validity.odcs.yaml", ["silver.air_quality"])
    lake.put("silver.air_quality", pa.table({"air_quality_status": ["", "n/a"]}))
    assert failing(lake.check("silver.air_quality", contracts)) == {}
    values = ["n/a"] + [f"bad{i}" for i in range(9)]  # 90% invalid
    for column in (values, [*values[:-1], None]):
        lake.put("silver.air_quality", pa.table({"air_quality_status": column}))
        frame = pd.Series(column, dtype=object)
        percent = 100 * float((frame.notna() & ~frame.isin(["", "n/a"])).mean())
        result = lake.check("silver.air_quality", contracts)["invalidValues(air_quality_status)"]
        assert (result.status, result.observed) == ("fail", pytest.approx(percent))
        assert f"= {percent:g}%" in (result.detail or "")


def test_schema_without_objects_loads_to_nothing() -> None:
    for relative in (
        "roles/service-and-operational-roles.odcs.yaml",
        "server/azure-server.odcs.yaml",
        "stakeholders/basic-four-dpo.odcs.yaml",
    ):
        assert load_contract_file(example(relative)) == []


def test_all_schema_types(lake: Lake) -> None:
    datasets = ["silver.tbl_1", "silver.anobject", "silver.anotherobject"]
    contracts = lake.bind("schema/all-schema-types.odcs.yaml", datasets)
    assert sorted(c.dataset for c in contracts) == sorted(datasets)
    lake.put("silver.anobject", pa.table({"street_lines": [["1 Main St", "Apt 2"], []]}))
    x = pa.array(
        [[{"id": "a", "zip": "1"}], []],
        pa.list_(pa.struct([("id", pa.string()), ("zip", pa.string())])),
    )
    lake.put("silver.anotherobject", pa.table({"x": x}))
    for name in ("silver.anobject", "silver.anotherobject"):
        assert failing(lake.check(name, contracts)) == {}
    tbl = {
        "txn_ref_dt": [date(2022, 10, 3)] * 3,
        "rcvr_id": ["a", "b", "a"],
        "rcvr_cntry_code": ["DE"] * 3,
    }
    lake.put("silver.tbl_1", pa.table(tbl))
    assert failing(lake.check("silver.tbl_1", contracts)) == {"primaryKey(rcvr_id)": 1}


def test_kafka_schema_objects(lake: Lake) -> None:
    contracts = lake.bind("schema/kafka-schema.odcs.yaml", ["bronze.orders"])
    good = {"cust_id": ["c1", "c2"], "prod_id": ["p1", "p1"], "qty": [1, 2]}
    lake.put("bronze.orders", pa.table(good))
    assert failing(lake.check("bronze.orders", contracts)) == {}
    lake.put("bronze.orders", pa.table({**good, "cust_id": ["c1", None], "qty": [None, None]}))
    got = failing(lake.check("bronze.orders", contracts))
    assert got == {"required(cust_id)": 1, "required(qty)": 2}
    registry = lake.bind("schema/kafka-schemaregistry.odcs.yaml", ["bronze.orders"])
    assert failing(lake.check("bronze.orders", registry)) == {}  # no properties: nothing to break


def test_a_topic_name_that_is_no_dataset_is_refused_naming_the_candidates() -> None:
    contracts = load_contract_file(example("server/kafka-server.odcs.yaml"))
    from assay.contracts.binding import bind_file

    with pytest.raises(ContractError) as err:
        bind_file(contracts, ["bronze.orders", "silver.orders"])
    message = str(err.value)
    assert "'orders.avro.v1' is not a dataset" in message and "kafka-server" in message
    assert "bronze.orders" in message and "silver.orders" in message


def test_table_column_and_partitions(lake: Lake) -> None:
    contracts = lake.bind("schema/table-column.odcs.yaml", ["silver.tbl"])
    lake.put("silver.tbl", pa.table({"rcvr_cntry_code": ["DE", "FR"], "other": [1, 2]}))
    results = lake.check("silver.tbl", contracts)
    assert {k: r.status for k, r in results.items() if r.status != "pass"} == {
        "column(other)": "warn"
    }

    contracts = lake.bind("schema/table-columns-with-partition.odcs.yaml", ["silver.tbl"])
    rows = {"rcvr_cntry_code": ["DE", "DE", "FR", "FR"], "rcvr_id": ["1", "2", "1", "2"]}
    rows |= {"year": [2024] * 4, "amount": [1.0, 2.0, 3.0, 4.0]}
    lake.put("silver.tbl", pa.table(rows))
    results = lake.check("silver.tbl", contracts)
    assert results["primaryKey(rcvr_cntry_code, rcvr_id)"].status == "pass"
    assert failing(results) == {}
    lake.put("silver.tbl", pa.table({k: [*v, v[0]] for k, v in rows.items()}))
    assert failing(lake.check("silver.tbl", contracts)) == {
        "primaryKey(rcvr_cntry_code, rcvr_id)": 1
    }


def test_database_table_sla_binds_to_the_dataset_its_element_names(lake: Lake) -> None:
    contracts = lake.bind("sla/database-table-sla.odcs.yaml", ["gold.tab1", "gold.other"])
    assert [c.dataset for c in contracts] == ["gold.tab1"]
    now = datetime.now(UTC).replace(tzinfo=None)
    lake.put("gold.tab1", pa.table({"txn_ref_dt": [now - timedelta(days=3)]}))
    assert failing(lake.check("gold.tab1", contracts)) == {}
    lake.put("gold.tab1", pa.table({"txn_ref_dt": [now - timedelta(days=4, hours=1)]}))
    result = lake.check("gold.tab1", contracts)["latency(txn_ref_dt)"]
    assert result.status == "warn"  # latency SLAs warn unless they state a severity
    assert result.observed == pytest.approx((4 * 24 + 1) * 3600, abs=120)


@pytest.fixture(scope="module")
def spark_lake(spark_jars: str, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    warehouse = Warehouse(str(tmp_path_factory.mktemp("spark_wh")))
    return Lake(warehouse, get_engine("spark", warehouse), Catalog("sqlite://"))


@pytest.mark.parametrize(
    "conformance",
    [
        test_all_data_types,
        test_full_example,
        test_column_validity_null_in_valid_values_is_a_value,
        test_table_column_and_partitions,
        test_column_accuracy_sql_rule_reads_the_object_by_name,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_on_spark(spark_lake: Lake, conformance: Any) -> None:
    """The same outcomes when the rules run translated on Spark (checks over Delta tables,
    and a batch split on Spark as a transform's Frame)."""
    conformance(spark_lake)


def test_on_spark_a_frame_is_split_like_arrow(spark_lake: Lake) -> None:
    contracts = spark_lake.bind("data-types/all-data-types.odcs.yaml", ["silver.transactions_tbl"])
    rows = [ALL_TYPES_GOOD] + [{**ALL_TYPES_GOOD, **change} for change in ALL_TYPES_BAD]
    table = all_types_table(rows)
    frame = spark_lake.engine.relation("SELECT * FROM t", {"t": table})
    try:
        result = enforce(spark_lake.engine, contracts, frame)
        expected = [i for i, r in enumerate(rows) if all_types_oracle(r)]
        assert result.rejected.num_rows == len(expected)
        assert result.good.num_rows + result.rejected.num_rows == len(rows)
        for reason, i in zip(result.reasons, expected, strict=True):
            assert {p.split(":")[0] for p in reason.split("; ")} == all_types_oracle(rows[i])
    finally:
        frame.release()
