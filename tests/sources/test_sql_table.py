"""`assay.sql_table`: copy a database table, then merge only the rows changed since the last
run (cursor on `updated_at`), against SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from deltalake import DeltaTable

import assay
from tests.conftest import MakeProject
from tests.helpers import rows

T0 = datetime(2026, 1, 1, 12, 0, 0)

accounts = sa.Table(
    "accounts",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner", sa.String(50), nullable=False),
    sa.Column("balance", sa.Float, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


@pytest.fixture(params=["sqlite", "postgres"])
def source_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'source.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def source_db(source_url: str):
    engine = sa.create_engine(source_url)
    accounts.metadata.create_all(engine)
    with engine.begin() as con:
        con.execute(
            accounts.insert(),
            [
                {"id": i, "owner": f"owner{i}", "balance": 10.0 * i,
                 "updated_at": T0 + timedelta(minutes=i)}
                for i in range(1, 6)
            ],
        )  # fmt: skip
    yield engine
    engine.dispose()


def source_rows(engine: sa.Engine) -> list[dict]:
    with engine.connect() as con:
        found = [dict(r) for r in con.execute(sa.select(accounts)).mappings()]
    return sorted(found, key=lambda r: r["id"])


def project_for(make_project: MakeProject, url: str, **options: object) -> assay.Project:
    args = "".join(f", {k}={v!r}" for k, v in options.items())
    ingest = (
        "import assay\n"
        f'accounts = assay.sql_table("bronze.accounts", url={url!r}, table="accounts"{args})\n'
    )
    return assay.Project(make_project({"pipelines/ingest.py": ingest}))


def merge_metrics(project: assay.Project) -> dict:
    entry = DeltaTable(project.warehouse.uri("bronze.accounts")).history(1)[0]
    return entry.get("operationMetrics") or {}


def test_first_run_copies_the_table(make_project: MakeProject, source_db: sa.Engine) -> None:
    project = project_for(
        make_project, source_db.url.render_as_string(False), cursor="updated_at", keys=["id"]
    )

    result = project.run()

    assert result.ok, result.failed
    assert result.result("bronze.accounts").rows_written == 5
    assert rows(project.table("bronze.accounts")) == source_rows(source_db)


def test_changed_rows_are_merged(make_project: MakeProject, source_db: sa.Engine) -> None:
    project = project_for(
        make_project, source_db.url.render_as_string(False), cursor="updated_at", keys=["id"]
    )
    project.run()
    version = project.warehouse.version("bronze.accounts")
    later = T0 + timedelta(hours=1)
    with source_db.begin() as con:
        for i in (2, 4):
            con.execute(
                accounts.update()
                .where(accounts.c.id == i)
                .values(balance=accounts.c.balance + 1, updated_at=later)
            )
        con.execute(
            accounts.insert(),
            [{"id": i, "owner": f"new{i}", "balance": 1.0, "updated_at": later} for i in (6, 7, 8)],
        )

    result = project.run()

    accounts_result = result.result("bronze.accounts")
    assert accounts_result.status == "success"
    assert accounts_result.commits == 1
    assert project.warehouse.version("bronze.accounts") == version + 1
    metrics = merge_metrics(project)
    assert metrics["num_target_rows_updated"] == 2
    assert metrics["num_target_rows_inserted"] == 3
    assert rows(project.table("bronze.accounts")) == source_rows(source_db)
    assert project.table("bronze.accounts").num_rows == 8


def test_no_changes_commit_nothing(make_project: MakeProject, source_db: sa.Engine) -> None:
    project = project_for(
        make_project, source_db.url.render_as_string(False), cursor="updated_at", keys=["id"]
    )
    project.run()
    version = project.warehouse.version("bronze.accounts")

    result = project.run()

    assert result.ok
    assert result.commits == 0
    assert project.warehouse.version("bronze.accounts") == version


def test_append_by_cursor_reads_only_new_rows(
    make_project: MakeProject, source_db: sa.Engine
) -> None:
    project = project_for(make_project, source_db.url.render_as_string(False), cursor="updated_at")
    project.run()
    with source_db.begin() as con:
        con.execute(
            accounts.insert(),
            [{"id": 9, "owner": "late", "balance": 9.0, "updated_at": T0 + timedelta(days=1)}],
        )

    result = project.run()

    assert result.result("bronze.accounts").rows_in == 1
    assert rows(project.table("bronze.accounts")) == source_rows(source_db)
    assert project.run().commits == 0


def test_full_copy_without_cursor(make_project: MakeProject, source_db: sa.Engine) -> None:
    project = project_for(make_project, source_db.url.render_as_string(False))
    project.run()
    with source_db.begin() as con:
        con.execute(accounts.delete().where(accounts.c.id == 3))

    assert project.run().result("bronze.accounts").commits == 1
    assert rows(project.table("bronze.accounts")) == source_rows(source_db)
    assert project.run().commits == 0


def test_unreachable_database_fails_the_dataset(make_project: MakeProject, tmp_path) -> None:
    missing = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"
    project = assay.Project(
        make_project(
            {
                "pipelines/ingest.py": "import assay\n"
                f'a = assay.sql_table("bronze.accounts", url={missing!r}, table="accounts")\n'
            },
            {"retries": {"attempts": 2, "backoff_initial": 0, "backoff_max": 0}},
        )
    )

    result = project.run()

    failed = result.result("bronze.accounts")
    assert failed.status == "failed"
    assert "bronze.accounts" in failed.error


def test_a_database_source_masks_and_drops_at_ingest(
    make_project: MakeProject, source_db: sa.Engine
) -> None:
    import hashlib

    project = project_for(
        make_project,
        source_db.url.render_as_string(False),
        keys=["id"],
        mask={"owner": "hash"},
        drop=["balance"],
    )
    assert project.run().ok
    stored = sorted(project.table("bronze.accounts").to_pylist(), key=lambda r: r["id"])
    source = source_rows(source_db)
    assert [r["owner"] for r in stored] == [
        hashlib.sha256(r["owner"].encode()).hexdigest() for r in source
    ]
    assert "balance" not in project.table("bronze.accounts").column_names
