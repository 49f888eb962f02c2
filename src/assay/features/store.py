"""`project.features`: training sets (point-in-time correct), registry, saved sets."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.engines import Source
from assay.errors import TableNotFoundError, UsageError
from assay.features import pit, registry
from assay.features.materialize import Materialized, materialize_view
from assay.features.online import OnlineStore, from_micros
from assay.features.skew import SkewReport, compare
from assay.features.spec import Entity, FeatureService, FeatureView
from assay.governance.audit_hooks import audit_write
from assay.intervals import to_naive_utc, utcnow
from assay.pipelines.producers import to_arrow
from assay.tables import WriteMode

if TYPE_CHECKING:
    from assay.integrations.mlflow.rebuild import RebuiltTrainingSet
    from assay.runtime import Runtime


class Features:
    """The feature views, entities and services of a project, and what they make.

    Reads (training sets, online vectors) go through `runtime.reader`.

    Example: ``project.features.training_set(labels, ["card_daily:txn_count_1d"])``
    """

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        definitions = runtime.feature_definitions
        self.entities = {d.name: d for d in definitions if isinstance(d, Entity)}
        self.views = {d.name: d for d in definitions if isinstance(d, FeatureView)}
        self.services = {d.name: d for d in definitions if isinstance(d, FeatureService)}
        for view in self.views.values():
            if view.source not in runtime.dag.specs:
                raise UsageError(
                    f"feature view {view.name} reads {view.source}, which is not "
                    "a dataset of this project"
                )

    def register(self) -> dict[str, registry.Registered]:
        """Version every changed view definition in the catalog; return the latest."""
        return registry.register(self.runtime.catalog, self.views.values())

    def resolve(self, features: Sequence[str] | str) -> list[str]:
        """A feature service name, or a list of `view:feature` references."""
        if isinstance(features, str):
            if features not in self.services:
                raise UsageError(
                    f"unknown feature service {features!r}",
                    hint=f"services: {', '.join(sorted(self.services)) or 'none'}",
                )
            return list(self.services[features].features)
        return list(features)

    def training_set(
        self,
        entity_df: Any,
        features: Sequence[str] | str,
        event_timestamp: str = "event_timestamp",
        full_feature_names: bool = False,
        save_as: str | None = None,
        versions: Mapping[str, int] | None = None,
        label_sources: Mapping[str, int] | None = None,
    ) -> pa.Table:
        """For each entity row, the latest feature values as of its timestamp (within TTL).

        Args:
            entity_df: keys, `event_timestamp` and any label columns (Arrow, pandas, polars).
            features: `view:feature` references (or `view:*`), or a feature service name.
            save_as: also write the set to the table `training.<save_as>`, recording the
                source table versions so `rebuild_training_set` can reproduce it exactly.
            versions: read sources at these table versions (time travel) instead of latest.
            label_sources: the tables (and versions) the entity rows were queried from
                (a model's labels query); recorded with the set in MLflow, so what the
                model learned from is complete: features and labels.

        Inside an MLflow run (`mlflow.start_run()`), the set is logged to the run as a
        dataset input: source versions, features, contracts, schema, row count and digest,
        with the entity rows as an artifact; `rebuild_from_mlflow` reproduces it.
        """
        refs = self.resolve(features)
        entities = to_arrow(entity_df, "entity frame")
        result, spec = self._build(entities, refs, event_timestamp, full_feature_names, versions)
        if save_as:
            wh = self.runtime.warehouse
            version = wh.write(
                f"training.{save_as}",
                result,
                mode=WriteMode.OVERWRITE,
                # One JSON object: commit metadata values are strings, so scalars would not
                # come back typed.
                metadata={
                    "training": {
                        "sources": spec["sources"],
                        "features": refs,
                        "timestamp": event_timestamp,
                        "outputs": spec["outputs"],
                        "full_feature_names": full_feature_names,
                    }
                },
            )
            detail = {"training_set": save_as, "sources": spec["sources"]}
            audit_write(self.runtime, f"training.{save_as}", result.num_rows, detail=detail)
            spec["saved_as"] = {"table": f"training.{save_as}", "version": version}
        # Only a process that imported mlflow itself can have an active run: looking in
        # sys.modules keeps training sets free of MLflow's import time when it is unused.
        mlflow = sys.modules.get("mlflow")
        if mlflow is not None and mlflow.active_run() is not None:
            from assay.integrations.mlflow.log import log_training_set

            spec["name"] = save_as or (features if isinstance(features, str) else "training_set")
            spec["label_sources"] = dict(label_sources or {})
            log_training_set(self.runtime, spec, entities, result)
        return result

    def _build(
        self,
        entities: pa.Table,
        refs: list[str],
        event_timestamp: str,
        full_feature_names: bool,
        versions: Mapping[str, int] | None,
    ) -> tuple[pa.Table, dict[str, Any]]:
        """The point-in-time join, and what it read: features, timestamp, output names and
        source table versions (the spec a saved or logged set records)."""
        selections = pit.select(self.views, refs, full_feature_names)
        sources: dict[str, Source] = {}
        schemas: dict[str, pa.Schema] = {}
        used: dict[str, int] = {}
        wh = self.runtime.warehouse
        for sel in selections:
            table = sel.view.source
            if not wh.exists(table):
                raise TableNotFoundError(
                    "the feature view's source is not built",
                    where=table,
                    hint="run `assay run` first",
                )
            # The columns named, so a role denied another column of the table may train.
            ref, schema = self.runtime.reader.source(
                table, (versions or {}).get(table), columns=read_columns(sel.view, sel.features)
            )
            sources[sel.view.name], schemas[sel.view.name] = ref, schema
            used[table] = int(getattr(ref, "version", None) or 0)
        result = pit.training_set(
            self.runtime.engine, selections, entities, sources, schemas, event_timestamp
        )
        spec = {
            "features": refs,
            "event_timestamp": event_timestamp,
            "full_feature_names": full_feature_names,
            "outputs": [n for sel in selections for n in sel.output_names],
            "sources": used,
            "saved_as": None,
        }
        return result, spec

    @property
    def online_store(self) -> OnlineStore:
        """The configured online store (SQLite in `.assay/online.db` by default)."""
        return self.runtime.online_store

    def materialize(
        self, end: datetime | None = None, start: datetime | None = None, views: Sequence[str] = ()
    ) -> list[Materialized]:
        """Write each view's latest values as of `end` (default: now, UTC) online;
        incremental after the first run (only new source files are read). Without
        `views`, views whose source table is not built yet are left for later."""
        end = to_naive_utc(end) if end else utcnow()
        # Views over tables not built yet (a stream not run yet) wait, unless named.
        chosen = (
            [self.views[v] for v in views]
            if views
            else [v for v in self.views.values() if self.runtime.warehouse.exists(v.source)]
        )
        self.register()
        done = [
            materialize_view(
                # Latest values per entity, written from this process: the embedded engine.
                self.runtime.local,
                self.runtime.warehouse,
                self.runtime.catalog,
                self.online_store,
                view,
                end,
                to_naive_utc(start) if start else None,
            )
            for view in chosen
        ]
        for outcome, view in zip(done, chosen, strict=True):
            if outcome.rows:  # the online store is written: a write, in the audit log
                detail = {
                    "online_store": True,
                    "view": view.name,
                    "version": outcome.source_version,
                }
                audit_write(self.runtime, view.source, outcome.rows, detail=detail)
        return done

    def online(
        self,
        entity_rows: Sequence[Mapping[str, Any]],
        features: Sequence[str] | str,
        as_of: datetime | None = None,
        now: datetime | None = None,
    ) -> list[dict[str, dict[str, Any]]]:
        """Feature vectors for entities from the online store: per feature its value, event
        timestamp and status.

        Statuses: `present`; `expired` (older than the view's TTL at `as_of`); `future`
        (stamped after `as_of`: the store keeps only each entity's latest value, so the
        value at `as_of` is not known; use a training set for history); `missing`.

        Args:
            entity_rows: one mapping per entity with exactly the join keys of the requested
                views (anything else raises EntityKeyError, naming the expected keys).
            features: `view:feature` references (or `view:*`), or a feature service name.
            as_of: the time the vectors are for (default: now, UTC). Data materialized with
                `materialize(end=2003-01-01)` is served as of that time with
                `as_of=datetime(2003, 1, 1)`, not judged against the wall clock.
            now: the former name of `as_of`.

        Example: ``project.features.online([{"card_id": 1}], "fraud_model", as_of=t)``
        """
        if as_of is not None and now is not None:
            raise UsageError("online() got both as_of and now", hint="pass as_of only")
        when = as_of if as_of is not None else now
        as_of = to_naive_utc(when) if when is not None else utcnow()
        selections = pit.select(self.views, self.resolve(features))
        check_entity_keys(entity_rows, selections)
        out: list[dict[str, dict[str, Any]]] = [{} for _ in entity_rows]
        requests = [
            (
                sel.view,
                [tuple(row[k] for k in sel.view.join_keys) for row in entity_rows],
                sel.features,
            )
            for sel in selections
        ]
        # All views at once: on Redis, one round trip for the whole request.
        answers = self.runtime.reader.online(requests)
        for sel, found in zip(selections, answers, strict=True):
            for vector, hit in zip(out, found, strict=True):
                stamp = from_micros(hit[1]) if hit else None
                status = _status(sel.view, stamp, as_of) if hit else "missing"
                for feature, name in zip(sel.features, sel.output_names, strict=True):
                    value = hit[0][feature] if hit and status == "present" else None
                    vector[name] = {"value": value, "event_timestamp": stamp, "status": status}
        return out

    def output_names(
        self, features: Sequence[str] | str, full_feature_names: bool = False
    ) -> dict[str, str]:
        """Each `view:feature` requested (`view:*` expanded), and its name in a vector or
        training set."""
        return {
            f"{sel.view.name}:{feature}": output
            for sel in pit.select(self.views, self.resolve(features), full_feature_names)
            for feature, output in zip(sel.features, sel.output_names, strict=True)
        }

    def skew(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        training_set: str | None = None,
    ) -> SkewReport:
        """Replay logged served requests (`server.log_sample_rate`) through the point-in-time
        join at their request time, count mismatches per feature, and, given a saved
        training set's name, the drift of served values from it (PSI, KS)."""
        return compare(
            self,
            to_naive_utc(since) if since else None,
            to_naive_utc(until) if until else None,
            training_set,
        )

    def rebuild_training_set(self, name: str, version: int | None = None) -> pa.Table:
        """Recompute a saved training set from its recorded source versions (time travel)."""
        table_name = f"training.{name}"
        saved = self.runtime.reader.table(table_name, version)
        wh = self.runtime.warehouse
        meta = wh.recorded(table_name, "training", version)
        entities = saved.drop_columns(meta["outputs"])
        return self.training_set(
            entities,
            meta["features"],
            meta["timestamp"],
            meta["full_feature_names"],
            versions=meta["sources"],
        )

    def rebuild_from_mlflow(
        self, run_id: str, name: str | None = None, tracking_uri: str | None = None
    ) -> RebuiltTrainingSet:
        """Rebuild the training set an MLflow run logged, bit for bit, and check it.

        The run's entity rows are joined with the source tables at the versions it
        recorded (time travel); the result must have the logged schema, row count and
        digest.

        Args:
            run_id: the MLflow run.
            name: which training set, when the run logged several.
            tracking_uri: the MLflow backend (default: `mlflow.tracking_uri` in assay.yaml).

        Returns:
            The set (`.table`), the run's record of it (`.record`) and the digest.

        Raises:
            RunNotFoundError: no such run, or no (such) training set in it.
            RebuildMismatchError: the rebuild differs (names the columns or row counts).
            TableNotFoundError: a recorded version's files were vacuumed.

        Example: ``project.features.rebuild_from_mlflow("3f2a...").table.num_rows``
        """
        from assay.integrations.mlflow.rebuild import (
            RebuiltTrainingSet,
            load,
            require_files,
            verify,
        )

        logged = load(self.runtime, run_id, name, tracking_uri)
        record = logged.record
        require_files(self.runtime, record)
        result, _ = self._build(
            logged.entities,
            record.features,
            record.event_timestamp,
            record.full_feature_names,
            record.sources,
        )
        digest = verify(record, result, run_id)
        return RebuiltTrainingSet(result, record, digest, run_id)


def read_columns(view: FeatureView, features: Sequence[str]) -> list[str]:
    """The columns of `view`'s source a training set of `features` reads: the join keys,
    the timestamps and the features' own columns.

    Example:
        >>> user = Entity("user", join_keys=["user_id"])
        >>> read_columns(FeatureView(name="v", entities=[user], source="gold.u",
        ...     timestamp="ts", features=["n", "amount"]), ["amount"])
        ['user_id', 'ts', 'amount']
    """
    from assay.governance.access_online import source_column

    named = [*view.join_keys, view.timestamp, view.created_timestamp]
    named += [source_column(view, feature) for feature in features]
    return list(dict.fromkeys(c for c in named if c))


def _status(view: FeatureView, stamp: datetime | None, as_of: datetime) -> str:
    """present, expired (past the TTL at `as_of`) or future (stamped after `as_of`)."""
    if stamp is None:
        return "present"
    if stamp > as_of:
        return "future"
    return "expired" if view.expired(stamp, as_of) else "present"


class EntityKeyError(UsageError):
    """Entity rows of an online request whose keys are not the requested views' join keys
    (the feature server answers 422)."""


def check_entity_keys(
    entity_rows: Sequence[Mapping[str, Any]], selections: Sequence[pit.Selection]
) -> None:
    """Refuse entity rows that lack a join key of a requested view or carry a key none of
    them has (looked up as they are, they would come back "missing", silently), and key
    values that are True/False (bool is an int in Python: True would be read as key 1) or
    integers outside 64 bits (no stored key is one).

    Example:
        >>> view = FeatureView(name="stats", entities=[Entity("country", ["iso_alpha"])],
        ...                    source="gold.stats", timestamp="t", features=["p"])
        >>> try:
        ...     check_entity_keys([{"country": "NOR"}], [pit.Selection(view, ("p",), ("p",))])
        ... except EntityKeyError as exc:
        ...     print(exc.message)
        ...     print(exc.hint)
        entity 0 {"country": "NOR"}: missing join key 'iso_alpha', unknown key 'country'
        the requested features need the join keys iso_alpha (view stats)
    """
    expected: dict[str, list[str]] = {}
    for sel in selections:
        for key in sel.view.join_keys:
            expected.setdefault(key, []).append(sel.view.name)
    problems = []
    bad_values = False
    for number, row in enumerate(entity_rows):
        missing = [k for k in expected if k not in row]
        unknown = [k for k in row if k not in expected]
        # bool is an int in Python: True would be looked up as key 1.
        flags = [k for k in expected if isinstance(row.get(k), bool)]
        huge = [k for k in expected if _past_int64(row.get(k))]
        bad_values = bad_values or bool(flags or huge)
        if missing or unknown or flags or huge:
            what = [f"missing join key {k!r}" for k in missing]
            what += [f"unknown key {k!r}" for k in unknown]
            what += [f"join key {k!r} is {row[k]!r}, not a string or a number" for k in flags]
            what += [f"join key {k!r} is an integer outside 64 bits" for k in huge]
            shown = json.dumps(dict(row), default=str)
            problems.append(f"entity {number} {shown}: {', '.join(what)}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        needs = ", ".join(f"{k} (view {', '.join(v)})" for k, v in expected.items())
        values = " (strings or numbers; True and False are not keys)" if bad_values else ""
        raise EntityKeyError(
            "; ".join(problems[:3]) + more,
            hint=f"the requested features need the join keys {needs}{values}",
        )


def _past_int64(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63
