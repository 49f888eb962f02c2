"""Benchmark: validating a table with about ten rules in assay, Great Expectations and pandera.

For each size, generates a seeded orders table once (in a child process, written as a Delta
table in 1M-row files), then runs each tool in its own child process on the same table and the
same rules, measuring wall time and peak resident memory (ru_maxrss from os.wait4):

- assay: an ODCS v3 contract, `check_dataset` over the Delta table (DuckDB scans it through
  a pyarrow dataset; row count and freshness come from the Delta log);
- Great Expectations (GX Core 1.x, pandas, ephemeral context) on the table read into pandas;
- pandera (pandas backend, lazy validation) on the table read into pandas;
- duckdb: one hand-written aggregate query over the same pyarrow dataset doing the same
  checks (the floor for assay's approach).

The rules: id not null, id unique, amount in [0, 10000], amount null rate <= 5%, status in an
accepted set, code matches a pattern, row count between, mean amount between (an ODCS `sql`
rule), freshness of `ts` within a day (slaProperties), and refunds above 5000 at most 0.1%
of the rows (a second `sql` rule). Every tool reports each rule's pass/fail, and the run
checks that all tools agree.

pandas-based tools need the whole table in memory; at 50M rows they are skipped (`--pandas-max`).

Usage: python benchmarks/contracts_vs_gx.py [--sizes 5000000 50000000] [--tools ...]
Needs `pip install great_expectations pandera` besides assay's test extra.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from results_file import replace_block

HERE = Path(__file__).resolve().parent
DATASET = "silver.orders"
CHUNK = 1_000_000
STATUSES = ["new", "paid", "shipped", "refunded"]
CODE = "^[A-Z]{2}-[0-9]{4}$"
AMOUNT_MAX = 10_000
MEAN_RANGE = (400.0, 600.0)
REFUND_LIMIT = 0.001  # share of rows
TOOLS = ["assay", "duckdb", "gx", "pandera"]
PANDAS_TOOLS = {"gx", "pandera"}
#: Rule names, in the order every tool reports them.
RULES = [
    "id_not_null",
    "id_unique",
    "amount_range",
    "amount_null_rate",
    "status_accepted",
    "code_pattern",
    "row_count",
    "mean_amount",
    "freshness",
    "big_refunds",
]

CONTRACT = f"""
apiVersion: v3.1.0
kind: DataContract
id: orders
version: 1.0.0
status: active
schema:
  - name: orders
    physicalName: {DATASET}
    properties:
      - name: id
        logicalType: integer
        required: true
        unique: true
      - name: amount
        logicalType: number
        logicalTypeOptions: {{minimum: 0, maximum: {AMOUNT_MAX}}}
        quality:
          - metric: nullValues
            mustBeLessOrEqualTo: 5
            unit: percent
      - name: status
        logicalType: string
        quality:
          - metric: invalidValues
            arguments: {{validValues: {STATUSES}}}
            mustBe: 0
      - name: code
        logicalType: string
        logicalTypeOptions: {{pattern: "{CODE}"}}
      - name: customer
        logicalType: integer
      - name: ts
        logicalType: timestamp
    quality:
      - metric: rowCount
        mustBeBetween: [ROWS_LOW, ROWS_HIGH]
      - type: sql
        name: mean_amount
        query: SELECT avg(amount) FROM ${{table}}
        mustBeBetween: [{MEAN_RANGE[0]}, {MEAN_RANGE[1]}]
      - type: sql
        name: big_refunds
        query: >-
          SELECT count(*) FILTER (WHERE status = 'refunded' AND amount > 5000)
          / count(*) FROM ${{table}}
        mustBeLessOrEqualTo: {REFUND_LIMIT}
slaProperties:
  - property: freshness
    value: 1
    unit: d
    element: orders.ts
"""

#: assay's rule names -> the benchmark's.
ASSAY_RULES = {
    "required(id)": "id_not_null",
    "unique(id)": "id_unique",
    "minimum(amount)": "amount_range",
    "maximum(amount)": "amount_range",
    "nullValues(amount)": "amount_null_rate",
    "invalidValues(status)": "status_accepted",
    "pattern(code)": "code_pattern",
    "rowCount": "row_count",
    "mean_amount": "mean_amount",
    "freshness(ts)": "freshness",
    "big_refunds": "big_refunds",
}


def row_bounds(rows: int) -> tuple[int, int]:
    return rows // 2, rows * 2


# -- data --------------------------------------------------------------------------------------


def generate(rows: int, warehouse: str) -> None:
    """Seeded orders as a Delta table, written 1M rows at a time (bounded memory)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import write_deltalake

    from assay.tables import Warehouse

    now = datetime.now(UTC).replace(tzinfo=None)
    letters = np.array([a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJ"])

    def batches() -> Any:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            rng = np.random.default_rng(start)
            ids = np.arange(start, start + n, dtype=np.int64)
            dup = rng.random(n) < 0.0005
            ids[dup] = rng.integers(0, start + 1, dup.sum())
            amount = np.round(rng.gamma(2.0, 250.0, n), 2)
            wild = rng.random(n) < 0.001
            amount[wild] = rng.choice([-5.0, -0.01, 10_000.01, 20_000.0], wild.sum())
            status = np.array(STATUSES)[rng.integers(0, 4, n)].astype(object)
            bad = rng.random(n) < 0.0008
            status[bad] = rng.choice(["PAID", "unknown", "refunded "], bad.sum())
            prefix = pa.array(letters[rng.integers(0, len(letters), n)])
            number = pc.utf8_lpad(
                pc.cast(pa.array(rng.integers(0, 10_000, n)), pa.string()), 4, "0"
            )
            code = pc.binary_join_element_wise(prefix, number, "-").to_numpy(zero_copy_only=False)
            code = code.astype(object)
            bad = rng.random(n) < 0.0007
            code[bad] = rng.choice(
                ["ab-1234", "AB-123", "AB1234", "ÄB-1234", "AB-1234\n"], bad.sum()
            )
            seconds = rng.integers(60, 20 * 86400, n)
            ts = np.datetime64(now, "us") - seconds.astype("timedelta64[s]")
            yield pa.record_batch(
                {
                    "id": pa.array(ids, mask=rng.random(n) < 0.0003),
                    "amount": pa.array(amount, mask=rng.random(n) < 0.01),
                    "status": pa.array(status, pa.string(), mask=rng.random(n) < 0.002),
                    "code": pa.array(code, pa.string()),
                    "customer": pa.array(rng.integers(0, 1_000_000, n)),
                    "ts": pa.array(ts, pa.timestamp("us")),
                }
            )

    uri = Warehouse(warehouse).uri(DATASET)
    for i, batch in enumerate(batches()):
        write_deltalake(
            uri, pa.Table.from_batches([batch]), mode="overwrite" if i == 0 else "append"
        )


# -- the tools (each runs in its own child process) ---------------------------------------------


def run_assay(warehouse: str, rows: int) -> dict[str, Any]:
    from assay.catalog import Catalog
    from assay.contracts.check import check_dataset
    from assay.contracts.odcs import load_contract_file
    from assay.engines import get_engine
    from assay.tables import Warehouse

    low, high = row_bounds(rows)
    path = Path(warehouse) / "orders.yaml"
    path.write_text(CONTRACT.replace("ROWS_LOW", str(low)).replace("ROWS_HIGH", str(high)))
    began = time.monotonic()
    wh = Warehouse(warehouse)
    catalog = Catalog(f"sqlite:///{warehouse}/catalog.db")
    results = check_dataset(
        get_engine("duckdb", wh), wh, catalog, "bench", DATASET, load_contract_file(path)
    )
    validate_s = time.monotonic() - began
    verdicts: dict[str, bool] = {}
    for r in results:
        if r.rule in ASSAY_RULES:
            name = ASSAY_RULES[r.rule]
            verdicts[name] = verdicts.get(name, True) and r.status == "pass"
    return {"load_s": 0.0, "validate_s": validate_s, "verdicts": verdicts}


def handwritten_sql(rows: int) -> str:
    low, high = row_bounds(rows)
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    return f"""
    SELECT
      count(*) FILTER (WHERE id IS NULL) = 0 AS id_not_null,
      count(id) = count(DISTINCT id) AS id_unique,
      count(*) FILTER (WHERE amount < 0 OR amount > {AMOUNT_MAX}) = 0 AS amount_range,
      count(*) FILTER (WHERE amount IS NULL) <= 0.05 * count(*) AS amount_null_rate,
      count(*) FILTER (WHERE status NOT IN ({statuses})) = 0 AS status_accepted,
      count(*) FILTER (WHERE NOT regexp_full_match(code, '{CODE}')) = 0 AS code_pattern,
      count(*) BETWEEN {low} AND {high} AS row_count,
      avg(amount) BETWEEN {MEAN_RANGE[0]} AND {MEAN_RANGE[1]} AS mean_amount,
      max(ts) >= now()::TIMESTAMP - INTERVAL 1 DAY AS freshness,
      count(*) FILTER (WHERE status = 'refunded' AND amount > 5000)
        <= {REFUND_LIMIT} * count(*) AS big_refunds
    FROM orders
    """


def run_duckdb(warehouse: str, rows: int) -> dict[str, Any]:
    import duckdb
    from deltalake import DeltaTable

    from assay.tables import Warehouse

    began = time.monotonic()
    orders = DeltaTable(Warehouse(warehouse).uri(DATASET)).to_pyarrow_dataset()
    con = duckdb.connect()
    con.register("orders", orders)
    row = con.execute(handwritten_sql(rows)).fetchall()[0]
    validate_s = time.monotonic() - began
    return {"load_s": 0.0, "validate_s": validate_s, "verdicts": dict(zip(RULES, row, strict=True))}


def load_pandas(warehouse: str) -> Any:
    from deltalake import DeltaTable

    from assay.tables import Warehouse

    return DeltaTable(Warehouse(warehouse).uri(DATASET)).to_pyarrow_dataset().to_table().to_pandas()


def full_match(pattern: str) -> str:
    """Python's `$` also matches before a final newline; `\\Z` is ODCS's (ECMA-262) `$`."""
    return pattern[:-1] + r"\Z"


def run_gx(warehouse: str, rows: int) -> dict[str, Any]:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe

    began = time.monotonic()
    df = load_pandas(warehouse)
    loaded = time.monotonic()
    low, high = row_bounds(rows)
    now = datetime.now(UTC).replace(tzinfo=None)
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("pandas")
        .add_dataframe_asset("orders")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": df})
    )
    expectations = {
        "id_not_null": gxe.ExpectColumnValuesToNotBeNull(column="id"),
        "id_unique": gxe.ExpectColumnValuesToBeUnique(column="id"),
        "amount_range": gxe.ExpectColumnValuesToBeBetween(
            column="amount", min_value=0, max_value=AMOUNT_MAX
        ),
        "amount_null_rate": gxe.ExpectColumnValuesToNotBeNull(column="amount", mostly=0.95),
        "status_accepted": gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES),
        "code_pattern": gxe.ExpectColumnValuesToMatchRegex(column="code", regex=full_match(CODE)),
        "row_count": gxe.ExpectTableRowCountToBeBetween(min_value=low, max_value=high),
        "mean_amount": gxe.ExpectColumnMeanToBeBetween(
            column="amount", min_value=MEAN_RANGE[0], max_value=MEAN_RANGE[1]
        ),
        "freshness": gxe.ExpectColumnMaxToBeBetween(column="ts", min_value=now - timedelta(days=1)),
        # GX has no SQL rule on pandas: the closest is a query-free proportion check.
        "big_refunds": gxe.ExpectColumnValuesToBeBetween(
            column="amount",
            max_value=5000,
            row_condition='status=="refunded"',
            condition_parser="pandas",
            mostly=0.0,
        ),
    }
    suite = gx.ExpectationSuite(name="orders")
    for name, e in expectations.items():
        e.meta = {"rule": name}
        suite.add_expectation(e)
    result = batch.validate(suite)
    verdicts: dict[str, bool] = {}
    for r in result.results:
        name = r.expectation_config.meta["rule"]
        verdicts[name] = bool(r.success)
        if name == "big_refunds":
            # unexpected rows among refunds -> share of all rows, as the SQL rule measures it
            verdicts[name] = r.result["unexpected_count"] <= REFUND_LIMIT * len(df)
    return {
        "load_s": loaded - began,
        "validate_s": time.monotonic() - loaded,
        "verdicts": verdicts,
    }


def run_pandera(warehouse: str, rows: int) -> dict[str, Any]:
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

    began = time.monotonic()
    df = load_pandas(warehouse)
    loaded = time.monotonic()
    low, high = row_bounds(rows)
    now = datetime.now(UTC).replace(tzinfo=None)
    pattern = full_match(CODE)
    schema = pa.DataFrameSchema(
        {
            "id": pa.Column(nullable=False, unique=True),
            "amount": pa.Column(
                nullable=True,
                checks=[
                    pa.Check.in_range(0, AMOUNT_MAX, name="amount_range"),
                    pa.Check(
                        lambda s: MEAN_RANGE[0] <= s.mean() <= MEAN_RANGE[1], name="mean_amount"
                    ),
                ],
            ),
            "status": pa.Column(nullable=True, checks=pa.Check.isin(STATUSES)),
            "code": pa.Column(checks=pa.Check.str_matches(pattern, name="code_pattern")),
            "ts": pa.Column(
                checks=pa.Check(lambda s: s.max() >= now - timedelta(days=1), name="freshness")
            ),
        },
        checks=[
            pa.Check(lambda d: d["amount"].isna().mean() <= 0.05, name="amount_null_rate"),
            pa.Check(lambda d: low <= len(d) <= high, name="row_count"),
            pa.Check(
                lambda d: (
                    ((d["status"] == "refunded") & (d["amount"] > 5000)).mean() <= REFUND_LIMIT
                ),
                name="big_refunds",
            ),
        ],
    )
    failed: set[str] = set()
    try:
        schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        for column, check in zip(cases["column"], cases["check"], strict=True):
            failed.add(_pandera_name(str(column), str(check)))
    verdicts = {rule: rule not in failed for rule in RULES}
    return {"load_s": loaded - began, "validate_s": time.monotonic() - loaded, "verdicts": verdicts}


def _pandera_name(column: str, check: str) -> str:
    if check in RULES:
        return check
    builtin = {
        ("id", "not_nullable"): "id_not_null",
        ("id", "field_uniqueness"): "id_unique",
        ("amount", "in_range"): "amount_range",
        ("status", "isin"): "status_accepted",
        ("code", "str_matches"): "code_pattern",
    }
    for (col, prefix), rule in builtin.items():
        if column == col and check.startswith(prefix):
            return rule
    raise KeyError((column, check))


CHILDREN = {"assay": run_assay, "duckdb": run_duckdb, "gx": run_gx, "pandera": run_pandera}


# -- the parent: keeps small, measures the children ---------------------------------------------


def measure(args: list[str]) -> tuple[float, int, str]:
    """Run this file with `args` in a child; (wall seconds, peak RSS in bytes, stdout)."""
    cmd = [sys.executable, __file__, *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - began
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code:
            raise RuntimeError(f"{' '.join(cmd)} exited {code}:\n{err.read()[-3000:]}")
        return wall, usage.ru_maxrss * 1024, out.read()


def run_size(
    rows: int, work: Path, tools: list[str], pandas_max: int, repeat: int
) -> list[dict[str, Any]]:
    """Each tool `repeat` times (rounds interleave the tools); the median wall and validate
    times and the largest peak are kept."""
    warehouse = work / f"orders_{rows}"
    if not (warehouse / "silver" / "orders" / "_delta_log").is_dir():
        print(f"generating {rows:,} rows ...", flush=True)
        wall, _, _ = measure(["_generate", str(rows), str(warehouse)])
        print(f"  {wall:.1f} s", flush=True)
    size = sum(p.stat().st_size for p in (warehouse / "silver" / "orders").glob("*.parquet"))
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    failures: dict[str, str] = {}
    for round_ in range(repeat):
        for tool in tools:
            if (tool in PANDAS_TOOLS and rows > pandas_max) or tool in failures:
                continue
            print(f"{tool} on {rows:,} rows, round {round_ + 1} ...", flush=True)
            try:
                wall, rss, stdout = measure(["_run", tool, str(rows), str(warehouse)])
            except RuntimeError as exc:
                print(f"  FAILED: {exc}", flush=True)
                failures[tool] = str(exc)[-500:]
                continue
            info = json.loads(stdout.strip().splitlines()[-1])
            print(
                f"  wall {wall:.1f} s (load {info['load_s']:.1f} s, validate "
                f"{info['validate_s']:.1f} s), peak {rss / 2**30:.2f} GiB",
                flush=True,
            )
            runs[tool].append({"wall": wall, "rss": rss, **info})
    out: list[dict[str, Any]] = []
    for tool in tools:
        base = {"rows": rows, "tool": tool, "bytes": size}
        if tool in PANDAS_TOOLS and rows > pandas_max:
            print(f"{tool}: skipped at {rows:,} rows (needs the whole table in pandas)")
            out.append({**base, "skipped": True})
        elif tool in failures:
            out.append({**base, "failed": failures[tool]})
        else:
            done = runs[tool]
            out.append(
                {
                    **base,
                    "runs": len(done),
                    "wall": statistics.median(r["wall"] for r in done),
                    "load_s": statistics.median(r["load_s"] for r in done),
                    "validate_s": statistics.median(r["validate_s"] for r in done),
                    "rss": max(r["rss"] for r in done),
                    "verdicts": done[-1]["verdicts"],
                    "stable": all(r["verdicts"] == done[0]["verdicts"] for r in done),
                }
            )
    return out


def agreement(results: list[dict[str, Any]]) -> list[str]:
    """Rules on which the tools that ran gave different verdicts."""
    ran = [r for r in results if "verdicts" in r]
    problems = []
    for rule in RULES:
        seen = {r["tool"]: r["verdicts"].get(rule) for r in ran}
        if len(set(seen.values())) > 1:
            problems.append(f"{rule}: {seen}")
    return problems


START, END = "<!-- contracts-bench:start -->", "<!-- contracts-bench:end -->"
HEADER = "## Contracts: assay vs Great Expectations vs pandera"


def report(results: list[dict[str, Any]], versions: dict[str, str]) -> str:
    gib = 2**30
    lines = [
        START,
        "",
        f"Machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
        + "; ".join(f"{k} {v}" for k, v in versions.items())
        + f"; recorded {time.strftime('%Y-%m-%d')}.",
        "",
        "| rows | tool | runs | wall s | load s | validate s | peak GiB | wall vs assay | "
        "peak vs assay | verdicts |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for rows in sorted({r["rows"] for r in results}):
        group = [r for r in results if r["rows"] == rows]
        base = next((r for r in group if r["tool"] == "assay" and "wall" in r), None)
        for r in group:
            if r.get("skipped"):
                lines.append(
                    f"| {rows:,} | {r['tool']} | - | skipped: whole table in pandas |||||||"
                )
                continue
            if "failed" in r:
                lines.append(f"| {rows:,} | {r['tool']} | - | failed (see the run log) |||||||")
                continue
            ratio = f"{r['wall'] / base['wall']:.2f}x" if base else "-"
            mem = f"{r['rss'] / base['rss']:.2f}x" if base else "-"
            failed = [k for k in RULES if not r["verdicts"].get(k, False)]
            if not r["stable"]:
                failed.append("(verdicts changed between runs)")
            lines.append(
                f"| {rows:,} | {r['tool']} | {r['runs']} | {r['wall']:.1f} | {r['load_s']:.1f} | "
                f"{r['validate_s']:.1f} | {r['rss'] / gib:.2f} | {ratio} | {mem} | "
                f"fail: {', '.join(failed) or 'none'} |"
            )
        problems = agreement(group)
        notes.append(
            f"- {rows:,} rows (Parquet files on disk {group[0]['bytes'] / gib:.2f} GiB): "
            + ("the tools that ran agree on every rule." if not problems else "DISAGREE: ")
            + "; ".join(problems)
        )
    lines += ["", *notes, ""]
    lines += [
        "wall = the child process from start to exit (imports included); load = reading the",
        "Delta table into pandas (GX, pandera); validate = the checks themselves (medians of",
        "the runs, one fresh process each); peak = the largest max RSS of the child's runs.",
        "Ratios are tool / assay (above 1: assay is faster or smaller).",
        "",
        END,
    ]
    return "\n".join(lines)


def write_section(body: str) -> None:
    intro = (
        f"{HEADER}\n\n"
        "`python benchmarks/contracts_vs_gx.py` validates one seeded orders table (Delta)\n"
        "with the same ten rules in each tool, each tool in its own process: assay's\n"
        "`check_dataset` (ODCS contract), Great Expectations Core (pandas), pandera (pandas)\n"
        "and one hand-written DuckDB aggregate query over the same Arrow dataset.\n\n"
    )
    replace_block(HERE / "RESULTS.md", body, START, END, intro)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("duckdb", "deltalake", "pandas", "pyarrow", "great_expectations", "pandera"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_generate":
        generate(int(sys.argv[2]), sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_run":
        tool, rows, warehouse = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        print(json.dumps(CHILDREN[tool](warehouse, rows), default=bool))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000_000])
    parser.add_argument("--tools", nargs="+", default=TOOLS, choices=TOOLS)
    parser.add_argument("--pandas-max", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (median kept)")
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args()
    results = []
    for rows in args.sizes:
        results += run_size(rows, args.work, args.tools, args.pandas_max, args.repeat)
    body = report(results, versions())
    print(body)
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
