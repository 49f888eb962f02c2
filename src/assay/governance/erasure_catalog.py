"""The catalog's part of an erasure: scrub the subject from what assay wrote in words, and
find it anywhere else in the catalog's database.

Free text assay writes about runs, checks and alerts (an error message, a check's detail,
an alert's summary or details) may quote a record. Those columns are scrubbed: a value
named by its key (`customer_id: 123`, `"customer_id": 123` in JSON) becomes `<erased>`,
as does an identifying value (an email) wherever it appears. Every other text column of
every table is only searched: state assay reads back (cursors, intervals) is not edited
behind its owner's back, and the audit log is hash-chained (an edit would break it), so
the subject found there fails the proof, naming the table and column.

Example:
    >>> from assay.governance.erasure_match import Needles
    >>> needles = Needles({"customer_id": frozenset({"123"})})
    >>> scrubbed("1 row failed: customer_id=123, amount=5", needles)
    '1 row failed: customer_id=<erased>, amount=5'
    >>> scrubbed('{"customer_id": 123, "rows": 1}', needles)
    '{"customer_id": "<erased>", "rows": 1}'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from assay.governance.erasure_match import Needles

if TYPE_CHECKING:
    import sqlalchemy as sa

    from assay.runtime import Runtime

#: Free-text columns assay writes in words about runs, checks and alerts: scrubbed.
SCRUBBED: Mapping[str, frozenset[str]] = {
    "assay_check_results": frozenset({"detail", "expected"}),
    "assay_dataset_runs": frozenset({"error", "reason"}),
    "assay_alerts": frozenset({"summary", "details", "fix"}),
    "assay_alert_deliveries": frozenset({"last_error"}),
}

ERASED = "<erased>"


def scrubbed(text: str, needles: Needles) -> str:
    """`text` without the subject's values (JSON stays JSON, see the module)."""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict | list):
        return json.dumps(_scrub_json(parsed, needles))
    for column, pattern in needles.key_patterns().items():
        named = re.compile(pattern + r"(?![\w.])")
        text = named.sub(_keeping_key(column), text)
    for value in (v for values in needles.extra.values() for v in values):
        text = text.replace(value, ERASED)
    return text


def _keeping_key(column: str) -> Callable[[re.Match[str]], str]:
    return lambda match: _keep_key(match.group(0), column)


def _keep_key(found: str, column: str) -> str:
    """`customer_id: 123` -> `customer_id: <erased>` (the key and separator kept)."""
    at = found.index(column) + len(column)
    separator = re.match(r'["\']?\s*[:=]\s*["\']?', found[at:])
    return found[: at + (separator.end() if separator else 0)] + ERASED


def _scrub_json(value: Any, needles: Needles) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            wanted = needles.keys.get(str(key))
            if wanted and not isinstance(item, dict | list) and str(item) in wanted:
                out[key] = ERASED
            else:
                out[key] = _scrub_json(item, needles)
        return out
    if isinstance(value, list):
        return [_scrub_json(item, needles) for item in value]
    if isinstance(value, str) and needles.in_text(value):
        return scrubbed(value, needles)
    return value


def scrub_catalog(rt: Runtime, needles: Needles) -> dict[str, int]:
    """Scrub the SCRUBBED columns; return `table.column` -> rows changed."""
    import sqlalchemy as sa

    engine = rt.catalog.engine
    names = set(sa.inspect(engine).get_table_names())
    changed: dict[str, int] = {}
    with engine.begin() as con:
        for name, columns in SCRUBBED.items():
            if name in names:
                _scrub_table(con, name, sorted(columns), needles, changed)
    return changed


def _scrub_table(
    con: sa.Connection, name: str, columns: Sequence[str], needles: Needles, changed: dict[str, int]
) -> None:
    import sqlalchemy as sa

    table = sa.Table(name, sa.MetaData(), autoload_with=con)
    keys = [c for c in table.primary_key.columns]
    present = [table.c[c] for c in columns if c in table.c]
    if not keys or not present:
        return
    for row in con.execute(sa.select(*keys, *present)).mappings():
        updates = {
            c.name: scrubbed(row[c.name], needles)
            for c in present
            if isinstance(row[c.name], str) and needles.in_text(row[c.name])
        }
        if updates:
            where = sa.and_(*(k == row[k.name] for k in keys))
            con.execute(table.update().where(where).values(**updates))
            for column in updates:
                changed[f"{name}.{column}"] = changed.get(f"{name}.{column}", 0) + 1


def scan_catalog(rt: Runtime, needles: Needles) -> tuple[int, dict[str, int]]:
    """Tables scanned, and `table.column` -> rows whose text still holds the subject, over
    every text column of every table of the catalog's database."""
    import sqlalchemy as sa

    engine = rt.catalog.engine
    inspector = sa.inspect(engine)
    found: dict[str, int] = {}
    names = inspector.get_table_names()
    with engine.connect() as con:
        for name in names:
            texts = [
                c["name"]
                for c in inspector.get_columns(name)
                if isinstance(c["type"], sa.String | sa.Text)
            ]
            if not texts:
                continue
            table = sa.table(name, *[sa.column(c) for c in texts])
            for row in con.execute(sa.select(table)):
                for column, value in zip(texts, row, strict=True):
                    if isinstance(value, str) and needles.in_text(value):
                        found[f"{name}.{column}"] = found.get(f"{name}.{column}", 0) + 1
    return len(names), found
