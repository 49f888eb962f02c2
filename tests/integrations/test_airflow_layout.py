"""How a project's datasets are grouped into Airflow DAGs (no Airflow needed)."""

from __future__ import annotations

import pytest

from assay.errors import DefinitionError
from assay.integrations.airflow.layout import (
    ARRIVAL,
    CRON,
    MANUAL,
    UPSTREAM,
    cron_label,
    nearest_edges,
    plan_dags,
)
from assay.pipelines.automation import Automation
from assay.pipelines.dag import Dag
from assay.pipelines.sources import PythonSource
from assay.pipelines.spec import DatasetSpec, Kind
from assay.streaming.sources import FolderSource


def spec(
    name: str, *inputs: str, schedule: str | None = None, kind: Kind = Kind.FULL
) -> DatasetSpec:
    automation = Automation.declare(name, schedule=schedule)
    return DatasetSpec(name, kind, PythonSource(print), inputs=inputs, automation=automation)


def shop() -> Dag:
    """Two cron sources (one preset, one cron that equals it), an hourly one, followers,
    an on_upstream gold table fed by both branches, and an unscheduled root."""
    return Dag(
        [
            spec("bronze.orders", schedule="@daily"),
            spec("bronze.refunds", schedule="0 0 * * *"),
            spec("bronze.clicks", schedule="*/15 * * * *"),
            spec("silver.orders", "bronze.orders", "bronze.refunds"),
            spec("silver.clicks", "bronze.clicks"),
            spec("gold.funnel", "silver.orders", "silver.clicks", schedule="on_upstream"),
            spec("gold.funnel_report", "gold.funnel"),
            spec("bronze.manual"),
        ]
    )


def by_id(dag: Dag, schedule: str | None = None) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {d.dag_id: (d.trigger, d.datasets) for d in plan_dags("shop", dag, schedule)}


def test_groups_by_schedule_with_unscheduled_followers() -> None:
    assert by_id(shop()) == {
        "assay_shop": (
            MANUAL,
            (
                "bronze.clicks",
                "bronze.manual",
                "bronze.orders",
                "bronze.refunds",
                "silver.clicks",
                "silver.orders",
                "gold.funnel",
                "gold.funnel_report",
            ),
        ),
        # '@daily' and '0 0 * * *' are one schedule, one DAG, named after the preset.
        "assay_shop__daily": (CRON, ("bronze.orders", "bronze.refunds", "silver.orders")),
        "assay_shop__xby15_x_x_x_x": (CRON, ("bronze.clicks", "silver.clicks")),
        "assay_shop__gold.funnel": (UPSTREAM, ("gold.funnel", "gold.funnel_report")),
    }


def test_upstream_dags_name_their_input_tables_and_cron_dags_are_windowed() -> None:
    layouts = {d.dag_id: d for d in plan_dags("shop", shop())}
    funnel = layouts["assay_shop__gold.funnel"]
    assert funnel.inputs == ("silver.orders", "silver.clicks")
    assert not funnel.windowed
    assert layouts["assay_shop__daily"].cron == "0 0 * * *"
    assert layouts["assay_shop__daily"].windowed
    assert not layouts["assay_shop"].windowed
    assert plan_dags("shop", shop(), "@hourly")[0].cron == "0 * * * *"


def test_edges_are_the_nearest_ancestors_inside_the_dag() -> None:
    layouts = {d.dag_id: d for d in plan_dags("shop", shop())}
    assert layouts["assay_shop__daily"].edges == (
        ("bronze.orders", "silver.orders"),
        ("bronze.refunds", "silver.orders"),
    )
    assert layouts["assay_shop__gold.funnel"].edges == (("gold.funnel", "gold.funnel_report"),)
    # Through a dataset outside the group: bronze.orders -> (silver.orders) -> gold.funnel.
    assert nearest_edges(shop(), ["bronze.orders", "gold.funnel"]) == [
        ("bronze.orders", "gold.funnel")
    ]


def test_arrivals_are_polled_together_and_streams_are_left_out() -> None:
    files = DatasetSpec(
        "bronze.files",
        Kind.APPEND,
        PythonSource(print),
        automation=Automation.declare("bronze.files", schedule="on_arrival"),
    )
    stream = DatasetSpec(
        "bronze.live", Kind.APPEND, FolderSource("jsonl", "event_time", path="in/*.jsonl")
    )
    dag = Dag([files, stream, spec("silver.files", "bronze.files")])
    layouts = by_id(dag)
    assert layouts == {
        "assay_shop": (MANUAL, ("bronze.files", "silver.files")),
        "assay_shop__arrivals": (ARRIVAL, ("bronze.files", "silver.files")),
    }


def test_cron_labels_keep_distinct_crons_apart() -> None:
    assert cron_label("0 6 * * *") == "0_6_x_x_x"
    assert cron_label("0 0 1 */3 *") == "quarterly"
    assert cron_label("0,30 * * * *") != cron_label("0-30 * * * *")


def test_a_bad_project_schedule_is_refused_with_the_fix() -> None:
    with pytest.raises(DefinitionError, match="invalid schedule") as err:
        plan_dags("shop", shop(), "every day")
    assert "assay_dags(schedule=...)" in str(err.value)
    assert "@daily" in str(err.value)


def test_without_airflow_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from assay.errors import MissingExtraError
    from assay.integrations.airflow import imports

    def missing(name: str) -> object:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(MissingExtraError) as err:
        imports.airflow_module("airflow.sdk")
    assert "pip install 'assay[airflow]'" in str(err.value)
    # A different missing module inside Airflow's import is not blamed on the extra.
    monkeypatch.setattr(importlib, "import_module", lambda name: missing("pendulum"))
    with pytest.raises(ModuleNotFoundError, match="pendulum"):
        imports.airflow_module("airflow.sdk")
