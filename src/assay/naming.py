"""Dataset names: `layer.name`, shared by every room."""

from __future__ import annotations

from assay.errors import DefinitionError


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


def quote(identifier: str) -> str:
    """A column name as a quoted SQL identifier (any name works, quotes doubled).

    Example:
        >>> print(quote("card id"))
        "card id"
        >>> len(quote('a"b'))  # the inner quote is doubled
        6
    """
    return '"' + identifier.replace('"', '""') + '"'
