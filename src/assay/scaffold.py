"""`assay init DIR`: a small, working project to start from."""

from __future__ import annotations

from pathlib import Path

from assay.errors import UsageError

_FILES: dict[str, str] = {
    "assay.yaml": """\
# assay project settings. See `assay --help`.
name: {name}
warehouse: warehouse        # Delta tables live here (a local path or an s3:// URL)
engine: duckdb              # embedded default; `spark` when you outgrow one machine
# catalog: postgresql+psycopg://user:pass@host/db   # default: SQLite in .assay/
""",
    "pipelines/ingest.py": '''\
"""Bronze: raw data in, exactly as it arrived (plus source file and ingest time)."""

import assay

orders = assay.files(
    "bronze.orders",
    path="data/orders/*.csv",
    format="csv",
    columns={"order_id": "BIGINT", "amount": "DOUBLE", "ordered_at": "TIMESTAMP"},
    time_column="ordered_at",
)


@assay.source("bronze.customers", keys=["customer_id"])
def customers(ctx):
    """Customers from any Python code: return Arrow, pandas, polars or dicts."""
    return [
        {"customer_id": 1, "name": "Ada", "country": "GB"},
        {"customer_id": 2, "name": "Grace", "country": "US"},
    ]
''',
    "pipelines/silver_orders.sql": """\
-- name: silver.orders
-- kind: incremental
-- time_column: ordered_at
-- grain: day
-- owner: data-team
SELECT DISTINCT order_id, customer_id, amount, ordered_at
FROM {{ ref('bronze.orders') }}
WHERE ordered_at >= {{ start }} AND ordered_at < {{ end }}
""",
    "pipelines/gold_daily_totals.sql": """\
-- name: gold.daily_totals
-- kind: full
SELECT date_trunc('day', o.ordered_at) AS day, c.country,
       count(*) AS orders, sum(o.amount) AS revenue
FROM {{ ref('silver.orders') }} AS o
JOIN {{ ref('bronze.customers') }} AS c USING (customer_id)
GROUP BY ALL
""",
    "data/orders/2026-01-01.csv": """\
order_id,customer_id,amount,ordered_at
1,1,12.50,2026-01-01 09:15:00
2,2,7.25,2026-01-01 11:02:00
3,1,30.00,2026-01-02 08:45:00
4,2,not-a-number,2026-01-02 10:00:00
""",
    "contracts/README.md": "Data contracts (ODCS v3 YAML) bound to datasets go here.\n",
    "features/README.md": "Entities and feature views over gold tables go here.\n",
    ".gitignore": "warehouse/\n.assay/\n",
}


def init_project(directory: str | Path, name: str | None = None) -> Path:
    """Create a working project in `directory` (which must be empty or missing).

    Example:
        >>> import tempfile
        >>> root = init_project(tempfile.mkdtemp() + "/shop")
        >>> (root / "assay.yaml").is_file()
        True
    """
    root = Path(directory)
    if root.exists() and any(root.iterdir()):
        raise UsageError(f"{root} is not empty", hint="choose a new or empty folder")
    for rel, text in _FILES.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("{name}", name or root.resolve().name))
    return root
