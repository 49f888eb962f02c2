"""Column lineage: from raw fields through tables to features, training sets and
contracts, with OpenLineage's edge types (see `graph`)."""

from assay.lineage.build import build_lineage, column_lineage
from assay.lineage.graph import Edge, LineageGraph, Node

__all__ = ["Edge", "LineageGraph", "Node", "build_lineage", "column_lineage"]
