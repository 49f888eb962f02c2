"""Prove an erasure: scan everything assay keeps for the subject's values.

Every Parquet file under every table of the warehouse is read raw with pyarrow (not
through Delta: files only older versions reference count too), every Delta log entry and
checkpoint is read for statistics and text holding a value, every feature view of the
online store keyed by a subject's column is asked, and every text column of the catalog's
database (check results, alerts, runs, the audit log) is searched. A finding names where
(table and file, log entry, view, catalog table and column), never the value.

The proof names each subject by `subject_hash`: scrypt (Python's `hashlib.scrypt`, as
assay's API keys are stored) of `column\0value` under a random per-erasure salt, with
N = 2**14, r = 8, p = 1 (16 MiB and about 50-80 ms a guess). The audit log keeps, per
subject, the fields `kdf`, `log_n`, `r`, `p`, `salt` and `hash`: whoever knows a subject
can check it was erased (`verify_subject`), while guessing costs a scrypt per value
(10**6 customer ids take a core about a day, not the second a salted SHA-256 took).

Example:
    >>> entry = subject_entry("s4lt", "customer_id", "123")
    >>> verify_subject(entry, "customer_id", "123"), verify_subject(entry, "customer_id", "124")
    (True, False)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.governance.erasure_match import (
    RAW_COLUMNS,
    Needles,
    extra_mask,
    raw_columns,
    row_mask,
)

if TYPE_CHECKING:
    from assay.runtime import Runtime

_RAW_NAMES = frozenset(c for columns in RAW_COLUMNS.values() for c in columns)


@dataclass(frozen=True)
class Finding:
    """Where a subject's value is still held. `current`: in data a read returns today
    (not only in a version before the erasure)."""

    table: str | None
    where: str
    rows: int
    current: bool
    held: bool = False


@dataclass
class Proof:
    """What the scan looked at and what it found."""

    files_scanned: int = 0
    log_files_scanned: int = 0
    online_views_scanned: int = 0
    catalog_tables_scanned: int = 0
    found: list[Finding] = field(default_factory=list)

    def failures(self, purged: bool) -> list[Finding]:
        """Findings that break the erasure: any current one outside a held table, and,
        when history was purged, old versions too."""
        return [f for f in self.found if not f.held and (f.current or purged)]

    def history(self) -> list[Finding]:
        """Findings only in versions before the erasure (time travel)."""
        return [f for f in self.found if not f.current and not f.held]


#: scrypt's cost in the proof: N = 2**LOG_N, block size R, parallelism P.
KDF, LOG_N, R, P = "scrypt", 14, 8, 1


def subject_hash(
    salt: str, column: str, value: str, log_n: int = LOG_N, r: int = R, p: int = P
) -> str:
    """scrypt of `column\0value` under `salt` (hex): names a subject without its value,
    at a cost that makes guessing values slow (see the module)."""
    digest = hashlib.scrypt(
        f"{column}\0{value}".encode(),
        salt=salt.encode(),
        n=2**log_n,
        r=r,
        p=p,
        maxmem=256 * r * 2**log_n,
        dklen=32,
    )
    return digest.hex()


def subject_entry(salt: str, column: str, value: str) -> dict[str, Any]:
    """How the audit log's proof names one subject: the KDF, its cost, salt and hash."""
    return {
        "column": column,
        "kdf": KDF,
        "log_n": LOG_N,
        "r": R,
        "p": P,
        "salt": salt,
        "hash": subject_hash(salt, column, value),
    }


def verify_subject(entry: Mapping[str, Any], column: str, value: str) -> bool:
    """Whether a proof's subject entry (`subject_entry`) names `column=value`."""
    import hmac

    if entry.get("kdf") != KDF or entry.get("column") != column:
        return False
    cost = (int(entry["log_n"]), int(entry["r"]), int(entry["p"]))
    expected = subject_hash(str(entry["salt"]), column, value, *cost)
    return hmac.compare_digest(expected, str(entry["hash"]))


def prove(rt: Runtime, needles: Needles, held: Iterable[str]) -> Proof:
    """Scan the warehouse, its logs, the online store and the catalog (see the module)."""
    held = set(held)
    proof = Proof()
    for table in rt.warehouse.list_tables():
        _scan_table(rt, table, needles, table in held, proof)
    _scan_online(rt, needles, proof)
    _scan_catalog(rt, needles, proof)
    return proof


def _scan_table(rt: Runtime, table: str, needles: Needles, held: bool, proof: Proof) -> None:
    import pyarrow.parquet as pq

    root = Path(rt.warehouse.uri(table))
    live = set(rt.warehouse.file_actions(table)["path"].to_pylist())
    for path in sorted(root.rglob("*.parquet")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("_delta_log/"):
            continue
        proof.files_scanned += 1
        rows = _rows_holding(pq.read_table(path, columns=_wanted(path, needles)), table, needles)
        if rows:
            current = relative in live
            state = "current version" if current else "older versions only"
            proof.found.append(
                Finding(table, f"{table}: {relative} ({state})", rows, current, held)
            )
    _scan_log(root / "_delta_log", table, needles, held, proof)


def _wanted(path: Path, needles: Needles) -> list[str]:
    """The columns of a file the scan needs: needle columns, and text (raw records and,
    when the subject has identifying values, every text column)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    text = (pa.string(), pa.large_string(), pa.string_view())
    return [
        f.name
        for f in schema
        if f.name in needles.keys or (f.type in text and (needles.extra or f.name in _RAW_NAMES))
    ]


def _rows_holding(data: pa.Table, table: str, needles: Needles) -> int:
    columns = {c: needles.keys[c] for c in data.column_names if c in needles.keys}
    mask = row_mask(data, columns, raw_columns(table, data.schema), needles)
    extra, _ = extra_mask(data, needles)
    return int(pc.sum(pc.cast(pc.or_(mask, extra), pa.int64())).as_py() or 0)


def _scan_log(log_dir: Path, table: str, needles: Needles, held: bool, proof: Proof) -> None:
    """Log entries and checkpoints whose statistics or text hold a value: a log entry
    is history (the current version reads only the files' data)."""
    import pyarrow.parquet as pq

    for path in sorted(log_dir.glob("*.json")):
        proof.log_files_scanned += 1
        actions = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if any(_action_holds(a, needles) for a in actions):
            proof.found.append(Finding(table, f"{table}: Delta log {path.name}", 0, False, held))
    for path in sorted(log_dir.glob("*.checkpoint*.parquet")):
        proof.log_files_scanned += 1
        checkpoint = pq.read_table(path).to_pylist()
        if any(_action_holds(_without_nulls(a), needles) for a in checkpoint):
            proof.found.append(
                Finding(table, f"{table}: Delta checkpoint {path.name}", 0, False, held)
            )


def _without_nulls(action: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in action.items() if v is not None}


def _action_holds(action: dict[str, Any], needles: Needles) -> bool:
    for kind in ("add", "remove"):
        entry = action.get(kind) or {}
        stats = entry.get("stats")
        if stats and _stats_hold(json.loads(stats), needles):
            return True
    info = action.get("commitInfo")
    return bool(info) and _text_holds(json.dumps(info), needles)


def _stats_hold(stats: dict[str, Any], needles: Needles) -> bool:
    for bound in ("minValues", "maxValues"):
        for column, value in (stats.get(bound) or {}).items():
            if column in needles.keys and str(value) in needles.keys[column]:
                return True
            if isinstance(value, str) and _text_holds(value, needles):
                return True
    return False


def _text_holds(text: str, needles: Needles) -> bool:
    return needles.in_text(text)


def _scan_online(rt: Runtime, needles: Needles, proof: Proof) -> None:
    if not rt.feature_views:
        return
    store = rt.online_store
    for view in rt.feature_views.values():
        for key in (k for k in view.join_keys if k in needles.keys):
            proof.online_views_scanned += 1
            held = store.count_entities(view, key, needles.keys[key])
            if held:
                proof.found.append(
                    Finding(None, f"online store: view {view.name} ({key})", held, True)
                )


def _scan_catalog(rt: Runtime, needles: Needles, proof: Proof) -> None:
    from assay.governance.erasure_catalog import scan_catalog

    proof.catalog_tables_scanned, found = scan_catalog(rt, needles)
    for where, rows in sorted(found.items()):
        proof.found.append(Finding(None, f"catalog: {where}", rows, True))
