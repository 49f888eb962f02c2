"""The Feast half of benchmarks/features_vs_feast.py, run by the Python of Feast's own venv.

Feast's pins differ from assay's, so this file imports nothing from assay: it reads the
spec JSON the parent wrote (data files, features, TTL, end time, repositories) and writes
its results as JSON (and training sets as Parquet) where the parent tells it to.

Commands:
  versions SPEC RESULT
  train SPEC RESULT STORE VIEW OUT REPEAT BUDGET_S   get_historical_features(...).to_arrow()
  materialize SPEC RESULT                            materialize() the online view
  online SPEC RESULT                                 get_online_features() latencies
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore")  # ibis's deprecation notices on every query

ENTITY_KEY = "card_id"
ONLINE_VIEW = "card_online"


def load_spec(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def write_result(path: str, result: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(result))


def feature_store_yaml(offline: str) -> str:
    return (
        "project: bench\n"
        "registry: data/registry.db\n"
        "provider: local\n"
        f"offline_store:\n  type: {offline}\n"
        "online_store:\n  type: sqlite\n  path: data/online.db\n"
        "entity_key_serialization_version: 3\n"
    )


def definitions(spec: dict[str, Any]) -> list[Any]:
    """One entity and, per Parquet file of the spec, a feature view over it."""
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    card = Entity(name="card", join_keys=[ENTITY_KEY], value_type=ValueType.INT64)
    schema = [Field(name=f, dtype=Float64) for f in spec["floats"]]
    schema += [Field(name=f, dtype=Int64) for f in spec["ints"]]
    views = [
        FeatureView(
            name=name,
            entities=[card],
            ttl=timedelta(days=spec["ttl_days"]),
            schema=schema,
            source=FileSource(
                path=view["path"],
                timestamp_field="event_timestamp",
                created_timestamp_column="created",
            ),
            online=True,
        )
        for name, view in spec["views"].items()
    ]
    return [card, *views]


def open_store(spec: dict[str, Any], offline: str) -> Any:
    """The repository of this offline store type, with the definitions applied."""
    from feast import FeatureStore

    repo = Path(spec["feast_repos"][offline])
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(feature_store_yaml(offline))
    store = FeatureStore(repo_path=str(repo))
    store.apply(definitions(spec))
    return store


def end_time(spec: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(spec["end"]).replace(tzinfo=UTC)


def refs(spec: dict[str, Any], view: str) -> list[str]:
    return [f"{view}:{f}" for f in spec["features"]]


# -- commands --------------------------------------------------------------------------------


def cmd_versions(spec_path: str, result: str) -> None:
    from importlib.metadata import version

    names = ("feast", "duckdb", "ibis-framework", "dask", "pandas", "pyarrow")
    write_result(result, {n: version(n) for n in names})


def cmd_train(
    spec_path: str, result: str, offline: str, view: str, out: str, repeat: str, budget: str
) -> None:
    """Time get_historical_features(...).to_arrow(); results are saved after every run, so
    a run the parent stops (timeout, memory cap) still leaves the finished ones."""
    import pyarrow.parquet as pq

    spec = load_spec(spec_path)
    store = open_store(spec, offline)
    entities = pq.read_table(spec["entities"][view]["path"]).to_pandas()
    times: list[float] = []
    for i in range(int(repeat)):
        began = time.perf_counter()
        job = store.get_historical_features(entity_df=entities, features=refs(spec, view))
        table = job.to_arrow()
        times.append(time.perf_counter() - began)
        if i == 0:
            pq.write_table(table, out)
        write_result(result, {"times": times, "rows": table.num_rows})
        if sum(times) > float(budget):
            break


def cmd_materialize(spec_path: str, result: str) -> None:
    spec = load_spec(spec_path)
    online_db = Path(spec["feast_repos"]["duckdb"]) / "data" / "online.db"
    online_db.unlink(missing_ok=True)  # a fresh store on every attempt
    store = open_store(spec, "duckdb")
    end = end_time(spec)
    began = time.perf_counter()
    store.materialize(
        start_date=end - timedelta(days=spec["ttl_days"]),
        end_date=end,
        feature_views=[ONLINE_VIEW],
    )
    write_result(result, {"seconds": time.perf_counter() - began})


def cmd_online(spec_path: str, result: str) -> None:
    """Latency of get_online_features(...).to_dict(): single entities, then batches."""
    import pyarrow.parquet as pq
    from feast import FeatureStore

    spec = load_spec(spec_path)
    store = FeatureStore(repo_path=spec["feast_repos"]["duckdb"])
    features = refs(spec, ONLINE_VIEW)
    single = pq.read_table(spec["keys_single"])[ENTITY_KEY].to_pylist()
    batch = pq.read_table(spec["keys_batch"])[ENTITY_KEY].to_pylist()
    size, warmup = spec["batch"], spec["warmup"]

    def ask(keys: list[int]) -> dict[str, list[Any]]:
        rows = [{ENTITY_KEY: k} for k in keys]
        return store.get_online_features(features=features, entity_rows=rows).to_dict()

    single_ms, sample = [], []
    for i, key in enumerate(single):
        began = time.perf_counter_ns()
        answer = ask([key])
        elapsed = (time.perf_counter_ns() - began) / 1e6
        if i >= warmup:
            single_ms.append(elapsed)
            if len(sample) < spec["sample"]:
                sample.append([key, *(answer[f][0] for f in spec["features"])])
    batch_ms = []
    for i in range(0, len(batch), size):
        began = time.perf_counter_ns()
        ask(batch[i : i + size])
        elapsed = (time.perf_counter_ns() - began) / 1e6
        if i // size >= spec["batch_warmup"]:
            batch_ms.append(elapsed)
    write_result(result, {"single_ms": single_ms, "batch_ms": batch_ms, "sample": sample})


COMMANDS = {
    "versions": cmd_versions,
    "train": cmd_train,
    "materialize": cmd_materialize,
    "online": cmd_online,
}


if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
