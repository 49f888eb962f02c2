"""Key rotation: carry every stored token to the key ring's newest version, one commit per
table.

A token of version n is the HMAC under key n of the version n-1 token (see
assay.governance.keys), so rotation needs the tokens only, never the values: every token
a table holds, in any text column (the tokenized columns of a source, the columns derived
from them downstream, the raw records of a quarantine table, where tokens sit inside
JSON), is found by its shape (`tok<version>_<32 hex>`) and carried forward with
`TokenKeys.retokenize`. A value ingested after the rotation gets the newest version's
token straight away, and that token equals the carried-forward one: joins keep working.

Each table is rewritten in one commit, a Delta overwrite against the snapshot it read:
rows deleted meanwhile (retention, erasure) make it fail with ConcurrentCommitError rather
than come back, and rows appended meanwhile are kept as written (with the tokens of the
ring their writer had; the next rotation carries them). Its metadata says `maintenance:
key_rotation` (no run's state changes: no file is re-ingested, no interval redone) and the
key version its tokens are now at (`tokens`, as ingest records it). A table whose tokens
are all at the newest version is skipped, so an interrupted rotation is resumed by running
it again. Old versions of a table keep the older tokens until a vacuum removes them
(`assay retention apply`, `assay forget --purge-history`).

Example:
    >>> import tempfile, pyarrow as pa
    >>> from assay.governance.keys import TokenKeys
    >>> from assay.tables import Warehouse, WriteMode
    >>> wh, ring = Warehouse(tempfile.mkdtemp()), TokenKeys({1: bytes(32)})
    >>> _ = wh.write("bronze.c", pa.table({"pan": [ring.token("4111")]}),
    ...              mode=WriteMode.APPEND, metadata={})
    >>> newer = ring.rotated({2: b"k" * 32})
    >>> [(r.table, r.rewritten, r.before) for r in rotate_tables(wh, newer)]
    [('bronze.c', True, {1: 1})]
    >>> wh.read("bronze.c")["pan"][0].as_py() == newer.token("4111")
    True
    >>> rotate_tables(wh, newer)[0].rewritten
    False
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from assay import _faults
from assay.errors import UsageError
from assay.governance.keys import TOKEN_HEX, TokenKeys, key_file_path
from assay.tables import Warehouse, WriteMode
from assay.tables.commitmeta import CommitMeta

if TYPE_CHECKING:
    from assay.config import GovernanceSettings

#: The commit metadata key saying which key version a table's tokens are at (and in which
#: columns): `{"key_version": 2, "columns": ["card_number"]}`.
TOKENS = "tokens"
#: A token anywhere in a text (a whole value, or inside a raw record's JSON).
TOKEN_IN_TEXT = re.compile(rf"(?<![0-9A-Za-z_])tok(\d+)_[0-9a-f]{{{TOKEN_HEX}}}(?![0-9a-f])")
#: The same, as Arrow's RE2 filter (no look-around): a cheap first pass over a column.
_TOKEN_LIKE = rf"tok[0-9]+_[0-9a-f]{{{TOKEN_HEX}}}"


def recorded_tokens(extra: Mapping[str, Any]) -> tuple[int, tuple[str, ...]] | None:
    """The key version and tokenized columns a commit's metadata (`CommitMeta.extra`)
    records; None when it records none.

    Example:
        >>> recorded_tokens({"tokens": {"key_version": 2, "columns": ["pan"]}})
        (2, ('pan',))
    """
    tokens = extra.get(TOKENS)
    if not isinstance(tokens, Mapping) or "key_version" not in tokens:
        return None
    return int(tokens["key_version"]), tuple(str(c) for c in tokens.get("columns") or ())


def recorded_version(warehouse: Warehouse, name: str) -> int | None:
    """The key version the newest commit of table `name` that says one records (None:
    no commit says)."""
    for commit in warehouse.history(name):
        found = recorded_tokens(commit.meta.extra)
        if found is not None:
            return found[0]
    return None


@dataclass
class TableRotation:
    """What rotating one table found and did.

    Attributes:
        table: `layer.name`.
        columns: the text columns holding tokens.
        before: key version -> distinct tokens found at that version.
        rows: rows in the table.
        rewritten: True when the table was rewritten (a commit made, or to be made on a
            dry run); False when its tokens were all current already (or it has none).
        version: the table version the rotation committed (None: no commit).
    """

    table: str
    columns: list[str] = field(default_factory=list)
    before: dict[int, int] = field(default_factory=dict)
    rows: int = 0
    rewritten: bool = False
    version: int | None = None

    @property
    def oldest(self) -> int | None:
        """The oldest key version of the table's tokens (None: it holds none)."""
        return min(self.before) if self.before else None


def token_tables(
    warehouse: Warehouse, names: Sequence[str] | None = None
) -> dict[str, TableRotation]:
    """The tables (all of the warehouse's, or `names`) that hold tokens, with the columns
    and key versions found: a scan of their text columns, nothing written."""
    found = {}
    for name in names if names is not None else warehouse.list_tables():
        if not warehouse.exists(name):
            continue
        dataset = warehouse.table(name).to_pyarrow_dataset()
        texts = [f.name for f in dataset.schema if _is_text(f.type)]
        if not texts:
            continue
        data = dataset.to_table(columns=texts)
        scan = TableRotation(name, rows=data.num_rows)
        for column in texts:
            versions = _versions(data[column])
            if versions:
                scan.columns.append(column)
                scan.before.update({v: scan.before.get(v, 0) + n for v, n in versions.items()})
        if scan.columns:
            found[name] = scan
    return found


def rotate_tables(
    warehouse: Warehouse,
    ring: TokenKeys,
    names: Sequence[str] | None = None,
    dry_run: bool = False,
    on_table: Callable[[TableRotation], None] | None = None,
) -> list[TableRotation]:
    """Carry the tokens of every table (or of `names`) to `ring.current`, one commit per
    table that holds older ones; `on_table` is called after each table (progress, audit).

    Raises:
        UsageError: a table holds tokens of a version newer than the ring's (the ring
            used is not the newest).
    """
    done = []
    for name in names if names is not None else warehouse.list_tables():
        if not warehouse.exists(name):
            continue
        outcome = rotate_table(warehouse, name, ring, dry_run)
        done.append(outcome)
        if on_table is not None:
            on_table(outcome)
    return done


def rotate_table(
    warehouse: Warehouse, name: str, ring: TokenKeys, dry_run: bool = False
) -> TableRotation:
    """Rewrite table `name` with its tokens at `ring.current`, in one commit against the
    snapshot read (none when they all are already, or when `dry_run`)."""
    snapshot = warehouse.table(name)
    data = snapshot.to_pyarrow_dataset().to_table()
    outcome = TableRotation(name, rows=data.num_rows)
    for index, column_field in enumerate(data.schema):
        if not _is_text(column_field.type):
            continue
        carried, versions = _carried(data.column(index), ring)
        if not versions:
            continue
        outcome.columns.append(column_field.name)
        for version, count in versions.items():
            outcome.before[version] = outcome.before.get(version, 0) + count
        if carried is not None:
            data = data.set_column(index, column_field, carried)
            outcome.rewritten = True
    newest = max(outcome.before, default=0)
    if newest > ring.current:
        raise UsageError(
            f"the table holds tokens of key version {newest}; the ring's newest is {ring.current}",
            where=name,
            hint=f"load the newest ring (from {ring.where}) before rotating",
        )
    if outcome.rewritten and not dry_run:
        outcome.version = warehouse.write(
            name,
            data,
            mode=WriteMode.OVERWRITE,
            metadata=CommitMeta(
                maintenance="key_rotation",
                extra={
                    TOKENS: {
                        "key_version": ring.current,
                        "columns": outcome.columns,
                        "rotated_from": sorted(outcome.before),
                    }
                },
            ),
            partition_by=snapshot.metadata().partition_columns,
            against=snapshot,
        )
        _faults.point("after_rotate_table")
    return outcome


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _token_values(column: pa.ChunkedArray) -> tuple[pa.Array, pa.Array, list[str | None]] | None:
    """(distinct values, indices, distinct values as Python) of a column holding
    something token-shaped; None when nothing in it is."""
    if column.null_count == len(column):
        return None
    if not pc.any(pc.match_substring_regex(column, _TOKEN_LIKE)).as_py():
        return None
    encoded = pc.dictionary_encode(column.combine_chunks())
    return encoded.dictionary, encoded.indices, encoded.dictionary.to_pylist()


def _versions(column: pa.ChunkedArray) -> Counter[int]:
    """Key version -> distinct tokens of that version in a text column."""
    found = _token_values(column)
    versions: Counter[int] = Counter()
    for value in found[2] if found else []:
        for match in TOKEN_IN_TEXT.finditer(value or ""):
            versions[int(match[1])] += 1
    return versions


def _carried(column: pa.ChunkedArray, ring: TokenKeys) -> tuple[pa.Array | None, Counter[int]]:
    """The column with every token carried to `ring.current` (None when none is older)
    and the versions found. Each distinct value is handled once."""
    found = _token_values(column)
    versions: Counter[int] = Counter()
    if found is None:
        return None, versions
    _, indices, values = found

    def carry(match: re.Match[str]) -> str:
        versions[int(match[1])] += 1
        return ring.retokenize(match[0])

    carried = [None if v is None else TOKEN_IN_TEXT.sub(carry, v) for v in values]
    if not versions or min(versions) >= ring.current:
        return None, versions
    return pc.take(pa.array(carried, column.type), indices), versions


# -- the ring itself ---------------------------------------------------------------------


def write_ring(ring: TokenKeys, path: Path) -> None:
    """Write the ring's text to `path` atomically, readable by its owner only: a crash
    leaves the old ring or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w") as out:
            out.write(ring.dump())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def ring_file(settings: GovernanceSettings, root: str | Path) -> Path | None:
    """The key file assay.yaml names (checked to be outside the project), or None when
    the ring is in the environment."""
    if not settings.token_key_file:
        return None
    return key_file_path(settings.token_key_file, root)


@dataclass(frozen=True)
class RotationPlan:
    """What `assay keys rotate` will do (see `plan_rotation`).

    Attributes:
        tables: the tables holding tokens, as scanned.
        current: the ring's newest version now.
        resume: True when some table holds tokens older than `current` (an interrupted
            rotation, or a ring extended by hand): they are carried forward and no key
            is added. False: a new key version is added first, then every table moves.
    """

    tables: dict[str, TableRotation]
    current: int
    resume: bool

    @property
    def behind(self) -> list[str]:
        """The tables with tokens older than `current`."""
        return [n for n, t in self.tables.items() if (t.oldest or self.current) < self.current]


def plan_rotation(
    warehouse: Warehouse, ring: TokenKeys, names: Sequence[str] | None = None, resume: bool = False
) -> RotationPlan:
    """Scan the tables (all, or `names`) and decide: resume a rotation some table is
    behind on, or add a key version (never when `resume`, which only carries forward)."""
    tables = token_tables(warehouse, names)
    behind = any((t.oldest or ring.current) < ring.current for t in tables.values())
    return RotationPlan(tables, ring.current, resume=behind or resume)


@dataclass(frozen=True)
class RingUpdate:
    """A ring with one more version, and where it went.

    Attributes:
        ring: the new ring.
        written_to: the file it was written to (assay.yaml's key file, or the file given
            for an environment ring); None when nothing was written.
        in_environment: the project reads its ring from the environment: the variable must
            hold the new text before tables are rewritten.
    """

    ring: TokenKeys
    written_to: Path | None
    in_environment: bool


def add_key_version(
    settings: GovernanceSettings,
    root: str | Path,
    ring: TokenKeys,
    out_file: str | Path | None = None,
) -> RingUpdate:
    """`ring` with a new random version: written to the key file assay.yaml names;
    for a ring in the environment, written to `out_file` when given (outside the project),
    else only returned, to be printed and set by the user.

    Raises:
        AccessDeniedError: `roles:` are set in the project's assay.yaml and the current
            principal's role does not allow `keys`.
    """
    _require_keys(root)
    newer = ring.rotated()
    configured = ring_file(settings, root)
    if configured is not None:
        write_ring(newer, configured)
        return RingUpdate(newer, configured, in_environment=False)
    if out_file is not None:
        target = key_file_path(str(out_file), root)
        write_ring(newer, target)
        return RingUpdate(newer, target, in_environment=True)
    return RingUpdate(newer, None, in_environment=True)


def new_ring(settings: GovernanceSettings, root: str | Path) -> RingUpdate:
    """A first ring (version 1, random): written to the key file assay.yaml names (which
    must not exist yet), else returned for the environment.

    Raises:
        AccessDeniedError: `roles:` are set in the project's assay.yaml and the current
            principal's role does not allow `keys`.
    """
    _require_keys(root)
    ring = TokenKeys({1: os.urandom(32)}, "a new ring")
    configured = ring_file(settings, root)
    if configured is None:
        return RingUpdate(ring, None, in_environment=True)
    if configured.exists():
        raise UsageError(
            "the key file exists already",
            where=str(configured),
            hint="add a version with `assay keys rotate`; a new ring would orphan every token",
        )
    write_ring(ring, configured)
    return RingUpdate(ring, configured, in_environment=False)


def _require_keys(root: str | Path) -> None:
    """Refuse a key change unless the principal's role allows `keys` (when the project at
    `root` configures roles; assay.governance.permissions)."""
    from assay.config import load_config
    from assay.governance.permissions import require_action

    require_action(load_config(Path(root)), "keys")
