"""Which Airflow DAGs a project becomes, worked out without importing Airflow.

Airflow gives each DAG one schedule, so datasets are grouped by what makes them due:

- `assay_<project>`: every dataset (streams aside), in assay's order. Manual by default
  (`schedule=None`), or on the `schedule=` given to `assay_dags`. It is `assay run` as a DAG.
- `assay_<project>__<cron>`: one DAG per cron schedule (`@daily` and `0 0 * * *` are one),
  holding the datasets that declare it.
- `assay_<project>__<layer.name>`: one DAG per `on_upstream` dataset, scheduled on the Airflow
  assets of its inputs (it runs when any input commits new data).
- `assay_<project>__arrivals`: the `on_arrival` file sources, polled every `arrival_poll`
  (a poll that finds no new file commits nothing and triggers nothing).

Each group also holds the unscheduled datasets downstream of its members (reached through
unscheduled datasets only): a dataset without `schedule=` runs when its upstream runs.
Streams are left to `assay stream`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from assay.errors import DefinitionError
from assay.pipelines.automation import PRESETS, Schedule, Trigger
from assay.pipelines.dag import Dag
from assay.pipelines.spec import DatasetSpec

#: How a group's runs are started.
MANUAL, CRON, UPSTREAM, ARRIVAL = "manual", "cron", "on_upstream", "on_arrival"

_CRON_CHARS = {"*": "x", "/": "by", ",": "and", "-": "to", "?": "q", " ": "_"}


@dataclass(frozen=True)
class DagLayout:
    """One Airflow DAG to build.

    Attributes:
        dag_id: the DAG's id.
        trigger: MANUAL, CRON, UPSTREAM or ARRIVAL.
        datasets: its tasks' datasets, in dependency order.
        edges: (upstream, downstream) pairs between its datasets: each dataset waits for its
            nearest ancestors in the group.
        cron: the 5-field cron for CRON (and a scheduled project DAG).
        inputs: for UPSTREAM, the tables whose assets trigger it.
    """

    dag_id: str
    trigger: str
    datasets: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    cron: str | None = None
    inputs: tuple[str, ...] = ()

    @property
    def windowed(self) -> bool:
        """Runs cover a data interval (a cron schedule), which limits incremental datasets."""
        return self.cron is not None


def plan_dags(project: str, dag: Dag, project_schedule: str | None = None) -> list[DagLayout]:
    """The DAGs for the datasets in `dag` (see the module docstring for the grouping).

    Example:
        >>> from assay.pipelines.sources import PythonSource
        >>> from assay.pipelines.spec import Kind
        >>> from assay.pipelines.automation import Automation
        >>> a = DatasetSpec("bronze.a", Kind.FULL, PythonSource(print),
        ...                 automation=Automation.declare("a", schedule="@daily"))
        >>> b = DatasetSpec("silver.b", Kind.FULL, PythonSource(print), inputs=("bronze.a",))
        >>> [(d.dag_id, d.datasets) for d in plan_dags("shop", Dag([a, b]))]
        [('assay_shop', ('bronze.a', 'silver.b')), ('assay_shop__daily', ('bronze.a', 'silver.b'))]
    """
    runnable = [n for n in dag.order() if not dag[n].producer.is_stream]
    cron = None
    if project_schedule is not None:
        cron = Schedule.parse(project_schedule, where="assay_dags(schedule=...)").cron
    layouts = [_layout(f"assay_{project}", MANUAL, dag, runnable, cron=cron)]
    for expression, seeds in _by_cron(dag, runnable).items():
        dag_id = f"assay_{project}__{cron_label(expression)}"
        layouts.append(_layout(dag_id, CRON, dag, _with_followers(dag, seeds), cron=expression))
    for name in runnable:
        if _trigger(dag[name]) is Trigger.ON_UPSTREAM:
            members = _with_followers(dag, [name])
            layouts.append(
                _layout(f"assay_{project}__{name}", UPSTREAM, dag, members, inputs=dag[name].inputs)
            )
    arrivals = [n for n in runnable if _trigger(dag[n]) is Trigger.ON_ARRIVAL]
    if arrivals:
        members = _with_followers(dag, arrivals)
        layouts.append(_layout(f"assay_{project}__arrivals", ARRIVAL, dag, members))
    _check_unique(layouts)
    return layouts


def cron_label(cron: str) -> str:
    """A DAG-id-safe name for a cron: the preset's name when there is one.

    Example:
        >>> cron_label("0 0 * * *"), cron_label("*/5 * * * *")
        ('daily', 'xby5_x_x_x_x')
    """
    for preset, expression in PRESETS.items():
        if expression == cron and preset != "@midnight" and preset != "@annually":
            return preset[1:]
    return "".join(_CRON_CHARS.get(char, char) for char in cron)


def nearest_edges(dag: Dag, members: Iterable[str]) -> list[tuple[str, str]]:
    """Each member's nearest ancestors among `members`, looking through non-members.

    Example:
        >>> from assay.pipelines.sources import PythonSource
        >>> from assay.pipelines.spec import Kind
        >>> spec = lambda n, *i: DatasetSpec(n, Kind.FULL, PythonSource(print), inputs=i)
        >>> g = Dag([spec("bronze.a"), spec("silver.b", "bronze.a"), spec("gold.c", "silver.b")])
        >>> nearest_edges(g, ["bronze.a", "gold.c"])
        [('bronze.a', 'gold.c')]
    """
    chosen = set(members)
    edges: set[tuple[str, str]] = set()
    for name in chosen:
        stack, seen = list(dag[name].inputs), set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            if current in chosen:
                edges.add((current, name))
            else:
                stack.extend(dag[current].inputs)
    return sorted(edges)


def _trigger(spec: DatasetSpec) -> Trigger | None:
    schedule = spec.automation.schedule
    return None if schedule is None else schedule.trigger


def _by_cron(dag: Dag, names: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        schedule = dag[name].automation.schedule
        if schedule is not None and schedule.cron is not None:
            groups.setdefault(schedule.cron, []).append(name)
    return dict(sorted(groups.items()))


def _with_followers(dag: Dag, seeds: list[str]) -> list[str]:
    """`seeds` and the unscheduled datasets downstream of them, through unscheduled ones."""
    members, stack = set(seeds), list(seeds)
    while stack:
        for consumer in dag.consumers[stack.pop()]:
            spec = dag[consumer]
            if consumer not in members and _trigger(spec) is None and not spec.producer.is_stream:
                members.add(consumer)
                stack.append(consumer)
    return dag.order(members)


def _layout(
    dag_id: str,
    trigger: str,
    dag: Dag,
    members: list[str],
    cron: str | None = None,
    inputs: tuple[str, ...] = (),
) -> DagLayout:
    edges = tuple(nearest_edges(dag, members))
    return DagLayout(dag_id, trigger, tuple(dag.order(members)), edges, cron, inputs)


def _check_unique(layouts: list[DagLayout]) -> None:
    seen: set[str] = set()
    for layout in layouts:
        if layout.dag_id in seen or not re.fullmatch(r"[\w.-]+", layout.dag_id):
            raise DefinitionError(
                f"cannot name an Airflow DAG {layout.dag_id!r} (taken, or not a valid id)",
                where=layout.datasets[0] if layout.datasets else None,
                hint="give the datasets' schedules distinct cron expressions, or use a preset",
            )
        seen.add(layout.dag_id)
