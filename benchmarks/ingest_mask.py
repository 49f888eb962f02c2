"""Benchmark: the cost of masks at ingest and of a key rotation, on the fraud demo's
transactions (JSON lines with card numbers and IP addresses).

Sides, each a cold ingest of the same files into a fresh project (best of --repeat):
- baseline: `assay.files(...)` as the demo declares bronze.transactions;
- masked: the same with `mask={"card_number": "tokenize", "ip_address": "hash"}`;
then `rotate_tables` on the masked table (one commit carrying every token to version 2),
against rewriting the same table unchanged (an overwrite of what was read: the floor any
rewrite costs).

Usage: python benchmarks/ingest_mask.py [--transactions 300000] [--repeat 3] [--write]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples" / "fraud"))

import generate  # noqa: E402
from results_file import replace_block  # noqa: E402

import assay  # noqa: E402
from assay.governance.keys import TokenKeys  # noqa: E402
from assay.governance.rotate import rotate_tables  # noqa: E402
from assay.tables import WriteMode  # noqa: E402

START, END = "<!-- ingest-mask:start -->", "<!-- ingest-mask:end -->"
SOURCE = """
import assay
assay.files("bronze.transactions", path="data/transactions/*.jsonl", format="jsonl",
            columns={{"event_time": "TIMESTAMP", "amount": "DOUBLE", "card_id": "BIGINT"}},
            time_column="event_time"{extra})
"""
MASKS = ', mask={"card_number": "tokenize", "ip_address": "hash"}'


def _project(data: Path, extra: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix="ingest-mask-"))
    (root / "assay.yaml").write_text("name: bench\n")
    (root / "pipelines").mkdir()
    (root / "pipelines" / "bronze.py").write_text(SOURCE.format(extra=extra))
    os.symlink(data / "data", root / "data")
    return root


def _ingest(data: Path, extra: str) -> tuple[float, Path, int]:
    root = _project(data, extra)
    began = time.perf_counter()
    result = assay.Project(root).run()
    seconds = time.perf_counter() - began
    assert result.ok, result
    return seconds, root, result.result("bronze.transactions").rows_written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transactions", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the block of RESULTS.md")
    args = parser.parse_args()
    os.environ["ASSAY_TOKEN_KEY"] = "1:" + "ab" * 32
    data = Path(tempfile.mkdtemp(prefix="ingest-mask-data-"))
    generate.generate(data, n_transactions=args.transactions)
    plain, masked, rows = [], [], 0
    keep: Path | None = None
    for _ in range(args.repeat):  # alternated, so a busy moment hits both sides alike
        seconds, root, rows = _ingest(data, "")
        plain.append(seconds)
        shutil.rmtree(root)
        seconds, root, _ = _ingest(data, MASKS)
        masked.append(seconds)
        if keep is not None:
            shutil.rmtree(keep)
        keep = root
    assert keep is not None
    warehouse = assay.Project(keep).runtime.warehouse
    table = warehouse.read("bronze.transactions")
    began = time.perf_counter()
    warehouse.write("bronze.transactions", table, mode=WriteMode.OVERWRITE, metadata={})
    rewrite = time.perf_counter() - began
    ring = TokenKeys.parse(os.environ["ASSAY_TOKEN_KEY"], "bench").rotated()
    began = time.perf_counter()
    (outcome,) = rotate_tables(warehouse, ring, ["bronze.transactions"])
    rotation = time.perf_counter() - began
    assert outcome.version is not None
    best_plain, best_masked = min(plain), min(masked)
    lines = [
        START,
        "## Masks at ingest and key rotation (fraud transactions, JSON lines)",
        "",
        f"{rows:,} rows ingested; `python benchmarks/ingest_mask.py --transactions "
        f"{args.transactions}`; best of {args.repeat}, cold, DuckDB.",
        "",
        "| step | seconds | vs baseline |",
        "| --- | ---: | ---: |",
        f"| ingest, no masks (baseline) | {best_plain:.2f} | 1.00x |",
        f"| ingest, card_number tokenize + ip_address hash | {best_masked:.2f} | "
        f"{best_masked / best_plain:.2f}x |",
        f"| rewrite of the table unchanged (baseline) | {rewrite:.2f} | 1.00x |",
        f"| key rotation of the table ({sum(outcome.before.values()):,} distinct tokens) | "
        f"{rotation:.2f} | {rotation / rewrite:.2f}x |",
        END,
    ]
    block = "\n".join(lines)
    print(block)
    if args.write:
        replace_block(HERE / "RESULTS.md", block, START, END)
    shutil.rmtree(keep)
    shutil.rmtree(data)


if __name__ == "__main__":
    main()
