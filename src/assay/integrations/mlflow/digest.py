"""A stable digest of an Arrow table's content, the same however the table is chunked.

`table_digest` is sha256 over, for each column in schema order: its name, its Arrow type,
the row count, the validity bitmap (one bit per row, 1 = a value, bit-packed) and the Arrow
IPC encoding of its non-null values (one contiguous array). Null slots are dropped before
encoding, so whatever bytes a writer left under a null do not count; chunking and slicing
do not count either (the values are concatenated and the IPC writer writes only the bytes
in use). Schema metadata (pandas' index notes) does not count. Two tables that
`pyarrow.Table.equals` calls equal get the same digest, and one changed value, type, name or
null changes it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Names the rule above, stored with every digest so a later rule can tell them apart.
DIGEST_METHOD = "assay-arrow-v1"


def column_digest(name: str, column: pa.ChunkedArray | pa.Array) -> str:
    """The sha256 (hex) of one column's name, type, validity and non-null values.

    Example:
        >>> a = pa.chunked_array([[1, None], [3]])
        >>> column_digest("x", a) == column_digest("x", pa.array([1, None, 3]))
        True
        >>> column_digest("x", a) == column_digest("x", pa.array([1, None, 4]))
        False
    """
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    sha = hashlib.sha256()
    sha.update(f"{name}\0{values.type}\0{len(values)}\0".encode())
    valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
    sha.update(np.packbits(valid).tobytes())
    present = pc.drop_null(values) if values.null_count else values
    sink = pa.BufferOutputStream()
    batch = pa.record_batch([present], names=["v"])
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    sha.update(sink.getvalue().to_pybytes())
    return sha.hexdigest()


def column_digests(table: pa.Table) -> dict[str, str]:
    """Each column's digest, by name, in the table's order.

    Example:
        >>> list(column_digests(pa.table({"b": [1], "a": ["x"]})))
        ['b', 'a']
    """
    return {name: column_digest(name, table.column(i)) for i, name in enumerate(table.column_names)}


def table_digest(table: pa.Table) -> str:
    """`sha256:<hex>` of the table's content by the rule in this module's docstring.

    Example:
        >>> t = pa.table({"id": [1, 2, 3], "label": ["a", None, "c"]})
        >>> table_digest(t) == table_digest(pa.concat_tables([t.slice(0, 1), t.slice(1)]))
        True
        >>> table_digest(t) == table_digest(t.rename_columns(["id", "y"]))
        False
    """
    return digest_of(column_digests(table), table.num_rows)


def digest_of(columns: dict[str, str], num_rows: int) -> str:
    """The table digest from its column digests (kept with the record, so a mismatch can
    name the columns that differ)."""
    sha = hashlib.sha256(f"{num_rows}\0".encode())
    for name, digest in columns.items():
        sha.update(f"{name}\0{digest}\0".encode())
    return f"sha256:{sha.hexdigest()}"
