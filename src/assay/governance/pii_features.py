"""Classifications of features: a feature carries its source column's classification
(assay.governance.classes), as the feature store serves that column's values, unless it
only counts them (`count`, `count_distinct`). `min` and `max` return a stored value;
`sum` and `mean` are kept classified too (a sum over one row is the value).

Example:
    >>> from types import SimpleNamespace
    >>> from assay.features.spec import Aggregation, Entity, FeatureView
    >>> view = FeatureView(name="cust", entities=[Entity("customer", ["customer_id"])],
    ...     source="silver.customers", timestamp="signup_date", features=[],
    ...     aggregations=[Aggregation("email", "count_distinct", "7d"),
    ...                   Aggregation("email", "max", "7d", name="last_email")])
    >>> table = {"silver.customers": {"email": frozenset({"pii"})}}
    >>> view_classes([view], table)
    {'cust': {'last_email': frozenset({'pii'})}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Aggregations whose result holds none of the values they read.
VALUE_FREE = frozenset({"count", "count_distinct"})


def view_classes(
    views: Iterable[Any], tables: Mapping[str, Mapping[str, frozenset[str]]]
) -> dict[str, dict[str, frozenset[str]]]:
    """view -> feature -> classifications, for the features that carry one."""
    found: dict[str, dict[str, frozenset[str]]] = {}
    for view in views:
        columns = tables.get(view.source, {})
        carried: dict[str, frozenset[str]] = {}
        if not view.aggregations:
            carried = {f: columns[f] for f in view.features if f in columns}
        for aggregation in view.aggregations:
            if aggregation.function in VALUE_FREE or aggregation.column not in columns:
                continue
            carried[aggregation.name] = columns[aggregation.column]
        if carried:
            found[view.name] = carried
    return found
