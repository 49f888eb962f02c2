"""Dataset and column names: `layer.name`, shared by every room.

`quote` (a column name as quoted SQL text) lives in `assay.sqlbuild`, with the rest of the
SQL that assay generates; it is re-exported here for the rooms that import it from here.
"""

from __future__ import annotations

from assay.errors import DefinitionError
from assay.sqlbuild import quote

__all__ = ["check_columns", "quote", "split_name", "unusable_column"]


def split_name(name: str) -> tuple[str, str]:
    """Split `layer.name`, rejecting names that are not two identifiers.

    Example:
        >>> split_name("silver.transactions")
        ('silver', 'transactions')
    """
    parts = name.split(".")
    if len(parts) != 2 or not all(p.isidentifier() for p in parts):
        raise DefinitionError(
            f"dataset name {name!r} is not of the form layer.name",
            hint="use names like 'bronze.transactions' or 'gold.card_daily'",
        )
    return parts[0], parts[1]


def unusable_column(name: str) -> str | None:
    """Why `name` cannot be a column of a table (None when it can): any text works, quoted,
    except the empty name and a NUL byte, which Parquet, Delta and SQL engines cut or refuse.

    Example:
        >>> unusable_column('x", (SELECT 1) AS "y') is None
        True
        >>> unusable_column("")
        'an empty column name'
    """
    if name == "":
        return "an empty column name"
    if "\x00" in name:
        return f"column name {name!r} holds a NUL byte"
    return None


def check_columns(names: list[str], where: str) -> None:
    """Refuse column names no table can hold, naming the dataset and the column."""
    for name in names:
        problem = unusable_column(name)
        if problem:
            raise DefinitionError(
                f"{problem}: it cannot be stored",
                where=where,
                hint="rename the column where the data is produced",
            )
