"""Who may read what: roles, grants, column masks, row filters and restricted columns.

`roles:` in assay.yaml maps principals (user names, `key:NAME` for the feature server's
API keys) to what they may read; the one read path (assay.reader) asks an `AccessPolicy`
on every read, as a Snowflake or Unity Catalog user would expect of masking and row
access policies:

- A principal holds exactly one role. In none, every read is denied (the error lists the
  roles); in two, the project does not load.
- `grants` are globs over `layer.name`; a table no grant matches is denied.
- `masks` are globs over `layer.name.column` -> `null`, `hash`, `partial` or `tokenize`:
  the role sees every value of the column masked, in results, joins, filters and
  aggregates alike. Where several patterns match, the most specific (the longest; an exact
  name before any glob) wins.
- `row_filters` are globs over `layer.name` -> a DuckDB predicate; the role sees only the
  rows that meet every filter whose pattern matches. Filters see the stored values.
- Columns classified (assay.governance.classes) as one of `governance.restricted` are
  denied to a role not granted that classification (`classifications:`, `*` for all)
  unless the role masks them. A read that touches a denied column fails, naming role,
  dataset, column and classification; reads of other columns go on.

Without `roles:` there is no policy at all (`AccessPolicy.from_config` gives None): every
read is allowed and unmasked, and costs nothing more.

Example:
    >>> import pyarrow as pa
    >>> from assay.config import RoleSettings
    >>> policy = AccessPolicy({"analyst": RoleSettings(principals=["ann"], grants=["silver.*"],
    ...     masks={"silver.*.email": "hash"}, row_filters={"silver.users": "country = 'FR'"})},
    ...     classes=lambda: {"silver.users": {"phone": frozenset({"pii"})}})
    >>> schema = pa.schema([("email", pa.string()), ("phone", pa.string()),
    ...                     ("country", pa.string())])
    >>> access = policy.table(policy.role_of("ann"), "silver.users", schema)
    >>> access.masks, access.denied, access.row_filter
    ({'email': 'hash'}, {'phone': 'pii'}, "country = 'FR'")
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from assay.errors import AccessDeniedError, ProjectError

if TYPE_CHECKING:
    from assay.config import ProjectConfig, RoleSettings
    from assay.engines.base import GovernedRef, TableRef
    from assay.governance.classes import ProjectRuntime
    from assay.governance.keys import TokenKeys

#: table -> column -> its effective classifications.
ColumnClasses = Mapping[str, Mapping[str, frozenset[str]]]


@dataclass(frozen=True)
class TableAccess:
    """What one role sees of one table.

    Attributes:
        role: the role's name.
        table: `layer.name`.
        masks: column -> the mask the role sees it through.
        denied: column -> the restricted classification the role is not granted.
        row_filter: the predicate rows must meet (DuckDB dialect), None for all rows.
        reasons: denied column -> why, when it is denied for another reason than a
            classification (a rejected table's raw records, assay.governance.access_rejected).
        governed_by: for a table of rejected rows, the dataset whose policy it is read
            under; None for a dataset.
    """

    role: str
    table: str
    masks: Mapping[str, str]
    denied: Mapping[str, str]
    row_filter: str | None
    reasons: Mapping[str, str] = field(default_factory=dict)
    governed_by: str | None = None

    @property
    def is_open(self) -> bool:
        """Whether the role sees the table as it is stored (nothing masked, denied or
        filtered)."""
        return not (self.masks or self.denied or self.row_filter)

    def check_columns(self, columns: Iterable[str] | None, schema: pa.Schema) -> None:
        """Deny a read of `columns` (None: every column) that touches a denied column."""
        wanted = list(schema.names) if columns is None else list(columns)
        lowered = {c.lower(): c for c in self.denied}
        for column in wanted:
            denied = lowered.get(column.lower())
            if denied is not None:
                raise self.denial(denied)

    def denial(self, column: str, unsure: bool = False) -> AccessDeniedError:
        """The error for a read of denied `column` (`unsure`: the query may read it, and
        which columns it reads cannot be told)."""
        doubt = (
            "; the query's columns cannot be told apart (COLUMNS(...), a table used as a "
            "value), so it is refused"
            if unsure
            else ""
        )
        if column in self.reasons:
            return AccessDeniedError(
                f"role {self.role!r} may not read column {column!r} of {self.table}: "
                f"{self.reasons[column]}{doubt}",
                where=f"{self.table}.{column}",
                hint=f"select other columns by name (rule, rejected_at, ...), or read it as "
                f"a role that sees {self.governed_by} with no mask, row filter or denied "
                "column",
            )
        return AccessDeniedError(
            f"role {self.role!r} may not read column {column!r} of {self.table} "
            f"(classified {self.denied[column]!r}){doubt}",
            where=f"{self.table}.{column}",
            hint=f"select other columns by name, or ask for a grant of {self.denied[column]!r} "
            f"(roles.{self.role}.classifications) or a mask "
            f"(roles.{self.role}.masks) in assay.yaml",
        )

    def governed(self, ref: TableRef, schema: pa.Schema, keys: TokenKeys | None) -> GovernedRef:
        """`ref` as the engines read it for this role: masked, denied columns empty (never
        shown: a read that names them is refused before), rows filtered."""
        from assay.engines.base import GovernedRef
        from assay.governance.access_sql import dialect_predicate, select_list
        from assay.governance.masking import masked_type

        fields = []
        for f in schema:
            kind = "null" if f.name in self.denied else self.masks.get(f.name)
            fields.append(f.with_type(masked_type(kind, f.type)) if kind else f)
        columns = {
            f.name: ("null" if f.name in self.denied else self.masks.get(f.name)) for f in schema
        }
        dialects = ("duckdb", "spark")
        return GovernedRef(
            table=ref,
            select={d: select_list(columns, d, keys) for d in dialects},
            where={d: dialect_predicate(self.row_filter, d) for d in dialects},
            schema=pa.schema(fields),
        )


class AccessPolicy:
    """The roles of assay.yaml, checked once when the project loads.

    Args:
        roles: role name -> its settings.
        restricted: the classifications denied unless granted (`governance.restricted`).
        classes: gives the effective classifications per table and column (asked on
            every read; assay.governance.classes caches them).
        keys: gives the token key ring (asked only when a role's mask is `tokenize`).
        datasets: gives every table of rejected rows of the project -> its dataset
            (assay.governance.access_rejected.rejected_tables); tables named like one
            and not a dataset are governed by the name's dataset all the same.
        schemas: gives a dataset's schema (None when not built), to read its rejected
            rows under its policy.
    """

    def __init__(
        self,
        roles: Mapping[str, RoleSettings],
        restricted: Collection[str] = ("pii", "restricted"),
        classes: Callable[[], ColumnClasses] | None = None,
        keys: Callable[[], TokenKeys] | None = None,
        datasets: Callable[[], Mapping[str, str]] | None = None,
        schemas: Callable[[str], pa.Schema | None] | None = None,
    ):
        from assay.governance.access_sql import check_predicate

        self.roles = dict(roles)
        self.restricted = frozenset(r.lower() for r in restricted)
        self._classes = classes or dict
        self._keys = keys
        self._datasets = datasets or dict
        self._schemas = schemas or (lambda name: None)
        self._rejected: dict[str, str] | None = None
        self._ring: TokenKeys | None = None
        self._principals: dict[str, str] = {}
        for name, role in self.roles.items():
            for principal in role.principals:
                other = self._principals.setdefault(principal, name)
                if other != name:
                    raise ProjectError(
                        f"principal {principal!r} is in two roles: {other!r} and {name!r}",
                        where="assay.yaml: roles",
                        hint="a principal holds one role; remove it from one of them",
                    )
            for pattern, predicate in role.row_filters.items():
                check_predicate(predicate, f"assay.yaml: roles.{name}.row_filters[{pattern!r}]")

    @classmethod
    def from_config(
        cls,
        config: ProjectConfig,
        classes: Callable[[], ColumnClasses] | None = None,
        keys: Callable[[], TokenKeys] | None = None,
    ) -> AccessPolicy | None:
        """The project's policy; None without `roles:` (every read allowed, unmasked)."""
        if not config.roles:
            return None
        return cls(config.roles, config.governance.restricted, classes, keys)

    @classmethod
    def for_runtime(cls, runtime: ProjectRuntime) -> AccessPolicy | None:
        """The policy of a project's runtime: its roles, the effective classifications of
        its columns (assay.governance.classes, cached) and its token key ring (loaded
        when a role first tokenizes); None without `roles:`."""
        from assay.governance.classes import column_classes
        from assay.governance.keys import TokenKeys

        config = runtime.config
        policy = cls.from_config(
            config,
            lambda: column_classes(runtime),
            lambda: TokenKeys.load(config.governance, runtime.root),
        )
        if policy is not None:
            policy._datasets = lambda: _project_rejected(runtime)
            policy._schemas = lambda name: _built_schema(runtime, name)
        return policy

    def role_of(self, principal: str) -> str:
        """The role `principal` holds; AccessDeniedError when it holds none."""
        role = self._principals.get(principal)
        if role is None:
            raise AccessDeniedError(
                f"principal {principal!r} holds no role, so it may read nothing",
                where="assay.yaml: roles",
                hint=f"roles: {', '.join(sorted(self.roles))}; add {principal!r} to the "
                "principals of one (ASSAY_USER sets who you are)",
            )
        return role

    def table(self, role: str, table: str, schema: pa.Schema) -> TableAccess:
        """What `role` sees of `table` (of this `schema`); AccessDeniedError when no grant
        matches it. A table of rejected rows is read under its dataset's policy too
        (assay.governance.access_rejected)."""
        from assay.governance.access_rejected import governing_dataset, rejected_access

        if self._rejected is None:  # the project's datasets do not change while it is open
            self._rejected = dict(self._datasets())
        rejected = self._rejected
        dataset = governing_dataset(table, rejected, rejected.values())
        own = self._own_table(role, table, schema)
        if dataset is None:
            return own
        self._check_grant(role, dataset, f", whose rejected rows {table} holds")
        dataset_schema = self._schemas(dataset)
        of_dataset = None if dataset_schema is None else self.table(role, dataset, dataset_schema)
        narrowed = rejected_access(own, of_dataset, dataset, schema)
        return TableAccess(
            role,
            table,
            narrowed.masks,
            narrowed.denied,
            narrowed.row_filter,
            narrowed.reasons,
            governed_by=dataset,
        )

    def _check_grant(self, role: str, table: str, why: str = "") -> None:
        """AccessDeniedError unless a grant of `role` matches `table`."""
        if not any(fnmatch.fnmatchcase(table, g) for g in self.roles[role].grants):
            raise AccessDeniedError(
                f"role {role!r} has no grant on {table}{why}",
                where=table,
                hint=f"ask for `{table}` (or a glob matching it) in roles.{role}.grants "
                "in assay.yaml",
            )

    def _own_table(self, role: str, table: str, schema: pa.Schema) -> TableAccess:
        """What `role` sees of `table` by the patterns naming it."""
        settings = self.roles[role]
        self._check_grant(role, table)
        masks = {}
        for column in schema.names:
            kind = _most_specific(settings.masks, f"{table}.{column}")
            if kind is not None:
                masks[column] = kind
        classes = self._classes().get(table, {})
        granted = {c.lower() for c in settings.classifications}
        denied = {}
        for column in schema.names:
            if column in masks or "*" in granted:
                continue
            held = sorted(c for c in classes.get(column, ()) if c.lower() in self.restricted)
            missing = [c for c in held if c.lower() not in granted]
            if missing:
                denied[column] = missing[0]
        filters = [p for g, p in settings.row_filters.items() if fnmatch.fnmatchcase(table, g)]
        row_filter = " AND ".join(f"({p})" for p in filters) if len(filters) > 1 else None
        row_filter = filters[0] if len(filters) == 1 else row_filter
        access = TableAccess(role, table, masks, denied, row_filter)
        if row_filter:
            from assay.governance.access_sql import check_filter_columns

            check_filter_columns(role, table, row_filter, schema)
        return access

    def keys(self, access: Iterable[TableAccess]) -> TokenKeys | None:
        """The token key ring when one of `access` tokenizes (loaded once), else None."""
        if not any("tokenize" in a.masks.values() for a in access):
            return None
        if self._ring is None:
            if self._keys is None:
                raise ProjectError(
                    "a role masks with tokenize but no key ring was given",
                    where="assay.yaml: roles",
                    hint="set $ASSAY_TOKEN_KEY or governance.token_key_file",
                )
            self._ring = self._keys()
        return self._ring


def _project_rejected(runtime: ProjectRuntime) -> dict[str, str]:
    """The project's tables of rejected rows -> their datasets."""
    from assay.governance.access_rejected import rejected_tables

    dag = runtime.dag
    return rejected_tables(dag[name] for name in dag.order())


def _built_schema(runtime: ProjectRuntime, name: str) -> pa.Schema | None:
    """`name`'s schema, None when it is not built (or not a table of the warehouse)."""
    warehouse = runtime.warehouse
    return warehouse.schema(name) if warehouse.exists(name) else None


def _most_specific(patterns: Mapping[str, str], name: str) -> str | None:
    """The value of the pattern that matches `name` most specifically: the exact name,
    else the longest matching glob (the first declared among equals)."""
    if name in patterns:
        return patterns[name]
    best: tuple[int, str] | None = None
    for pattern, value in patterns.items():
        if fnmatch.fnmatchcase(name, pattern) and (best is None or len(pattern) > best[0]):
            best = (len(pattern), value)
    return best[1] if best else None
