"""A dataset reset in the catalog (its table dropped or recreated) forgets the input
versions a rebuild was checked against, with everything else derived from its log."""

from __future__ import annotations

from assay.catalog import Catalog
from assay.catalog.verified import record_verified, verified_inputs


def test_reset_forgets_the_checked_inputs() -> None:
    catalog = Catalog("sqlite://")
    record_verified(catalog, "silver.x", "fp", "h", 2, {"bronze.a": 5})
    record_verified(catalog, "silver.y", "fp", "h", 1, {"bronze.a": 5})
    with catalog.engine.begin() as con:
        catalog.reset_dataset(con, "silver.x")
    assert verified_inputs(catalog, "silver.x", "fp", "h", 2) is None
    assert verified_inputs(catalog, "silver.y", "fp", "h", 1) == {"bronze.a": 5}
