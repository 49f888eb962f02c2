"""Enforced dbt model contracts as assay contracts: rows breaking `not_null` or `check`
constraints are quarantined (rows in = rows kept + rows quarantined), keys are unique."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from assay.contracts.enforce import enforce
from assay.engines import get_engine
from assay.integrations.dbt.constraints import model_contract
from assay.tables import Warehouse

NODE: dict[str, Any] = {
    "name": "reasons",
    "original_file_path": "models/reasons.sql",
    "config": {"contract": {"enforced": True}},
    "columns": {
        "reason_code": {
            "name": "reason_code",
            "data_type": "varchar",
            "constraints": [{"type": "not_null"}, {"type": "primary_key"}],
        },
        "chargebacks": {
            "name": "chargebacks",
            "data_type": "bigint",
            "constraints": [{"type": "check", "expression": "chargebacks > 0"}],
        },
    },
    "constraints": [],
}


def test_constraints_quarantine_breaking_rows_and_check_keys(tmp_path: Path) -> None:
    contract = model_contract(NODE, "marts.reasons", "dbt")
    assert contract.primary_key == ("reason_code",)
    assert [c.name for c in contract.columns if c.required] == ["reason_code"]
    batch = pa.table(
        {
            "reason_code": ["a", None, "c", "d", "d"],
            "chargebacks": [3, 2, 0, None, 5],
        }
    )
    engine = get_engine("duckdb", Warehouse(str(tmp_path / "wh")))
    result = enforce(engine, [contract], batch)
    # None breaks not_null; 0 breaks the check; a NULL check passes (as in a database).
    assert result.rejected.column("reason_code").to_pylist() == [None, "c"]
    assert result.good.num_rows + result.rejected.num_rows == batch.num_rows
    statuses = {r.rule: r.status for r in result.results}
    assert statuses["check(chargebacks > 0)"] == "warn"  # rows quarantined, reported
    assert statuses["primaryKey(reason_code)"] == "fail"  # "d" twice: the batch blocks
    assert [r.rule for r in result.blocked] == ["primaryKey(reason_code)"]
