"""The columnLineage facet of a written table, from assay's column lineage
(`assay.lineage.column_lineage`): each output column with the input fields it is made from
and how (DIRECT: IDENTITY, TRANSFORMATION, AGGREGATION; INDIRECT: JOIN, FILTER, ...).

Inputs that are tables are named as in the events' datasets (the warehouse namespace,
`layer.name`), file sources by their path pattern in the project folder's namespace; other
sources (databases, streams) have no dataset in the events and are left out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from openlineage.client.facet_v2 import column_lineage_dataset as facet

from assay.integrations.openlineage.facets import PRODUCER, location_namespace
from assay.lineage import Edge, Node, column_lineage
from assay.runtime import Runtime

log = logging.getLogger(__name__)


def column_lineage_facet(rt: Runtime, dataset: str) -> facet.ColumnLineageDatasetFacet | None:
    """The facet of `dataset` (None when it has no column with a known input, or when its
    lineage cannot be traced: that is logged, and the event goes without it)."""
    try:
        lineage = column_lineage(rt, dataset)
    except Exception as exc:
        log.warning("OpenLineage: no columnLineage for %s: %s", dataset, exc)
        return None
    namespaces = {
        "dataset": location_namespace(rt.warehouse.root),
        "file": location_namespace(rt.root),
    }
    return lineage_facet(lineage, namespaces)


def lineage_facet(
    lineage: Mapping[str, Sequence[Edge]], namespaces: Mapping[str, str]
) -> facet.ColumnLineageDatasetFacet | None:
    """The facet of output columns -> edges; `namespaces` maps a node's kind to the
    namespace of its dataset (kinds not in it are left out).

    Example:
        >>> a = Node("dataset", "bronze.t", "a")
        >>> edges = {"a": [Edge(a, Node("dataset", "silver.t", "a"), "DIRECT", "IDENTITY")]}
        >>> field = lineage_facet(edges, {"dataset": "file:///wh"}).fields["a"].inputFields[0]
        >>> field.name, field.field, field.transformations[0].subtype
        ('bronze.t', 'a', 'IDENTITY')
    """
    fields = {}
    for column, edges in lineage.items():
        inputs = _input_fields(edges, namespaces)
        if inputs:
            fields[column] = facet.Fields(inputFields=inputs)
    if not fields:
        return None
    return facet.ColumnLineageDatasetFacet(fields=fields, producer=PRODUCER)


def _input_fields(edges: Sequence[Edge], namespaces: Mapping[str, str]) -> list[facet.InputField]:
    """One input field per source column, with every way the column is used."""
    by_source: dict[Node, list[facet.Transformation]] = {}
    for edge in edges:
        source = edge.source
        if source.column is None or source.kind not in namespaces:
            continue
        by_source.setdefault(source, []).append(
            facet.Transformation(type=edge.type, subtype=edge.subtype, description=edge.description)
        )
    return [
        facet.InputField(
            namespace=namespaces[source.kind],
            name=source.name,
            field=str(source.column),
            transformations=transformations,
        )
        for source, transformations in by_source.items()
    ]
