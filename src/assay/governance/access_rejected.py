"""Rejected rows are read under their dataset's policy (issue 17, finding 1).

A quarantine table (`quarantine.<layer>_<name>`), a stream's dead letters
(`deadletter.<layer>_<name>`) and a window's late rows (`late.<layer>_<window>`, governed
by the stream the rows came from) hold the dataset's own records, often in the clear: a
raw record quotes every column, a reason may quote a value, a batch or message key may be
a customer id. So a role reads them only as it reads the dataset:

- it needs a grant on the rejected table *and* on the dataset (a grant on `quarantine.*`
  alone is not enough);
- the dataset's masks and denied columns apply to the columns of the same name (late rows
  hold the stream's columns), and so does its row filter, where the table has the
  filter's columns;
- the raw text (`RAW_COLUMNS`) is readable only by a role that sees the dataset as stored:
  no mask, no row filter, no denied column. For any other role those columns are denied,
  and a read naming them fails with the role, the table, the column and why.

Where the row filter's columns are missing (quarantine and dead-letter tables hold
records as text), the filter cannot apply: the role sees every rejected row's metadata
(rule, run, time, file), never its values.

Example:
    >>> governing_dataset("quarantine.silver_customers", {})
    'silver.customers'
    >>> governing_dataset("late.silver_card_activity_10m",
    ...     {"late.silver_card_activity_10m": "bronze.live_transactions"})
    'bronze.live_transactions'
    >>> governing_dataset("silver.customers", {}) is None
    True
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

#: The layers of rejected-row tables.
FAMILIES = ("quarantine", "deadletter", "late")
#: Columns of rejected rows that hold a record's values as text.
RAW_COLUMNS = frozenset({"raw_record", "reason", "batch_key", "record_key", "_key"})
#: The label a denied raw column carries in `TableAccess.denied`.
RAW = "raw record"


def governing_dataset(
    table: str, rejected: Mapping[str, str], datasets: Collection[str] = ()
) -> str | None:
    """The dataset whose policy governs `table`, None when `table` holds no rejected rows.

    Args:
        table: `layer.name` read.
        rejected: rejected table -> its dataset, as the project names them (a late table
            -> its stream; names whose layer part holds `_`).
        datasets: the project's datasets (a dataset in a layer named `late` is itself).
    """
    if table in rejected:
        return rejected[table]
    family, _, rest = table.partition(".")
    if family not in FAMILIES or table in datasets:
        return None
    layer, sep, name = rest.partition("_")
    return f"{layer}.{name}" if sep and layer and name else None


def rejected_tables(specs: Iterable[Any]) -> dict[str, str]:
    """Rejected table -> its dataset, for a project's dataset specs (each with `name` and
    `producer`; a stream's producer lists its `windows`, whose late rows are its own).

    Example:
        >>> from types import SimpleNamespace as S
        >>> stream = S(name="bronze.events", producer=S(windows=[S(name="silver.per_min")]))
        >>> sorted(rejected_tables([stream]).items())[-1]
        ('quarantine.bronze_events', 'bronze.events')
    """
    found = {}
    for spec in specs:
        layer, _, name = spec.name.partition(".")
        for family in ("quarantine", "deadletter"):
            found[f"{family}.{layer}_{name}"] = spec.name
        for window in getattr(spec.producer, "windows", None) or ():
            w_layer, _, w_name = window.name.partition(".")
            found[f"late.{w_layer}_{w_name}"] = spec.name
    return found


class Access(Protocol):
    """What a role sees of a table (assay.governance.access.TableAccess)."""

    @property
    def masks(self) -> Mapping[str, str]: ...
    @property
    def denied(self) -> Mapping[str, str]: ...
    @property
    def row_filter(self) -> str | None: ...
    @property
    def reasons(self) -> Mapping[str, str]: ...
    @property
    def is_open(self) -> bool: ...


@dataclass(frozen=True)
class Narrowed:
    """A rejected table's access once its dataset's policy applied (see `TableAccess`)."""

    masks: dict[str, str]
    denied: dict[str, str]
    row_filter: str | None
    reasons: dict[str, str]


def rejected_access(
    own: Access, dataset: Access | None, dataset_name: str, schema: pa.Schema
) -> Narrowed:
    """What a role sees of a rejected table: its own access (grants, patterns naming it)
    narrowed by its dataset's (see the module).

    Args:
        own: the role's access to the rejected table by its own name.
        dataset: the role's access to the dataset; None when the dataset is not built
            (what the role would see of it cannot be told: the raw text is denied).
        dataset_name: the dataset's `layer.name`.
        schema: the rejected table's schema.
    """
    from assay.governance.access_sql import predicate_columns

    masks = dict(own.masks)
    denied = dict(own.denied)
    reasons = dict(own.reasons)
    filters = [own.row_filter] if own.row_filter else []
    names = {n.lower(): n for n in schema.names}
    if dataset is not None:
        for column, kind in dataset.masks.items():
            if column.lower() in names:
                masks[names[column.lower()]] = kind
        for column, label in dataset.denied.items():
            if column.lower() in names:
                denied[names[column.lower()]] = label
        if dataset.row_filter and predicate_columns(dataset.row_filter) <= set(names):
            filters.append(dataset.row_filter)
    why = _why_not_open(dataset, dataset_name)
    if why is not None:
        for column in schema.names:
            if column.lower() in RAW_COLUMNS:
                denied[column] = RAW
                reasons[column] = why
    for column in denied:
        masks.pop(column, None)
    row_filter = " AND ".join(f"({p})" for p in filters) if len(filters) > 1 else None
    row_filter = filters[0] if len(filters) == 1 else row_filter
    return Narrowed(masks, denied, row_filter, reasons)


def _why_not_open(dataset: Access | None, name: str) -> str | None:
    """Why the role may not read `name`'s records as text (None: it may)."""
    if dataset is None:
        return f"{name} is not built, so what the role may see of its records cannot be told"
    if dataset.is_open:
        return None
    seen = []
    if dataset.masks:
        seen.append(f"masked {', '.join(sorted(dataset.masks))}")
    if dataset.denied:
        seen.append(f"denied {', '.join(sorted(dataset.denied))}")
    if dataset.row_filter:
        seen.append(f"rows filtered by {dataset.row_filter}")
    return f"it holds {name}'s records as text, and the role reads {name} {'; '.join(seen)}"
