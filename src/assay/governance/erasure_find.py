"""Find every place a data subject is held: the plan of an erasure (`assay forget`).

A subject is named by a column and a value (`customer_id=123`). Its rows are found in:

- every table with a column of that name, or one derived from it through column lineage
  (IDENTITY or TRANSFORMATION edges: a cast or a rename still holds the value);
- every table holding one of the subject's own keys: an identifier (a feature entity's
  join key such as a card, a contract's primary key such as a customer id) whose every
  row with the subject's values belongs to the subject, followed to a fixpoint (an email
  gives the customer id, which gives the cards), so gold tables, training sets and
  online features kept per card are found whatever identifier named the subject, and a
  key shared with another subject (a merchant) never is;
- quarantine, dead-letter and request-log tables, whose raw records are parsed and matched
  by key (see erasure_match);
- the online store, per feature view keyed by one of those columns;
- the source files the project ingests (listed for deletion at the source).

Example:
    >>> Subject.parse("customer_id=123")
    Subject(column='customer_id', value='123')
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from assay.errors import UsageError
from assay.governance.erasure_match import Needles, plain, raw_columns, row_mask, typed
from assay.governance.erasure_sources import SourceFile, source_files

if TYPE_CHECKING:
    from assay.runtime import Runtime

log = logging.getLogger("assay.governance")

#: Lineage edges whose target column still holds the source column's value.
_VALUE_KEEPING = frozenset({"IDENTITY", "TRANSFORMATION"})


@dataclass(frozen=True)
class Subject:
    """The person to forget: a column and their value in it (as text)."""

    column: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Subject:
        """`column=value`, as `--subject` takes it.

        Example:
            >>> Subject.parse(" email = a@b.org ")
            Subject(column='email', value='a@b.org')
        """
        column, eq, value = text.partition("=")
        if not eq or not column.strip() or not value.strip():
            raise UsageError(
                f"invalid subject {text!r}",
                hint="name the subject as column=value, e.g. --subject customer_id=123",
            )
        return cls(column.strip(), value.strip())


@dataclass
class TablePlan:
    """One table holding the subject: how its rows are matched and how many there are.

    Attributes:
        table: `layer.name`.
        columns: typed column -> the subject's values in it.
        raw: raw-record columns matched by key.
        rows: rows of the subject in the table's current version.
        hold: the reason of a legal hold on the table (then it is skipped), else None.
    """

    table: str
    columns: dict[str, frozenset[str]]
    raw: list[str]
    rows: int
    hold: str | None = None

    @property
    def kind(self) -> str:
        """What the table is, in words (a quarantine, a training set...)."""
        layer = self.table.split(".", 1)[0]
        kinds = {
            "quarantine": "quarantined records",
            "deadletter": "dead letters",
            "late": "late data",
            "training": "training set",
            "logs": "request log",
        }
        return kinds.get(layer, "table")


@dataclass(frozen=True)
class OnlinePlan:
    """A feature view of the online store keyed by a column holding the subject."""

    view: str
    column: str
    values: frozenset[str]
    rows: int


@dataclass
class Plan:
    """Everything an erasure will touch (`assay forget --dry-run` prints it)."""

    subjects: list[Subject]
    needles: Needles
    tables: list[TablePlan] = field(default_factory=list)
    online: list[OnlinePlan] = field(default_factory=list)
    sources: list[SourceFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def find(rt: Runtime, subjects: Sequence[Subject], holds: Mapping[str, str]) -> Plan:
    """The plan of forgetting `subjects` in `rt`'s project; `holds` maps held tables to
    their hold's reason (those are planned, and skipped when erasing)."""
    if not subjects:
        raise UsageError("no subject to forget", hint="pass --subject customer_id=123")
    if "://" in rt.warehouse.root:
        # The proof reads every file and log entry under the warehouse folder: an object
        # store's listing is not implemented, and a proof that looked nowhere proves nothing.
        raise UsageError(
            "erasure needs a warehouse on a local or mounted file system",
            where=rt.warehouse.root,
            hint="mount the bucket (e.g. with s3fs or gcsfuse) and point warehouse: at it",
        )
    tables = {name: rt.warehouse.schema(name) for name in rt.warehouse.list_tables()}
    keys: dict[str, set[str]] = {}
    for subject in subjects:
        keys.setdefault(subject.column, set()).add(subject.value)
    notes: list[str] = []
    for column in sorted(keys):
        if not any(column in schema.names for schema in tables.values()):
            notes.append(f"no table has a column named {column!r}: check the subject's column")
    keys = _closure(rt, tables, keys, notes)
    needles = Needles({c: frozenset(v) for c, v in keys.items()})
    plan = Plan(list(subjects), needles, notes=notes)
    plan.tables = _table_plans(rt, tables, needles, holds)
    extra = _identifying_values(rt, needles, tables)
    if extra:
        # Values only the subject has (their email) find their rows where no key is kept
        # (a mailing list built from emails alone), and the proof looks for them anywhere.
        merged = {c: keys.get(c, set()) | set(extra.get(c, ())) for c in {*keys, *extra}}
        needles = Needles({c: frozenset(v) for c, v in merged.items()}, extra)
        plan.needles = needles
        plan.tables = _table_plans(rt, tables, needles, holds)
    plan.online = _online_plans(rt, needles)
    plan.sources = source_files(rt, needles)
    return plan


#: Rounds of following the subject's own keys (email -> customer -> cards): a person's
#: identifiers chain a few hops deep; more rounds than this means keys that link everyone.
_MAX_ROUNDS = 5


def _closure(
    rt: Runtime, tables: Mapping[str, pa.Schema], subject: Mapping[str, set[str]], notes: list[str]
) -> dict[str, set[str]]:
    """Column -> the subject's values, followed to a fixpoint: the rows of the values known
    so far (in the forms tables store them: see `_stored_forms`) give the person's other
    identifiers (their customer id from their email, their cards from their customer id)
    that belong to them alone, whose rows give more."""
    identifiers = _identifier_columns(rt)
    derived = _derived_columns(rt, set(subject) | identifiers, tables, notes)
    clear = {c: set(v) for c, v in subject.items()}
    looked: dict[str, set[str]] = {}
    owners: dict[str, set[str]] = {}
    shared: dict[str, set[str]] = {}
    for _ in range(_MAX_ROUNDS + 1):
        keys = _stored_forms(rt, clear, derived)
        fresh = {c for c, values in keys.items() if values != looked.get(c)}
        if not fresh:
            return keys
        found = _linked_keys(rt, tables, keys, identifiers - set(subject), fresh)
        for key, (mine, others) in found.items():
            owners.setdefault(key, set()).update(mine)
            shared.setdefault(key, set()).update(others)
        # A value seen with another subject in any table so far is shared (a merchant).
        clear = {c: set(v) for c, v in subject.items()}
        for key, mine in owners.items():
            if mine - shared.get(key, set()):
                clear.setdefault(key, set()).update(mine - shared.get(key, set()))
        looked = keys
    notes.append(f"the subject's keys were followed {_MAX_ROUNDS} rounds and still grew")
    return keys


def _stored_forms(
    rt: Runtime, clear: Mapping[str, set[str]], derived: Mapping[str, Mapping[str, str]]
) -> dict[str, set[str]]:
    """The subject's values as tables store them: in columns derived from theirs through
    lineage, and hashed or tokenized where a source masks them at ingest."""
    keys = {c: set(v) for c, v in clear.items()}
    for columns in derived.values():
        for column, source in columns.items():
            if clear.get(source):
                keys.setdefault(column, set()).update(clear[source])
    for column, forms in _masked_forms(rt, keys).items():
        keys[column].update(forms)
    return keys


def _identifier_columns(rt: Runtime) -> set[str]:
    """Columns that name one person or one thing of theirs: feature entities' join keys
    (a card), contracts' primary keys (a customer id) and their unique classified columns
    (an email declared unique)."""
    found = {k for view in rt.feature_views.values() for k in view.join_keys}
    for contracts in rt.contracts.values():
        for contract in contracts:
            if len(contract.primary_key) == 1:
                found.add(contract.primary_key[0])
            for column in contract.columns:
                if (column.primary_key and len(contract.primary_key) <= 1) or (
                    column.unique and column.classification
                ):
                    found.add(column.name)
    return found


def _table_plans(
    rt: Runtime, tables: Mapping[str, pa.Schema], needles: Needles, holds: Mapping[str, str]
) -> list[TablePlan]:
    found = (_table_plan(rt, name, schema, needles, holds) for name, schema in tables.items())
    return [plan for plan in found if plan is not None]


def _table_plan(
    rt: Runtime, name: str, schema: pa.Schema, needles: Needles, holds: Mapping[str, str]
) -> TablePlan | None:
    columns = {f.name: needles.keys[f.name] for f in schema if f.name in needles.keys}
    raw = raw_columns(name, schema)
    if not columns and not raw:
        return None
    rows = count_rows(rt, name, columns, raw, needles)
    if rows == 0:
        return None
    return TablePlan(name, columns, raw, rows, holds.get(name))


def count_rows(
    rt: Runtime,
    name: str,
    columns: Mapping[str, Iterable[str]],
    raw: Sequence[str],
    needles: Needles,
) -> int:
    """Rows of `name`'s current version holding the subject."""
    dataset = rt.warehouse.dataset(name)
    found = 0
    for batch in dataset.to_batches(columns=[*columns, *raw]):
        found += int(
            pc.sum(pc.cast(row_mask(batch, columns, raw, needles), pa.int64())).as_py() or 0
        )
    return found


def matched_rows(rt: Runtime, plan: TablePlan, needles: Needles, wanted: Sequence[str]) -> pa.Table:
    """Columns `wanted` of the subject's rows of `plan.table` (current version)."""
    dataset = rt.warehouse.dataset(plan.table)
    used = list(dict.fromkeys([*plan.columns, *plan.raw, *wanted]))
    parts = []
    for batch in dataset.to_batches(columns=used):
        mask = row_mask(batch, plan.columns, plan.raw, needles)
        parts.append(pa.Table.from_batches([batch]).filter(mask).select(list(wanted)))
    schema = dataset.schema
    empty = pa.table({c: pa.array([], schema.field(c).type) for c in wanted})
    return pa.concat_tables([empty, *parts]) if parts else empty


def _derived_columns(
    rt: Runtime, names: set[str], tables: Mapping[str, pa.Schema], notes: list[str]
) -> dict[str, dict[str, str]]:
    """Table -> {column derived from a subject column: that subject column}, following
    value-keeping column lineage edges downstream, hop by hop."""
    try:
        from assay.lineage.build import build_lineage
        from assay.lineage.graph import Node

        graph = build_lineage(rt)
    except Exception as exc:  # lineage is best effort: the name match still applies
        notes.append(f"column lineage could not be built ({exc}); matched by column name only")
        return {}
    out: dict[str, dict[str, str]] = {}
    for name in names:
        frontier = [Node("dataset", t, name) for t, s in tables.items() if name in s.names]
        seen = set(frontier)
        while frontier:
            node = frontier.pop()
            for edge in graph.downstream(node, depth=1):
                target = edge.target
                keeps = edge.type == "DIRECT" and edge.subtype in _VALUE_KEEPING
                if not keeps or target.kind != "dataset" or target.column is None:
                    continue
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
                    if target.column != name:
                        out.setdefault(target.name, {})[target.column] = name
    return out


def _masked_forms(rt: Runtime, keys: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The subject's values as sources that mask them at ingest store them: a `hash` of
    the value, or its `tokenize` token under every version of the key ring (tables not
    re-tokenized since a rotation, and their older versions, hold older tokens)."""
    masks = {
        (column, kind)
        for spec in rt.dag.specs.values()
        for column, kind in spec.protection.mask.items()
        if column in keys and kind in ("hash", "tokenize")
    }
    if not masks:
        return {}
    from assay.governance.keys import TokenKeys
    from assay.governance.masking import mask_arrow

    rings: list[TokenKeys | None] = [None]
    if any(kind == "tokenize" for _, kind in masks):
        ring = TokenKeys.load(rt.config.governance, rt.root)
        rings = [
            TokenKeys({v: ring.versions[v] for v in range(1, top + 1)}, ring.where)
            for top in range(1, ring.current + 1)
        ]
    forms: dict[str, set[str]] = {}
    for column, kind in sorted(masks):
        values = pa.array(sorted(keys[column]), pa.string())
        for keys_up_to in rings if kind == "tokenize" else [None]:
            masked = mask_arrow(kind, values, keys_up_to).to_pylist()
            forms.setdefault(column, set()).update(masked)
    return forms


def _linked_keys(
    rt: Runtime,
    tables: Mapping[str, pa.Schema],
    keys: Mapping[str, set[str]],
    candidates: set[str],
    fresh: set[str],
) -> dict[str, tuple[set[str], set[str]]]:
    """Per identifier column (`candidates`, those not known yet): its values on the
    subject's rows, in tables holding a `fresh` subject column too, and those of them
    also on other subjects' rows (shared: a merchant, left alone)."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for name, schema in tables.items():
        held = [c for c in keys if c in fresh and c in schema.names]
        for key in (k for k in candidates - set(keys) if k in schema.names):
            for column in held:
                mine, others = _key_owners(rt, name, column, keys[column], key)
                into = found.setdefault(key, (set(), set()))
                into[0].update(mine)
                into[1].update(others)
    return found


def _key_owners(
    rt: Runtime, name: str, column: str, values: set[str], key: str
) -> tuple[set[str], set[str]]:
    """Values of `key` on the subject's rows of `name`, and those of them also on other
    subjects' rows (older versions' files too: a re-run after an erasure still knows the
    subject's cards)."""
    mine: set[str] = set()
    for batch in table_batches(rt, name, [column, key]):
        is_mine = _is_subject(batch.column(0), values)
        mine |= {str(v) for v in pc.filter(batch.column(1), is_mine).to_pylist() if v is not None}
    return mine, _shared(rt, name, [column, key], values, mine)


def _is_subject(column: pa.Array | pa.ChunkedArray, values: Iterable[str]) -> pa.Array:
    column = plain(column)
    return pc.fill_null(pc.is_in(column, typed(values, column.type)), False)


def _shared(
    rt: Runtime, name: str, columns: Sequence[str], values: set[str], mine: set[str]
) -> set[str]:
    """Which of `mine` (values of `columns[1]`) rows of other subjects hold too: a second
    pass that only looks for those few values (vectorized)."""
    if not mine:
        return set()
    shared: set[str] = set()
    for batch in table_batches(rt, name, columns):
        subject, other = batch.column(0), plain(batch.column(1))
        not_mine = pc.and_(pc.invert(_is_subject(subject, values)), pc.is_valid(subject))
        hit = pc.and_(not_mine, pc.fill_null(pc.is_in(other, typed(mine, other.type)), False))
        shared |= {str(v) for v in pc.filter(other, hit).to_pylist()}
    return shared


def table_batches(rt: Runtime, name: str, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """`columns` of the table's current version, then of the data files on disk that only
    older versions reference (those that have all the columns)."""
    import pyarrow.parquet as pq

    yield from rt.warehouse.dataset(name).to_batches(columns=list(columns))
    root = Path(rt.warehouse.uri(name))
    live = set(rt.warehouse.file_actions(name)["path"].to_pylist())
    for path in sorted(root.rglob("*.parquet")):
        relative = path.relative_to(root).as_posix()
        if relative in live or relative.startswith("_delta_log/"):
            continue
        if set(columns) <= set(pq.read_schema(path).names):
            yield from pq.read_table(path, columns=list(columns)).to_batches()


def _identifying_values(
    rt: Runtime, needles: Needles, tables: Mapping[str, pa.Schema]
) -> dict[str, frozenset[str]]:
    """Text values of the subject's rows in columns classified as personal data (an email,
    a phone) that no other row of the same table holds: the proof looks for them too."""
    from assay.governance.classes import column_classes

    classes = column_classes(rt)
    restricted = set(rt.config.governance.restricted)
    extra: dict[str, set[str]] = {}
    for name, schema in tables.items():
        columns = {c: needles.keys[c] for c in schema.names if c in needles.keys}
        if not columns:
            continue
        personal = [
            c
            for c, found in classes.get(name, {}).items()
            if found & restricted
            and c in schema.names
            and c not in needles.keys
            and pa.types.is_string(schema.field(c).type)
        ]
        for column in personal:
            values = _own_values(rt, name, columns, needles, column)
            if values:
                extra.setdefault(column, set()).update(values)
    return {c: frozenset(v) for c, v in extra.items()}


def _own_values(
    rt: Runtime, name: str, columns: Mapping[str, frozenset[str]], needles: Needles, column: str
) -> set[str]:
    """Values of `column` on the subject's rows that no other row of `name` holds."""
    used = list(dict.fromkeys([*columns, column]))
    mine: set[str] = set()
    for batch in table_batches(rt, name, used):
        values = plain(batch.column(column))
        mine |= {
            v for v in pc.filter(values, row_mask(batch, columns, (), needles)).to_pylist() if v
        }
    if not mine:
        return mine
    wanted = pa.array(sorted(mine), pa.string())
    for batch in table_batches(rt, name, used):
        values = plain(batch.column(column))
        others = pc.invert(row_mask(batch, columns, (), needles))
        hit = pc.and_(others, pc.fill_null(pc.is_in(values, wanted), False))
        mine -= set(pc.filter(values, hit).to_pylist())
    return mine


def _online_plans(rt: Runtime, needles: Needles) -> list[OnlinePlan]:
    """Feature views of the online store keyed by a needle column, with entities held."""
    if not rt.feature_views:
        return []
    store = rt.online_store
    plans = []
    for view in rt.feature_views.values():
        for key in view.join_keys:
            if key in needles.keys:
                rows = store.count_entities(view, key, needles.keys[key])
                if rows:
                    plans.append(OnlinePlan(view.name, key, needles.keys[key], rows))
    return plans
