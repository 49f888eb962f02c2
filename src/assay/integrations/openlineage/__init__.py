"""OpenLineage events of every run, for any lineage catalog (Marquez, DataHub, ...).

Configured in assay.yaml, off unless set; the transport settings are the openlineage-python
client's own:

    openlineage:
      namespace: fraud            # the jobs' namespace (default: the project's name)
      transport: {type: http, url: http://localhost:5000}
      # or {type: kafka, topic: lineage, config: {bootstrap.servers: localhost:9092}}
      # or {type: file, log_file_path: ol.jsonl, append: true}, or {type: console}

Each `assay run` or `assay backfill` (scheduled and Airflow runs too) is a parent run
(job `<project>`) with a child run per dataset (job `layer.name`), START then COMPLETE or
FAIL. A dataset's events carry its inputs at the Delta versions read and its table with
its schema, version, rows/bytes/files written, contract assertions and metrics, owner; its
job the SQL, where it is declared and its type; its run the engine and versions, the
interval written (nominal time) and assay's error message on failure. A transport that
fails is logged and never fails the run.

Example:
    >>> import assay, json, tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = assay.init_project(root)
    >>> settings = "{type: file, log_file_path: ol.jsonl, append: true}"
    >>> with open(root / "assay.yaml", "a") as f:
    ...     _ = f.write(f"openlineage: {{transport: {settings}}}\\n")
    >>> assay.Project(root).run().ok
    True
    >>> events = [json.loads(line) for line in (root / "ol.jsonl").read_text().splitlines()]
    >>> events[0]["eventType"], events[0]["job"]["name"] == assay.Project(root).config.name
    ('START', True)
"""

from __future__ import annotations

from assay.integrations.openlineage.listener import OpenLineageListener

__all__ = ["OpenLineageListener"]
