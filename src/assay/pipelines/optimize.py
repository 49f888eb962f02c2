"""`assay optimize` over a project: which tables, their declared z-order columns, legal
holds and the audit log around `assay.tables.optimize`.

Legal holds: a hold forbids deleting a dataset's rows or files, which only the vacuum does.
Compaction and z-order keep every row and leave the files they replace on disk (time
travel to every version still works), so a hold does not block them. A dataset named on
the command line while held is refused before anything is done (HeldError, naming the
hold; `--no-vacuum` compacts it without a vacuum); when every table is optimized, a held
one is compacted and its vacuum skipped and reported. A dataset's quarantine and dead
letters are held with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from assay.errors import DefinitionError
from assay.governance.holds import Holds
from assay.pipelines.rejected import DEAD_LETTERS, QUARANTINE
from assay.tables.optimize import (
    OptimizePlan,
    OptimizeResult,
    check_zorder_columns,
    optimize_table,
    plan_optimize,
)

if TYPE_CHECKING:
    from assay.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OptimizeTarget:
    """One table to optimize: its z-order columns (declared on its dataset), the hold
    that keeps its vacuum from running (`pattern: reason`) and where it was declared."""

    name: str
    zorder_by: tuple[str, ...] = ()
    held: str | None = None
    where: str | None = None


@dataclass(frozen=True)
class OptimizeOutcome:
    """What optimizing one table did (`result`), or would do (`plan`, in a dry run)."""

    target: OptimizeTarget
    result: OptimizeResult | None = None
    plan: OptimizePlan | None = None

    @property
    def vacuum_skipped(self) -> str | None:
        return f"held by {self.target.held}" if self.target.held else None


def optimize_targets(
    runtime: Runtime, names: Sequence[str] = (), vacuum: bool = True, refuse_held: bool = True
) -> list[OptimizeTarget]:
    """The tables `assay optimize` works on, checked before any is changed: `names`, or
    every dataset's table (in dependency order) then the warehouse's other tables
    (quarantine, dead letters, features). With `refuse_held` off (a dry run), a named
    held table is kept, its vacuum marked as skipped.

    Raises:
        TableNotFoundError: a named table does not exist.
        HeldError: a named table is under a legal hold, `vacuum` and `refuse_held` on.
        DefinitionError: a declared zorder_by column is not in its table.
    """
    holds = Holds(runtime.catalog)
    wh = runtime.warehouse
    owners = _rejected_owners(runtime)
    if names:
        chosen = list(dict.fromkeys(names))
        for name in chosen:
            if not wh.exists(name):  # "not built yet", or "no such table" with the tables
                raise runtime.reader.unknown(name)
            if vacuum and refuse_held:
                holds.check(name, "vacuum")
                if name in owners:  # a dataset's rejected rows are held with it
                    holds.check(owners[name], f"vacuum of {name}")
    else:
        declared = [n for n in runtime.dag.order() if wh.exists(n)]
        chosen = declared + [n for n in wh.list_tables() if n not in set(declared)]
    targets = []
    for name in chosen:
        spec = runtime.dag.items().get(name)
        owner = owners.get(name)
        hold = (holds.active(name) or (owner and holds.active(owner)) or None) if vacuum else None
        target = OptimizeTarget(
            name=name,
            zorder_by=tuple(getattr(spec, "zorder_by", ())),
            held=f"{hold.pattern}: {hold.reason}" if hold else None,
            where=getattr(spec, "where", None),
        )
        _check_zorder(runtime, target)
        targets.append(target)
    return targets


def _rejected_owners(runtime: Runtime) -> dict[str, str]:
    """The quarantine and dead-letter tables of each dataset -> the dataset: a hold on
    the dataset holds its rejected rows too (as retention and erasure treat them)."""
    return {
        family.name(dataset): dataset
        for dataset in runtime.dag.items()
        for family in (QUARANTINE, DEAD_LETTERS)
    }


def optimize_project(
    runtime: Runtime,
    targets: Sequence[OptimizeTarget],
    *,
    vacuum: bool = True,
    retain_hours: float | None = None,
    dry_run: bool = False,
    on_done: Callable[[OptimizeOutcome], None] | None = None,
) -> list[OptimizeOutcome]:
    """Optimize each of `targets` (see `optimize_targets`), or plan it in a `dry_run`;
    each compaction and each vacuum that did something goes to the audit log.

    Example:
        >>> import assay, tempfile
        >>> project = assay.Project(assay.init_project(tempfile.mkdtemp()))
        >>> assert project.run().ok
        >>> targets = optimize_targets(project.runtime, ["silver.orders"])
        >>> [o.result.rows for o in optimize_project(project.runtime, targets)]
        [3]
    """
    settings = runtime.config.storage
    outcomes = []
    for target in targets:
        if dry_run:
            plan = plan_optimize(
                runtime.warehouse, target.name, settings, target.zorder_by, retain_hours
            )
            outcome = OptimizeOutcome(target, plan=_held_plan(plan, target))
        else:
            result = optimize_table(
                runtime.warehouse,
                target.name,
                settings,
                zorder_by=target.zorder_by,
                vacuum=vacuum and target.held is None,
                retain_hours=retain_hours,
            )
            outcome = OptimizeOutcome(target, result=result)
            kept = retain_hours or settings.vacuum_retain_hours
            _audit(runtime, result, kept, target.held if vacuum else None)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes


def _check_zorder(runtime: Runtime, target: OptimizeTarget) -> None:
    try:
        check_zorder_columns(runtime.warehouse, target.name, target.zorder_by)
    except DefinitionError as exc:
        raise DefinitionError(
            exc.message, where=target.where or target.name, hint=exc.hint
        ) from None


def _held_plan(plan: OptimizePlan, target: OptimizeTarget) -> OptimizePlan:
    """A held table's vacuum will not run: no saving from it."""
    return replace(plan, vacuum_files=0, vacuum_bytes=0) if target.held else plan


def _audit(
    runtime: Runtime, result: OptimizeResult, retain_hours: float, held: str | None = None
) -> None:
    """The compaction and the vacuum, as audit events; a vacuum a hold stopped is said in
    the compaction's event (`vacuum_skipped`)."""
    from assay.governance.audit_hooks import audit_write

    events: list[tuple[str, dict[str, Any]]] = []
    if result.files_rewritten:
        detail: dict[str, Any] = {
            "version": result.version,
            "files_before": result.before.files,
            "files_after": result.after.files,
            "bytes_before": result.before.live_bytes,
            "bytes_after": result.after.live_bytes,
            "files_rewritten": result.files_rewritten,
            "zorder_by": list(result.zorder_by),
            "seconds": round(result.seconds, 3),
        }
        if held:
            detail["vacuum_skipped"] = f"legal hold {held}"
        events.append(("optimize", detail))
    if result.vacuumed_files:
        detail = {
            "files_removed": result.vacuumed_files,
            "bytes_freed": result.bytes_freed,
            "retain_hours": retain_hours,
            "by": "optimize",
        }
        events.append(("vacuum", detail))
    for action, detail in events:
        try:
            audit_write(runtime, result.name, result.rows, action, detail=detail)
        except Exception as exc:  # the change is done: say the log missed it, do not undo it
            log.warning("%s of %s is not in the audit log: %s", action, result.name, exc)
