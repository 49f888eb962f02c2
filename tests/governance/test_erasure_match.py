"""Matching a subject in raw records by key, never by substring, and the error paths of
planning an erasure."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pytest

from assay.errors import UsageError
from assay.governance.erasure_find import Subject, find
from assay.governance.erasure_match import Needles, raw_holds, raw_mask, row_mask
from assay.tables import Warehouse

NEEDLES = Needles({"customer_id": frozenset({"123"}), "card_id": frozenset({"419"})})


@pytest.mark.parametrize(
    ("record", "holds"),
    [
        ('{"customer_id": 123, "amount": 5.0}', True),
        ('{"customer_id": "123"}', True),
        ('{"order": {"customer_id": 123}}', True),  # nested
        ('[{"card_id": 419}]', True),
        ('{"customer_id": 1234, "amount": 123}', False),  # another id; an amount
        ('{"customer_id": 12, "note": "customer_id 123"}', False),  # words, not the key
        ('{"merchant_id": 123}', False),
        ('{"customer_id":123,"card_numb', True),  # a truncated line, matched by key
        ('{"customer_id":1230,"card_numb', False),
        ("customer_id=123;amount=4", True),
        ("customer_id=123.5", False),
        ("", False),
        (None, False),
    ],
)
def test_raw_records_match_by_key(record: str | None, holds: bool) -> None:
    assert raw_holds(record, NEEDLES) is holds
    assert raw_mask(pa.array([record], pa.string()), NEEDLES).to_pylist() == [holds]


def test_typed_columns_match_after_casting_the_needle() -> None:
    batch = pa.table(
        {
            "customer_id": pa.array([123, 1234, None], pa.int64()),
            "card_id": pa.array(["419", "4190", "419"], pa.string_view()).cast(pa.string()),
        }
    )
    mask = row_mask(batch, {"customer_id": {"123"}, "card_id": {"419"}}, (), NEEDLES)
    assert mask.to_pylist() == [True, False, True]
    assert row_mask(batch, {"customer_id": {"abc"}}, (), NEEDLES).to_pylist() == [False] * 3


def test_planning_refuses_an_object_store_warehouse_and_an_empty_subject() -> None:
    runtime = SimpleNamespace(warehouse=Warehouse("s3://bucket/warehouse"))
    with pytest.raises(UsageError, match="local or mounted file system"):
        find(runtime, [Subject("customer_id", "1")], {})  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no subject"):
        find(runtime, [], {})  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="column=value"):
        Subject.parse("customer_id")
