"""Shared pieces of the ODCS conformance suite: the official examples, Delta tables built
for them, and a checker that runs `assay check` (check_dataset) on those tables."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from assay.catalog import Catalog
from assay.contracts import Contract, load_contract_file
from assay.contracts.binding import bind_file
from assay.contracts.check import check_dataset
from assay.contracts.enforce import CheckResult
from assay.engines import Engine
from assay.tables import Warehouse, WriteMode

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "specs" / "odcs" / "examples"
if not EXAMPLES.is_dir():  # the repository's own copy when run elsewhere
    EXAMPLES = Path("/work/shared/specs/odcs/examples")


def example(relative: str) -> Path:
    return EXAMPLES / relative


class Lake:
    """Delta tables in a warehouse, and `assay check` over them."""

    def __init__(self, warehouse: Warehouse, engine: Engine, catalog: Catalog):
        self.warehouse, self.engine, self.catalog = warehouse, engine, catalog

    def put(self, name: str, table: pa.Table) -> None:
        """(Re)write table `name` with `table`'s rows, as one Delta commit."""
        self.warehouse.write(name, table, mode=WriteMode.OVERWRITE, metadata={})

    def bind(self, relative: str, datasets: list[str]) -> list[Contract]:
        return bind_file(load_contract_file(example(relative)), datasets)

    def check(self, dataset: str, contracts: list[Contract]) -> dict[str, CheckResult]:
        """Every rule's result on `dataset` (the contracts bound to it), by rule name."""
        mine = [c for c in contracts if c.dataset == dataset]
        assert mine, f"no contract binds to {dataset}"
        results = check_dataset(self.engine, self.warehouse, self.catalog, "t", dataset, mine)
        by_rule = {r.rule: r for r in results if r.kind != "anomaly"}
        assert len(by_rule) == len([r for r in results if r.kind != "anomaly"]), "rule names clash"
        return by_rule


def failing(results: dict[str, CheckResult]) -> dict[str, float | None]:
    """Rules that did not pass (fail or warn), with what they observed."""
    return {name: r.observed for name, r in results.items() if r.status in ("fail", "warn")}


# -- AdventureWorks: a table per schema object, from its properties -------------------------


def adventureworks_type(prop: dict[str, Any]) -> pa.DataType:
    """The Delta column a PostgreSQL AdventureWorks column becomes. `time` columns are
    text 'HH:MM:SS': Delta Lake has no TIME type (assay's documented mapping)."""
    logical, physical = prop.get("logicalType"), str(prop.get("physicalType"))
    if logical == "number":
        return pa.decimal128(19, 4) if physical == "numeric" else pa.int64()
    if logical == "date":
        return {"date": pa.date32(), "time": pa.string()}.get(physical, pa.timestamp("us"))
    if physical == "bytea":
        return pa.binary()
    if physical == "Flag" or physical == "NameStyle":
        return pa.bool_()
    return pa.string()


def _value(dtype: pa.DataType, n: int, physical: str) -> Any:
    if pa.types.is_decimal(dtype):
        from decimal import Decimal

        return Decimal(n) + Decimal("0.25")
    if pa.types.is_integer(dtype):
        return n
    if pa.types.is_date(dtype):
        return date(2020, 1, 1) + timedelta(days=n)
    if pa.types.is_timestamp(dtype):
        return datetime(2020, 1, 1) + timedelta(hours=n)
    if pa.types.is_boolean(dtype):
        return n % 2 == 0
    if pa.types.is_binary(dtype):
        return bytes([n % 256])
    if physical == "uuid":
        return f"{n:08x}-0000-4000-8000-000000000000"
    if physical == "time":
        return f"{7 + n % 10:02d}:00:00"
    return f"v{n}"


def adventureworks_table(obj: dict[str, Any], rows: int = 4) -> pa.Table:
    """Rows whose primary key tuples are unique while each key column repeats a value
    (1,1), (1,2), (2,1), (2,2): valid composite keys that per-column checks reject."""
    props = obj["properties"]
    keys = [p["name"] for p in props if p.get("primaryKey")]
    combos = list(itertools.product(range(1, 3), repeat=len(keys)))[:rows] if keys else []
    columns: dict[str, list[Any]] = {}
    for i, prop in enumerate(props):
        dtype = adventureworks_type(prop)
        physical = str(prop.get("physicalType"))
        if prop["name"] in keys:
            position = keys.index(prop["name"])
            values = [_value(dtype, combo[position] + 10 * i, physical) for combo in combos]
        else:
            values = [_value(dtype, r + 10 * i, physical) for r in range(len(combos) or rows)]
        columns[prop["name"]] = values
    schema = pa.schema([(p["name"], adventureworks_type(p)) for p in props])
    return pa.table(columns, schema=schema)
