"""Legal holds: datasets whose rows and old files must be kept, whatever the schedule says.

A hold names one dataset (`silver.customers`) or a glob of them (`silver.*`, `*.orders`),
with the reason (a case number, a regulator's request) and who placed it. While a hold is
active, nothing assay does deletes the dataset's rows or files:

- `assay retention apply` skips the dataset and reports it as held;
- erasure (`assay forget`) skips it and reports it in its proof;
- every vacuum assay does checks `Holds.active` first: `Warehouse.vacuum` itself sits below
  governance and does not know about holds, so its callers must ask.

`place_hold` and `release_hold` are the Python API of `assay hold add|remove`: with
`roles:` in assay.yaml, the principal's role must allow `hold`
(assay.governance.permissions), and each change goes to the audit log with its role.
`Holds` is the store below them, which checks nobody.

Holds live in the catalog's database (table `assay_holds`, created on first use so the
catalog's core schema does not change when holds are not used). A removed hold stays as
history with who released it and when.

Example:
    >>> from assay.catalog import Catalog
    >>> holds = Holds(Catalog("sqlite://"))
    >>> _ = holds.add("silver.*", "case 2026-114", "dpo")
    >>> holds.active("silver.orders").pattern, holds.active("gold.orders")
    ('silver.*', None)
    >>> _ = holds.remove("silver.*", "dpo")
    >>> holds.active("silver.orders") is None
    True
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from assay.catalog.store import Catalog, create_tables
from assay.errors import AssayError, UsageError
from assay.intervals import utcnow

if TYPE_CHECKING:
    from assay.runtime import Runtime

_meta = sa.MetaData()

holds_table = sa.Table(
    "assay_holds",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pattern", sa.String(300), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("held_by", sa.String(200), nullable=False),
    sa.Column("held_at", sa.DateTime, nullable=False),  # naive UTC
    sa.Column("released_by", sa.String(200)),
    sa.Column("released_at", sa.DateTime),
)
_ACTIVE = sa.text("released_at IS NULL")
# One active hold per pattern, even when two processes add it at once.
sa.Index(
    "uq_assay_holds_active",
    holds_table.c.pattern,
    unique=True,
    sqlite_where=_ACTIVE,
    postgresql_where=_ACTIVE,
)

#: `layer.name`, where either part may be a glob (`*`, `?`, `[...]`).
_PATTERN = re.compile(r"^[A-Za-z0-9_*?\[\]-]+\.[A-Za-z0-9_*?\[\]-]+$")


def acting_principal() -> str:
    """Who places or removes a hold, as the access rules name principals (`ASSAY_USER`,
    else the login name), so holds and the audit log name the same person."""
    try:
        from assay.governance.principal import current_principal
    except ImportError:  # the access module lands separately; the same rule meanwhile
        import getpass
        import os

        return os.environ.get("ASSAY_USER") or getpass.getuser()
    return current_principal()


class HeldError(AssayError):
    """An action would delete rows or files of a dataset under a legal hold."""


@dataclass(frozen=True)
class Hold:
    """One legal hold: the dataset or glob held, why, by whom, since when (and, once
    removed, by whom and when)."""

    id: int
    pattern: str
    reason: str
    held_by: str
    held_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.released_at is None

    def covers(self, dataset: str) -> bool:
        """Whether this hold applies to `dataset` (exact name or glob match).

        Example:
            >>> Hold(1, "silver.*", "case 1", "dpo", datetime(2026, 1, 1)).covers("silver.x")
            True
        """
        return fnmatch.fnmatchcase(dataset, self.pattern)


class Holds:
    """The legal holds of a project, in its catalog."""

    def __init__(self, catalog: Catalog):
        self.engine = catalog.engine
        create_tables(self.engine, holds_table)

    def add(self, dataset: str, reason: str, principal: str) -> Hold:
        """Hold `dataset` (a `layer.name` or a glob such as `silver.*`) for `reason`.

        Raises:
            UsageError: no reason, a malformed name, or an active hold on the same name.
        """
        pattern, why = dataset.strip(), (reason or "").strip()
        if not why:
            raise UsageError(
                "a legal hold needs a reason",
                where=pattern,
                hint=f"assay hold add {pattern} --reason 'case 2026-114: litigation'",
            )
        if not _PATTERN.match(pattern):
            raise UsageError(
                f"{pattern!r} is not a dataset name or a glob of them",
                hint="name it layer.name, e.g. silver.customers or silver.*",
            )
        existing = self._active_exact(pattern)
        if existing is None:
            try:
                with self.engine.begin() as con:
                    con.execute(
                        holds_table.insert().values(
                            pattern=pattern,
                            reason=why,
                            held_by=principal,
                            held_at=utcnow(),
                        )
                    )
            except sa.exc.IntegrityError:  # another process placed it just now
                existing = self._active_exact(pattern)
            else:
                placed = self._active_exact(pattern)
                assert placed is not None  # just written in this process
                return placed
        assert existing is not None
        raise UsageError(
            f"already held since {existing.held_at:%Y-%m-%d %H:%M} UTC by "
            f"{existing.held_by}: {existing.reason}",
            where=pattern,
            hint=f"remove it first (`assay hold remove {pattern}`) to change its reason",
        )

    def remove(self, dataset: str, principal: str) -> Hold:
        """Release the active hold placed on exactly `dataset` (the name or glob it was
        added with); return it, released.

        Raises:
            UsageError: no active hold has that name (the message lists those covering it).
        """
        pattern = dataset.strip()
        found = self._active_exact(pattern)
        if found is None:
            covering = [h.pattern for h in self.all() if h.covers(pattern)]
            also = f"; it is held through {', '.join(covering)}" if covering else ""
            raise UsageError(
                f"no legal hold was placed on {pattern!r}{also}",
                where=pattern,
                hint="see `assay hold list` for the names holds were placed on",
            )
        with self.engine.begin() as con:
            con.execute(
                holds_table.update()
                .where(holds_table.c.id == found.id, holds_table.c.released_at.is_(None))
                .values(released_by=principal, released_at=utcnow())
            )
        released = self._by_id(found.id)
        assert released is not None
        return released

    def active(self, dataset: str) -> Hold | None:
        """The active hold covering `dataset` (the oldest one, when several do), or None."""
        covering = [h for h in self.all() if h.covers(dataset)]
        return covering[0] if covering else None

    def check(self, dataset: str, action: str) -> None:
        """Raise HeldError when `dataset` is held; `action` names what was refused.

        Example:
            >>> from assay.catalog import Catalog
            >>> holds = Holds(Catalog("sqlite://"))
            >>> holds.check("silver.x", "vacuum") is None
            True
        """
        hold = self.active(dataset)
        if hold is not None:
            raise HeldError(
                f"{action} refused: under legal hold {hold.pattern!r} since "
                f"{hold.held_at:%Y-%m-%d} ({hold.reason}, by {hold.held_by})",
                where=dataset,
                hint=f"a hold is released with `assay hold remove {hold.pattern}`",
            )

    def all(self, include_released: bool = False) -> list[Hold]:
        """Active holds, oldest first (with released ones too when asked)."""
        query = sa.select(holds_table).order_by(holds_table.c.held_at, holds_table.c.id)
        if not include_released:
            query = query.where(holds_table.c.released_at.is_(None))
        with self.engine.connect() as con:
            return [_hold(row) for row in con.execute(query).mappings()]

    def _active_exact(self, pattern: str) -> Hold | None:
        query = sa.select(holds_table).where(
            holds_table.c.pattern == pattern, holds_table.c.released_at.is_(None)
        )
        with self.engine.connect() as con:
            row = con.execute(query).mappings().first()
        return None if row is None else _hold(row)

    def _by_id(self, hold_id: int) -> Hold | None:
        with self.engine.connect() as con:
            row = con.execute(sa.select(holds_table).where(holds_table.c.id == hold_id)).mappings()
            first = row.first()
        return None if first is None else _hold(first)


def place_hold(runtime: Runtime, dataset: str, reason: str) -> Hold:
    """Hold `dataset` (a name or glob) for `reason` as the current principal, when its
    role allows `hold`; the hold goes to the audit log.

    Raises:
        AccessDeniedError: roles are configured and the principal's role does not allow
            `hold`.
        UsageError: see `Holds.add`.

    Example:
        >>> import assay, tempfile
        >>> runtime = assay.Project(assay.init_project(tempfile.mkdtemp())).runtime
        >>> place_hold(runtime, "silver.*", "case 7").pattern
        'silver.*'
    """
    from assay.governance.audit_hooks import audit_write
    from assay.governance.permissions import require_action

    who = acting_principal()
    role = require_action(runtime, "hold", principal=who)
    hold = Holds(runtime.catalog).add(dataset, reason, who)
    detail = {"reason": hold.reason}
    audit_write(runtime, hold.pattern, action="hold", principal=who, role=role, detail=detail)
    return hold


def release_hold(runtime: Runtime, dataset: str) -> Hold:
    """Release the hold placed on exactly `dataset` as the current principal, when its
    role allows `hold`; the release goes to the audit log.

    Raises:
        AccessDeniedError: roles are configured and the principal's role does not allow
            `hold`.
        UsageError: see `Holds.remove`.
    """
    from assay.governance.audit_hooks import audit_write
    from assay.governance.permissions import require_action

    who = acting_principal()
    role = require_action(runtime, "hold", principal=who)
    hold = Holds(runtime.catalog).remove(dataset, who)
    detail = {"reason": hold.reason}
    audit_write(
        runtime, hold.pattern, action="hold_remove", principal=who, role=role, detail=detail
    )
    return hold


def _hold(row: sa.RowMapping) -> Hold:
    return Hold(
        id=row["id"],
        pattern=row["pattern"],
        reason=row["reason"],
        held_by=row["held_by"],
        held_at=row["held_at"],
        released_by=row["released_by"],
        released_at=row["released_at"],
    )
