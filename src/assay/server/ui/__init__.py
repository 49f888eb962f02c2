"""The web UI (`assay ui`): server-rendered pages over the catalog, lineage, runs, quality,
features, streams and cost of a project, behind the feature server's API keys."""
