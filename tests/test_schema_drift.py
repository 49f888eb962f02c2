"""Schema drift at a jsonl source, under each schema policy."""

from __future__ import annotations

import pyarrow as pa
import pytest

import assay
from tests.conftest import MakeProject
from tests.helpers import jsonl, rows

FIRST = [{"id": 1, "name": "ada", "score": 1.5}, {"id": 2, "name": "bob", "score": 2.5}]


def drift_project(make_project: MakeProject, policy: str | None = None) -> assay.Project:
    option = f", schema_policy={policy!r}" if policy else ""
    ingest = (
        "import assay\n"
        f'people = assay.files("bronze.people", path="data/*.jsonl", format="jsonl"{option})\n'
        "\n"
        '@assay.transform("silver.people", inputs=["bronze.people"])\n'
        "def people_clean(ctx, people):\n"
        '    return people.filter("id IS NOT NULL")\n'
    )
    project = assay.Project(
        make_project({"pipelines/ingest.py": ingest, "data/a.jsonl": jsonl(FIRST)})
    )
    first = project.run()
    assert first.ok and project.table("bronze.people").num_rows == 2
    return project


def add_file(project: assay.Project, records: list[dict]) -> None:
    (project.root / "data/b.jsonl").write_text(jsonl(records))


def user_rows(project: assay.Project) -> list[dict]:
    return rows(project.table("bronze.people"), exclude={"_ingested_at", "_line", "_source_file"})


def test_new_column_evolves_the_table(make_project: MakeProject) -> None:
    project = drift_project(make_project)
    add_file(project, [{"id": 3, "name": "cy", "score": 3.5, "email": "cy@example.com"}])

    result = project.run()

    assert result.ok
    assert user_rows(project) == [
        {"id": 1, "name": "ada", "score": 1.5, "email": None},
        {"id": 2, "name": "bob", "score": 2.5, "email": None},
        {"id": 3, "name": "cy", "score": 3.5, "email": "cy@example.com"},
    ]
    assert project.table("silver.people").num_rows == 3


def test_removed_column_fails_naming_it(make_project: MakeProject) -> None:
    project = drift_project(make_project)
    version = project.warehouse.version("bronze.people")
    add_file(project, [{"id": 3, "score": 3.5}])

    result = project.run()

    assert not result.ok
    failed = result.result("bronze.people")
    assert failed.status == "failed"
    assert "name" in failed.error and "removed" in failed.error
    assert result.result("silver.people").status == "skipped"
    assert project.warehouse.version("bronze.people") == version
    assert project.run().result("bronze.people").status == "failed"  # still refused


def test_retyped_column_fails_naming_it(make_project: MakeProject) -> None:
    project = drift_project(make_project)
    version = project.warehouse.version("bronze.people")
    add_file(project, [{"id": 3, "name": "cy", "score": {"value": 3.5}}])

    result = project.run()

    failed = result.result("bronze.people")
    assert failed.status == "failed"
    assert "score" in failed.error
    assert project.warehouse.version("bronze.people") == version
    assert "quarantine.bronze_people" not in project.warehouse.list_tables()


def test_discard_policy_drops_new_columns(make_project: MakeProject) -> None:
    project = drift_project(make_project, "discard")
    add_file(project, [{"id": 3, "name": "cy", "score": 3.5, "email": "cy@example.com"}])

    result = project.run()

    assert result.ok
    assert "email" not in project.table("bronze.people").column_names
    assert user_rows(project) == [
        {"id": 1, "name": "ada", "score": 1.5},
        {"id": 2, "name": "bob", "score": 2.5},
        {"id": 3, "name": "cy", "score": 3.5},
    ]


def test_discard_policy_fills_removed_columns_with_null(make_project: MakeProject) -> None:
    project = drift_project(make_project, "discard")
    add_file(project, [{"id": 3, "score": 3.5}])

    assert project.run().ok
    assert user_rows(project)[-1] == {"id": 3, "name": None, "score": 3.5}


def test_quarantine_policy_quarantines_rows_with_the_new_column(make_project: MakeProject) -> None:
    project = drift_project(make_project, "quarantine")
    add_file(
        project,
        [
            {"id": 3, "name": "cy", "score": 3.5, "email": "cy@example.com"},
            {"id": 4, "name": "di", "score": 4.5},
        ],
    )

    result = project.run()

    assert result.ok
    people = result.result("bronze.people")
    assert (people.rows_in, people.rows_written, people.rows_quarantined) == (2, 1, 1)
    assert "email" not in project.table("bronze.people").column_names
    assert [r["id"] for r in user_rows(project)] == [1, 2, 4]
    (reject,) = project.table("quarantine.bronze_people").to_pylist()
    assert reject["line"] == 1 and reject["source_file"] == "data/b.jsonl"
    assert "email" in reject["reason"]
    assert "cy@example.com" in reject["raw_record"]
    assert reject["run_id"] == result.run_id


@pytest.mark.parametrize(
    ("records", "column"),
    [
        ([{"id": 3, "name": "cy", "score": 3.5, "email": "e"}], "email"),
        ([{"id": 3, "score": 3.5}], "name"),
    ],
)
def test_freeze_policy_fails_on_any_change(
    make_project: MakeProject, records: list[dict], column: str
) -> None:
    project = drift_project(make_project, "freeze")
    version = project.warehouse.version("bronze.people")
    add_file(project, records)

    result = project.run()

    failed = result.result("bronze.people")
    assert failed.status == "failed"
    assert column in failed.error
    assert project.warehouse.version("bronze.people") == version


def test_freeze_policy_accepts_the_same_schema(make_project: MakeProject) -> None:
    project = drift_project(make_project, "freeze")
    add_file(project, [{"id": 3, "name": "cy", "score": 3.0}])

    assert project.run().ok
    assert [r["id"] for r in user_rows(project)] == [1, 2, 3]


WIDEN_INGEST = """
import assay

scores = assay.files("bronze.scores", path="data/*.jsonl", format="jsonl",
                     allow_widening={allow})
"""


def _widening_project(make_project: MakeProject, allow: bool) -> assay.Project:
    root = make_project(
        {
            "pipelines/ingest.py": WIDEN_INGEST.replace("{allow}", str(allow)),
            "data/a.jsonl": '{"id": 1, "score": 3}\n{"id": 2, "score": 4}\n',
        }
    )
    project = assay.Project(root)
    assert project.run().ok
    (root / "data" / "b.jsonl").write_text('{"id": 3, "score": 2.5}\n{"id": 4, "score": 7.25}\n')
    return assay.Project(root)


def test_a_widened_column_fails_unless_widening_is_allowed(make_project: MakeProject) -> None:
    project = _widening_project(make_project, allow=False)
    result = project.run()
    assert result.result("bronze.scores").status == "failed"
    assert "score" in (result.result("bronze.scores").error or "")
    assert "allow_widening" in (result.result("bronze.scores").error or "")


def test_allow_widening_rewrites_the_column_type(make_project: MakeProject) -> None:
    project = _widening_project(make_project, allow=True)
    result = project.run()
    assert result.ok
    table = project.table("bronze.scores")
    assert table.schema.field("score").type == pa.float64()
    assert sorted(zip(table["id"].to_pylist(), table["score"].to_pylist(), strict=True)) == [
        (1, 3.0),
        (2, 4.0),
        (3, 2.5),
        (4, 7.25),
    ]
    assert [c.metadata.get("widened") for c in project.history("bronze.scores")][:2] == [
        None,
        {"score": "DOUBLE"},
    ]
    assert project.run().commits == 0
