"""What the catalog says about a project's datasets and registered tables, assembled from
the declarations, the Delta logs, the contracts and the catalog (`assay describe`,
`assay catalog search|register|list`). It sits above the workflows it reads (pipelines),
below the CLI."""
