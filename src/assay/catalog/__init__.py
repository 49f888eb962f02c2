"""The metadata catalog (SQLAlchemy): runs, intervals, ingested files, synced from Delta."""

from assay.catalog.store import Catalog, DatasetRun, IntervalRecord

__all__ = ["Catalog", "DatasetRun", "IntervalRecord"]
