"""Validation of OpenLineage events against the spec's JSON schemas in
../shared/specs/openlineage (OpenLineage.json and facets/*.json), resolved locally: every
`$id` maps to its file, nothing is fetched. Every event the OpenLineage tests see goes
through `validate_event`; the tests here show it rejects what the spec rejects."""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

SPEC = Path(
    os.environ.get(
        "ASSAY_OPENLINEAGE_SPEC",
        Path(__file__).resolve().parents[3] / "shared" / "specs" / "openlineage",
    )
)

#: The suffix of a facet schema's file name -> where that facet sits (longest first).
_KINDS = (
    ("InputDatasetFacet", "input"),
    ("OutputDatasetFacet", "output"),
    ("DatasetFacet", "dataset"),
    ("RunFacet", "run"),
    ("JobFacet", "job"),
)


@cache
def _schemas() -> tuple[Registry, str, dict[tuple[str, str], dict[str, Any]]]:
    """The registry of every schema by its $id, the core's $id, and facet schemas by
    (where the facet sits, its key)."""
    core = json.loads((SPEC / "OpenLineage.json").read_text())
    resources = [(core["$id"], Resource.from_contents(core))]
    facets: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((SPEC / "facets").glob("*.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
        kind = next((k for suffix, k in _KINDS if path.stem.endswith(suffix)), None)
        for key in schema["properties"] if kind else ():
            facets[(kind, key)] = schema
    return Registry().with_resources(resources), core["$id"], facets


#: jsonschema's formats, with `date-time` checked here (its own check needs a package
#: this environment lacks, and would be skipped without a word).
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _rfc3339(value: object) -> bool:
    """RFC 3339: a date, `T`, a time and a zone offset (or Z)."""
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return value[10:11] in ("T", "t") and parsed.tzinfo is not None


def _validate(instance: Any, schema: dict[str, Any]) -> None:
    registry = _schemas()[0]
    validator = jsonschema.Draft202012Validator(schema, registry=registry, format_checker=FORMATS)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        raise AssertionError("; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5]))


def validate_event(event: dict[str, Any]) -> None:
    """Raise AssertionError unless `event` is a valid RunEvent and every facet in it is
    valid against its own schema (a facet without a schema in the spec is an error too)."""
    _, core_id, facets = _schemas()
    _validate(event, {"$ref": f"{core_id}#/$defs/RunEvent"})
    places: list[tuple[str, dict[str, Any]]] = [
        ("run", event["run"].get("facets") or {}),
        ("job", event["job"].get("facets") or {}),
    ]
    for dataset in event.get("inputs") or []:
        places += [("dataset", dataset.get("facets") or {})]
        places += [("input", dataset.get("inputFacets") or {})]
    for dataset in event.get("outputs") or []:
        places += [("dataset", dataset.get("facets") or {})]
        places += [("output", dataset.get("outputFacets") or {})]
    for kind, found in places:
        for key, facet in found.items():
            schema = facets.get((kind, key))
            if schema is None:
                raise AssertionError(f"the spec has no {kind} facet {key!r}")
            try:
                _validate({key: facet}, schema)
            except AssertionError as exc:
                raise AssertionError(f"{kind} facet {key}: {exc}") from None


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a file transport's log (one JSON document a line), each validated."""
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for event in events:
        validate_event(event)
    return events


# -- the validator itself ------------------------------------------------------------------

_GOOD: dict[str, Any] = {
    "eventType": "COMPLETE",
    "eventTime": "2026-01-02T03:04:05+00:00",
    "producer": "urn:assay:test",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    "run": {
        "runId": "0192e1c4-6f2b-7c3a-8e8f-2f4a3b5c6d7e",
        "facets": {
            "nominalTime": {
                "_producer": "urn:assay:test",
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json",
                "nominalStartTime": "2026-01-01T00:00:00+00:00",
            }
        },
    },
    "job": {"namespace": "ns", "name": "silver.x"},
    "inputs": [],
    "outputs": [
        {
            "namespace": "file:///wh",
            "name": "silver.x",
            "outputFacets": {
                "outputStatistics": {
                    "_producer": "urn:assay:test",
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json",
                    "rowCount": 3,
                }
            },
        }
    ],
}


def test_a_valid_event_passes() -> None:
    validate_event(copy.deepcopy(_GOOD))


@pytest.mark.parametrize(
    ("path", "value", "says"),
    [
        (("run", "runId"), "not-a-uuid", "uuid"),
        (("eventTime",), "yesterday", "date-time"),
        (("eventTime",), "2026-01-02T03:04:05", "date-time"),
        (("run", "facets", "nominalTime", "nominalStartTime"), 5, "string"),
        (("outputs", 0, "outputFacets", "outputStatistics", "rowCount"), "3", "integer"),
        (("run", "facets", "custom"), {"_producer": "x", "_schemaURL": "y"}, "no run facet"),
    ],
)
def test_the_validator_rejects_what_the_spec_rejects(
    path: tuple[Any, ...], value: Any, says: str
) -> None:
    event = copy.deepcopy(_GOOD)
    target: Any = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(AssertionError, match=says):
        validate_event(event)
