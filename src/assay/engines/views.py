"""Delta tables whose files hold Arrow view types (`string_view`, `binary_view`), made
scannable with filters.

delta-rs writes the files of a MERGE (and of other rewrites it runs through DataFusion) with
`string_view` in their embedded Arrow schema, while the table's schema and the files that
`write_deltalake` wrote say `string`. pyarrow has no comparison kernels between the two, so
once a table mixes both kinds of files, any string filter pushed into the scan (`WHERE
symbol = 'MSFT'`, or the min/max filter DuckDB derives from a join) fails with
"Function 'equal' has no kernel matching input types (string, string_view)".

`scannable_parts` splits a dataset into one dataset per kind of file, each declaring the
types its files really hold, so a filter's literals take the column's own type in each
part. Files are immutable in Delta, so what each one holds is read from its footer once per
process.
"""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.dataset as pads

#: Arrow view types and the plain types a table's schema says instead.
_VIEWS = {pa.string_view(): (pa.string(), pa.large_string()),
          pa.binary_view(): (pa.binary(), pa.large_binary())}  # fmt: skip
#: File path -> the columns it holds as view types (files are immutable).
_seen: dict[str, frozenset[tuple[str, pa.DataType]]] = {}
_seen_lock = threading.Lock()
_MAX_SEEN = 200_000


def _viewable(schema: pa.Schema) -> set[str]:
    """Columns whose type a file might hold as a view type."""
    plain = {t for types in _VIEWS.values() for t in types}
    return {f.name for f in schema if f.type in plain}


def _views_in(fragment: pads.FileFragment, columns: set[str]) -> frozenset[tuple[str, pa.DataType]]:
    """The columns of `columns` that the file holds as view types (its footer, read once)."""
    key = fragment.path
    with _seen_lock:
        if key in _seen:
            return _seen[key]
    physical = fragment.physical_schema
    found = frozenset((f.name, f.type) for f in physical if f.name in columns and f.type in _VIEWS)
    with _seen_lock:
        if len(_seen) >= _MAX_SEEN:
            _seen.clear()
        _seen[key] = found
    return found


def scannable_parts(dataset: pads.Dataset) -> list[pads.Dataset]:
    """`dataset` as parts that each scan with filters: one per set of view-typed columns
    among its files, whose schema declares those types. A dataset with no view-typed files
    (the usual case) comes back as it is.

    Example:
        >>> import tempfile, pyarrow.parquet as pq
        >>> folder = tempfile.mkdtemp()
        >>> for n, kind in enumerate([pa.string_view(), pa.string()]):
        ...     pq.write_table(pa.table({"s": pa.array(["a"], kind)}), f"{folder}/{n}.parquet")
        >>> data = pads.dataset(folder, schema=pa.schema({"s": pa.string()}))
        >>> sorted(str(part.schema.field("s").type) for part in scannable_parts(data))
        ['string', 'string_view']
    """
    if not isinstance(dataset, pads.FileSystemDataset):
        return [dataset]
    columns = _viewable(dataset.schema)
    if not columns:
        return [dataset]
    groups: dict[frozenset[tuple[str, pa.DataType]], list[pads.FileFragment]] = {}
    for fragment in dataset.get_fragments():
        groups.setdefault(_views_in(fragment, columns), []).append(fragment)
    if len(groups) <= 1 and not next(iter(groups), frozenset()):
        return [dataset]
    return [
        pads.FileSystemDataset(
            fragments, _declaring(dataset.schema, views), dataset.format, dataset.filesystem
        )
        for views, fragments in groups.items()
    ]


def _declaring(schema: pa.Schema, views: frozenset[tuple[str, pa.DataType]]) -> pa.Schema:
    for name, view_type in views:
        index = schema.get_field_index(name)
        schema = schema.set(index, schema.field(index).with_type(view_type))
    return schema
