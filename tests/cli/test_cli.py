"""The `assay` command line through typer's CliRunner: exit codes and printed data."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay import Project
from assay.cli.main import app
from tests.helpers import write_files

runner = CliRunner()
COMMANDS = ["init", "run", "backfill", "plan", "status", "history", "show", "sql"]


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    result = invoke("init", str(root))
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def built(shop: Path) -> Path:
    result = invoke("run", "--project", str(shop))
    assert result.exit_code == 0, result.output
    return shop


def test_init_scaffolds_a_project(shop: Path) -> None:
    assert (shop / "assay.yaml").is_file()
    assert sorted(p.name for p in (shop / "pipelines").iterdir()) == [
        "gold_daily_totals.sql",
        "ingest.py",
        "silver_orders.sql",
    ]
    again = invoke("init", str(shop))
    assert again.exit_code == 2
    assert "not empty" in again.output


def test_run_exits_0_and_summarizes(built: Path) -> None:
    result = invoke("run", "--project", str(built))
    assert result.exit_code == 0, result.output
    assert "0 commit(s)" in result.output
    for name in ("bronze.orders", "silver.orders", "gold.daily_totals"):
        assert name in result.output


def test_run_select(shop: Path) -> None:
    result = invoke("run", "--project", str(shop), "--select", "+silver.orders")
    assert result.exit_code == 0, result.output
    assert not (shop / "warehouse" / "gold" / "daily_totals").exists()
    assert (shop / "warehouse" / "silver" / "orders").is_dir()
    unknown = invoke("run", "--project", str(shop), "--select", "silver.nope")
    assert unknown.exit_code == 2
    assert "silver.nope" in unknown.output


def test_plan_shows_work_and_reasons(shop: Path) -> None:
    before = invoke("plan", "--project", str(shop))
    assert before.exit_code == 0, before.output
    assert "never built" in before.output
    assert "1 new or changed file(s)" in before.output
    assert not (shop / "warehouse").exists()


def test_status_lists_datasets(built: Path) -> None:
    result = invoke("status", "--project", str(built))
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "2 done, 0 missing" in lines["silver.orders"]
    assert "success" in lines["gold.daily_totals"]
    assert " 3 " in lines["bronze.orders"]  # rows


def test_history_lists_versions(built: Path) -> None:
    result = invoke("history", "silver.orders", "--project", str(built))
    assert result.exit_code == 0, result.output
    commit = Project(built).history("silver.orders")[-1]  # the first build
    assert commit.metadata["run_id"] in result.output
    row = next(line for line in result.output.splitlines() if commit.metadata["run_id"] in line)
    assert "WRITE" in row
    assert "2026-01-01" in row  # the interval span starts on the first day of data


def test_show_with_time_travel(built: Path) -> None:
    write_files(
        built,
        {"data/orders/2026-01-03.csv": "order_id,customer_id,amount,ordered_at\n"
         "5,2,99.5,2026-01-03 12:00:00\n"},
    )  # fmt: skip
    assert invoke("run", "--project", str(built)).exit_code == 0

    latest = invoke("show", "bronze.orders", "--project", str(built))
    first = invoke("show", "bronze.orders", "--version", "0", "--project", str(built))

    assert latest.exit_code == 0 and first.exit_code == 0, latest.output + first.output
    assert "@ v1" in latest.output and "99.5" in latest.output
    assert sum("data/orders/" in line for line in latest.output.splitlines()) == 4
    assert "@ v0" in first.output and "99.5" not in first.output
    limited = invoke("show", "bronze.orders", "--limit", "1", "--project", str(built))
    assert limited.exit_code == 0
    assert sum("data/orders/" in line for line in limited.output.splitlines()) == 1


def test_sql_csv_output(built: Path) -> None:
    result = invoke(
        "sql",
        "SELECT order_id, amount FROM silver.orders ORDER BY order_id",
        "--format",
        "csv",
        "--project",
        str(built),
    )
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["order_id", "amount"],
        ["1", "12.5"],
        ["2", "7.25"],
        ["3", "30.0"],
    ]


def test_sql_json_output(built: Path) -> None:
    result = invoke(
        "sql",
        "SELECT day, country, orders FROM gold.daily_totals ORDER BY day, country",
        "-f",
        "json",
        "--project",
        str(built),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"day": "2026-01-01T00:00:00", "country": "GB", "orders": 1},
        {"day": "2026-01-01T00:00:00", "country": "US", "orders": 1},
        {"day": "2026-01-02T00:00:00", "country": "GB", "orders": 1},
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["plan"],
        ["status"],
        ["sql", "SELECT 1"],
        ["backfill", "silver.orders", "--start", "2026-01-01", "--end", "2026-01-02"],
    ],
)
def test_missing_assay_yaml_exits_2(tmp_path: Path, args: list[str]) -> None:
    result = invoke(*args, "--project", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert "assay.yaml" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["show", "silver.nope"],
        ["history", "silver.nope"],
        ["sql", "SELECT * FROM silver.nope"],
        ["show", "silver.orders", "--version", "42"],
    ],
)
def test_unknown_table_exits_2(built: Path, args: list[str]) -> None:
    result = invoke(*args, "--project", str(built))
    assert result.exit_code == 2, result.output
    assert "silver." in result.output


def test_invalid_config_exits_2(shop: Path) -> None:
    (shop / "assay.yaml").write_text("name: shop\nwarehouse_dir: x\n")
    result = invoke("run", "--project", str(shop))
    assert result.exit_code == 2
    assert "warehouse_dir" in result.output


def test_backfill_of_a_full_dataset_exits_2(built: Path) -> None:
    result = invoke(
        "backfill", "gold.daily_totals", "--start", "2026-01-01", "--end", "2026-01-02",
        "--project", str(built),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "not incremental" in result.output


def test_backfill_exits_0(shop: Path) -> None:
    assert invoke("run", "--project", str(shop), "--select", "bronze").exit_code == 0
    result = invoke(
        "backfill", "silver.orders", "--start", "2026-01-01", "--end", "2026-01-03",
        "--workers", "2", "--project", str(shop),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "silver.orders" in result.output


def test_failing_run_exits_1_and_names_the_dataset(shop: Path) -> None:
    write_files(
        shop,
        {
            "pipelines/broken.py": """
            import assay

            @assay.transform("gold.broken", inputs=["silver.orders"])
            def broken(ctx, orders):
                raise RuntimeError("kaboom in transform")
            """
        },
    )
    result = invoke("run", "--project", str(shop))
    assert result.exit_code == 1
    assert "gold.broken" in result.output
    assert "kaboom in transform" in result.output
    assert (shop / "warehouse" / "gold" / "daily_totals").is_dir()  # the rest still ran


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output


def test_top_level_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_check_accepts_only_the_formats_it_prints(built: Path) -> None:
    refused = invoke("check", "--project", str(built), "--format", "csv")
    assert refused.exit_code == 2
    assert "'csv' is not one of 'table', 'json'" in " ".join(refused.output.split())
    as_json = invoke("check", "--project", str(built), "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    assert isinstance(json.loads(as_json.stdout), list)


@pytest.mark.parametrize(
    "command", ["list", "show", "training-set", "materialize", "online", "skew"]
)
def test_every_features_command_help_has_an_example(command: str) -> None:
    result = invoke("features", command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
