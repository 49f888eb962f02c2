"""Training/serving skew: replay logged requests through the point-in-time join at their
request time and compare with what was served; and drift of served values against a
saved training set (PSI and KS per feature)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow as pa
from sqlglot import exp

from assay import sqlbuild
from assay.errors import UsageError
from assay.features import drift
from assay.features.request_log import TABLE
from assay.naming import split_name

if TYPE_CHECKING:
    from assay.features.spec import FeatureView
    from assay.runtime import Runtime


class Features(Protocol):
    """What skew needs of `project.features` (features/store.py calls in here, so this
    module names the shape rather than importing the class)."""

    runtime: Runtime
    views: dict[str, FeatureView]

    def training_set(
        self,
        entity_df: Any,
        features: Sequence[str] | str,
        event_timestamp: str = ...,
        full_feature_names: bool = ...,
        save_as: str | None = ...,
        versions: Mapping[str, int] | None = ...,
    ) -> pa.Table: ...

    def output_names(
        self, features: Sequence[str] | str, full_feature_names: bool = ...
    ) -> dict[str, str]: ...


@dataclass
class FeatureSkew:
    """One feature's findings: how often serving disagreed with the replay, and drift."""

    feature: str
    logged: int = 0
    mismatches: int = 0
    psi: float = math.nan
    ks: float = math.nan
    ks_pvalue: float = math.nan

    @property
    def mismatch_rate(self) -> float:
        return self.mismatches / self.logged if self.logged else 0.0

    @property
    def drift(self) -> str:
        """none, moderate or shift (by PSI), or n/a without numbers to compare."""
        if math.isnan(self.psi):
            return "n/a"
        if self.psi > drift.PSI_SHIFT:
            return "shift"
        return "moderate" if self.psi > drift.PSI_MODERATE else "none"


@dataclass
class SkewReport:
    """What `assay features skew` prints: per feature, plus example mismatches."""

    requests: int
    features: list[FeatureSkew]
    examples: list[dict[str, Any]] = field(default_factory=list)
    baseline: str | None = None


def _same(served: Any, replayed: Any) -> bool:
    if served is None or replayed is None:
        return served is None and replayed is None
    if isinstance(served, int | float) and isinstance(replayed, int | float):
        return math.isclose(served, replayed, rel_tol=1e-9, abs_tol=1e-12)
    return bool(served == replayed) or str(served) == str(replayed)


def _logged(features: Features, since: datetime | None, until: datetime | None) -> pa.Table:
    if not features.runtime.warehouse.exists(TABLE):
        raise UsageError(
            "no served requests are logged yet",
            hint="set server.log_sample_rate (e.g. 0.1) in assay.yaml and serve some requests",
        )
    layer, name = split_name(TABLE)
    query = exp.select("*").from_(sqlbuild.table(name, schema=layer))
    requested_at = sqlbuild.column("requested_at")
    if since:
        query = query.where(requested_at >= sqlbuild.literal(since))
    if until:
        query = query.where(requested_at.copy() < sqlbuild.literal(until))
    sql = sqlbuild.render(query.order_by(requested_at.copy()), "duckdb")
    # The log is small and local: the embedded engine reads it, through the one reader.
    return features.runtime.reader.sql(sql, features.runtime.local)


def _versions_at(features: Features, refs: Sequence[str], times: Sequence[datetime]) -> list[Any]:
    """Per request time, the version of each source table then (None: it did not exist)."""
    wh = features.runtime.warehouse
    tables = sorted({features.views[r.partition(":")[0]].source for r in refs})
    commits = {t: sorted((c.timestamp, c.version) for c in wh.history(t)) for t in tables}
    out = []
    for at in times:
        versions: dict[str, int] | None = {}
        for table in tables:
            known = [v for stamp, v in commits[table] if stamp <= at]
            if not known or versions is None:
                versions = None
                continue
            versions[table] = known[-1]
        out.append(versions)
    return out


def _replay(
    features: Features, logged: pa.Table, refs: list[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per logged (request, entity): the point-in-time values of `refs` at the request
    time, computed from the source tables as they were then (time travel), so rows that
    arrived after the request do not count as skew."""
    entities: dict[tuple[str, str], datetime] = {}
    for request_id, entity, at in zip(
        logged["request_id"].to_pylist(),
        logged["entity"].to_pylist(),
        logged["requested_at"].to_pylist(),
        strict=True,
    ):
        entities.setdefault((request_id, entity), at)
    keys = list(entities)
    groups: dict[str, list[int]] = {}
    versions_of = _versions_at(features, refs, list(entities.values()))
    for i, versions in enumerate(versions_of):
        groups.setdefault(json.dumps(versions, sort_keys=True), []).append(i)
    replayed: dict[tuple[str, str], dict[str, Any]] = {}
    for text, members in groups.items():
        versions = json.loads(text)
        if versions is None:  # a source did not exist yet: nothing was knowable
            replayed.update({keys[i]: {} for i in members})
            continue
        rows = [json.loads(keys[i][1]) | {"event_timestamp": entities[keys[i]]} for i in members]
        # Requests may name different keys (views of other entities): one column per key.
        columns = list(dict.fromkeys(k for row in rows for k in row))
        frame = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])
        values = features.training_set(frame, refs, full_feature_names=True, versions=versions)
        replayed.update(zip((keys[i] for i in members), values.to_pylist(), strict=True))
    return replayed


def compare(
    features: Features,
    since: datetime | None = None,
    until: datetime | None = None,
    training_set: str | None = None,
    max_examples: int = 20,
) -> SkewReport:
    """Replay logged requests, count mismatches per feature, and measure drift."""
    logged = _logged(features, since, until)
    known = [r for r in dict.fromkeys(logged["feature"].to_pylist()) if _exists(features, r)]
    report = SkewReport(len(set(logged["request_id"].to_pylist())), [FeatureSkew(r) for r in known])
    if not known:
        return report
    replayed = _replay(features, logged, known)
    columns = features.output_names(known, full_feature_names=True)
    by_ref = {s.feature: s for s in report.features}
    served_numbers: dict[str, list[float]] = {r: [] for r in known}
    for row in logged.to_pylist():
        skew = by_ref.get(row["feature"])
        if skew is None:
            continue
        served = json.loads(row["value"])
        expected = replayed[(row["request_id"], row["entity"])].get(columns[row["feature"]])
        skew.logged += 1
        if row["status"] == "present" and row["value_number"] is not None:
            served_numbers[row["feature"]].append(row["value_number"])
        if not _same(served, expected):
            skew.mismatches += 1
            if len(report.examples) < max_examples:
                report.examples.append(
                    {
                        "request_id": row["request_id"],
                        "requested_at": row["requested_at"],
                        "entity": row["entity"],
                        "feature": row["feature"],
                        "served": served,
                        "status": row["status"],
                        "point_in_time": expected,
                    }
                )
    if training_set:
        report.baseline = f"training.{training_set}"
        _drift(features, training_set, report.features, served_numbers)
    return report


def _exists(features: Features, ref: str) -> bool:
    view, _, name = ref.partition(":")
    return view in features.views and name in features.views[view].features


def _drift(
    features: Features,
    name: str,
    findings: Sequence[FeatureSkew],
    served: dict[str, list[float]],
) -> None:
    """PSI and KS of served numbers against the saved training set's column per feature."""
    wh = features.runtime.warehouse
    table = f"training.{name}"
    if not wh.exists(table):
        raise UsageError(f"no saved training set {name!r}", hint="save one with save_as=NAME")
    trained = wh.recorded(table, "training")
    saved = features.runtime.reader.table(table)
    # Views removed since the set was saved have nothing to compare with.
    refs = [r for r in trained["features"] if r.partition(":")[0] in features.views]
    outputs = features.output_names(refs, trained["full_feature_names"])
    for finding in findings:
        column = outputs.get(finding.feature)
        if column is None or column not in saved.column_names or not served[finding.feature]:
            continue
        values = saved[column].drop_null()
        if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
            continue
        baseline = values.to_numpy().astype(float)
        sample = np.asarray(served[finding.feature], float)
        finding.psi = drift.psi(baseline, sample)
        finding.ks, finding.ks_pvalue = drift.ks(baseline, sample)
