"""The dataset graph: order, cycles, unknown inputs and --select."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.errors import DefinitionError, UsageError
from assay.pipelines.dag import Dag
from assay.pipelines.spec import DatasetSpec, Kind
from assay.pipelines.transforms import SqlTransform


def spec(name: str, *inputs: str) -> DatasetSpec:
    return DatasetSpec(name, Kind.FULL, SqlTransform("SELECT 1"), inputs=inputs)


#   bronze.a --> silver.c --> gold.e
#   bronze.b --/          \-> gold.f
#   bronze.z (independent)
SHOP = [
    spec("gold.f", "silver.c"),
    spec("gold.e", "silver.c"),
    spec("silver.c", "bronze.a", "bronze.b"),
    spec("bronze.b"),
    spec("bronze.a"),
    spec("bronze.z"),
]


def test_order_puts_inputs_first_deterministically() -> None:
    assert Dag(SHOP).order() == ["bronze.a", "bronze.b", "bronze.z", "silver.c", "gold.e", "gold.f"]
    assert Dag(reversed(SHOP)).order() == Dag(SHOP).order()
    assert Dag(SHOP).order(["gold.f", "bronze.b"]) == ["bronze.b", "gold.f"]


@given(
    st.integers(min_value=1, max_value=12).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))),
            st.permutations(range(n)),
        )
    )
)
def test_order_respects_every_edge_of_random_dags(case) -> None:
    n, pairs, shuffle = case
    edges = {(min(a, b), max(a, b)) for a, b in pairs if a != b}  # i -> j only for i < j
    specs = [
        spec(f"silver.d{j}", *sorted(f"silver.d{i}" for i, k in edges if k == j)) for j in shuffle
    ]
    order = Dag(specs).order()
    assert sorted(order) == sorted(f"silver.d{j}" for j in range(n))
    position = {name: i for i, name in enumerate(order)}
    for i, j in edges:
        assert position[f"silver.d{i}"] < position[f"silver.d{j}"]


def test_cycle_is_an_error_naming_the_cycle() -> None:
    with pytest.raises(DefinitionError, match="dependency cycle") as info:
        Dag([spec("silver.a", "gold.c"), spec("silver.b", "silver.a"), spec("gold.c", "silver.b")])
    message = str(info.value)
    for name in ("silver.a", "silver.b", "gold.c"):
        assert name in message


def test_unknown_input_is_an_error_naming_it() -> None:
    with pytest.raises(DefinitionError, match=r"unknown input 'bronze\.missing'") as info:
        Dag([spec("bronze.a"), spec("silver.b", "bronze.a", "bronze.missing")])
    assert "silver.b" in str(info.value)


def test_duplicate_dataset_is_an_error() -> None:
    with pytest.raises(DefinitionError, match="declared twice"):
        Dag([spec("bronze.a"), spec("bronze.a")])


def test_self_reference_is_an_error() -> None:
    with pytest.raises(DefinitionError, match="cannot read itself"):
        spec("silver.a", "silver.a")


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        (["silver.c"], ["silver.c"]),
        (["+silver.c"], ["bronze.a", "bronze.b", "silver.c"]),
        (["silver.c+"], ["silver.c", "gold.e", "gold.f"]),
        (["+silver.c+"], ["bronze.a", "bronze.b", "silver.c", "gold.e", "gold.f"]),
        (["bronze.a+"], ["bronze.a", "silver.c", "gold.e", "gold.f"]),
        (["+gold.e"], ["bronze.a", "bronze.b", "silver.c", "gold.e"]),
        (["gold"], ["gold.e", "gold.f"]),
        (["bronze"], ["bronze.a", "bronze.b", "bronze.z"]),
        (["gold.f", "bronze.z", "bronze.b"], ["bronze.b", "bronze.z", "gold.f"]),
    ],
)
def test_select(selectors: list[str], expected: list[str]) -> None:
    assert Dag(SHOP).select(selectors) == expected


@pytest.mark.parametrize("selector", ["silver.nope", "platinum", "+nope", "silv"])
def test_select_unknown_is_a_usage_error(selector: str) -> None:
    with pytest.raises(UsageError, match="matches no dataset"):
        Dag(SHOP).select([selector])


def test_upstream_and_downstream() -> None:
    dag = Dag(SHOP)
    assert dag.upstream("gold.f") == ["bronze.a", "bronze.b", "silver.c"]
    assert dag.downstream("bronze.b") == ["silver.c", "gold.e", "gold.f"]
    assert dag.downstream("bronze.z") == []
    with pytest.raises(UsageError, match=r"unknown dataset 'gold\.x'"):
        dag["gold.x"]
