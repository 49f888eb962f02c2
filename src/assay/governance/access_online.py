"""Online reads under roles: features as the role may see them.

A feature comes from a column of its view's source table (a listed feature is that
column; an aggregation reads its `column`; a count reads none). A feature whose column
the role may not read is refused; one whose column the role sees masked comes back
masked (`mask_arrow`, the same text the SQL masks give); and an entity none of whose
source rows meet the role's row filter comes back missing, as its rows would be.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from assay.engines.base import Engine
    from assay.features.spec import FeatureView
    from assay.governance.access import TableAccess
    from assay.governance.keys import TokenKeys

#: Per entity: (feature values, event time in microseconds), or None when missing.
OnlineAnswer = list[tuple[dict[str, Any], int | None] | None]


def source_column(view: FeatureView, feature: str) -> str | None:
    """The source column `feature` of `view` is computed from (None: none, a count).

    Example:
        >>> from assay.features.spec import Entity, FeatureView
        >>> view = FeatureView(name="v", entities=[Entity("card", ["card_id"])],
        ...                    source="gold.cards", timestamp="ts", features=["score"])
        >>> source_column(view, "score")
        'score'
    """
    for aggregation in view.aggregations:
        if aggregation.name == feature:
            return aggregation.column
    return feature


def masked_answer(
    view: FeatureView,
    features: Sequence[str],
    access: TableAccess,
    answer: OnlineAnswer,
    keys: TokenKeys | None,
) -> OnlineAnswer:
    """`answer` with each feature whose source column `access` masks masked."""
    from assay.governance.masking import mask_arrow

    kinds: dict[str, str] = {}
    for feature in features:
        kind = access.masks.get(source_column(view, feature) or "")
        if kind:
            kinds[feature] = kind
    if not kinds:
        return answer
    hits = [hit for hit in answer if hit is not None]
    masked_values = {
        feature: mask_arrow(kind, pa.array([hit[0][feature] for hit in hits]), keys).to_pylist()
        for feature, kind in kinds.items()
    }
    out: OnlineAnswer = []
    position = 0
    for hit in answer:
        if hit is None:
            out.append(None)
            continue
        values = dict(hit[0])
        for feature in kinds:
            values[feature] = masked_values[feature][position]
        out.append((values, hit[1]))
        position += 1
    return out


def hide_filtered(
    engine: Engine,
    view: FeatureView,
    entity_keys: Sequence[tuple[Any, ...]],
    access: TableAccess,
    answer: OnlineAnswer,
    version: int,
    schema: pa.Schema,
) -> OnlineAnswer:
    """`answer` with the entities none of whose source rows (table `view.source` at
    `version`, of `schema`) meet the row filter missing; `engine` is the embedded one."""
    from sqlglot import exp

    from assay import sqlbuild
    from assay.engines.base import TableRef
    from assay.governance.access import TableAccess

    join_keys = list(view.join_keys)
    wanted = [key for key, hit in zip(entity_keys, answer, strict=True) if hit is not None]
    if not wanted:
        return answer
    # The keys as stored (no masks: the requester gave them in the clear), filtered rows.
    filtered = TableAccess(access.role, access.table, {}, {}, access.row_filter)
    governed = filtered.governed(TableRef(view.source, version), schema, None)
    conditions = [
        sqlbuild.in_list(key, {row[i] for row in wanted}) for i, key in enumerate(join_keys)
    ]
    layer, _, name = view.source.partition(".")
    query = (
        exp.select(*sqlbuild.columns(join_keys))
        .distinct()
        .from_(sqlbuild.table(name, layer))
        .where(exp.and_(*conditions))
    )
    visible = engine.query(sqlbuild.render(query, "duckdb"), {view.source: governed})
    seen = {tuple(str(v) for v in row.values()) for row in visible.to_pylist()}
    return [
        hit if hit is not None and tuple(str(v) for v in key) in seen else None
        for key, hit in zip(entity_keys, answer, strict=True)
    ]
