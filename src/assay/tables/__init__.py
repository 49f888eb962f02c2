"""Lakehouse tables: Delta Lake tables addressed as `layer.name` in a warehouse."""

from assay.tables.delta import CommitInfo, Warehouse, WriteMode

__all__ = ["CommitInfo", "Warehouse", "WriteMode"]
