"""Find a torn Delta log: a newest commit file that is empty or not whole JSON lines.

A Delta commit is written whole or not at all on a filesystem with atomic renames; a torn
file means a crash on one without them, or damage afterwards. delta-rs reads an empty
commit file as a commit that did nothing (the rows it added silently vanish) and fails on
half a JSON line with a Rust backtrace. assay checks the newest commit before it trusts a
table, and stops naming the file; `assay repair` moves the torn file aside and rebuilds the
table and everything downstream from their sources.
"""

from __future__ import annotations

import json
import os
import re

from assay.errors import AssayError, UsageError

_COMMIT = re.compile(r"^(\d{20})\.json$")


class TornLogError(AssayError):
    """The newest commit of a table's Delta log is torn: that commit never completed."""


def newest_commit(table_uri: str) -> str | None:
    """The path of the newest commit file of a local table (None: none, or not local)."""
    log = os.path.join(table_uri, "_delta_log")
    if "://" in table_uri or not os.path.isdir(log):
        return None
    commits = [name for name in os.listdir(log) if _COMMIT.match(name)]
    return os.path.join(log, max(commits)) if commits else None


def _commit_file(table_uri: str, version: int) -> str | None:
    path = os.path.join(table_uri, "_delta_log", f"{version:020d}.json")
    return path if "://" not in table_uri and os.path.isfile(path) else None


def torn_reason(path: str) -> str | None:
    """Why the commit file at `path` is torn, or None when it is whole."""
    with open(path, "rb") as fh:
        data = fh.read()
    if not data.strip():
        return f"{len(data)} bytes, no actions"
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            action = json.loads(line)
        except ValueError:
            return f"line {number} is not complete JSON"
        if not isinstance(action, dict):
            return f"line {number} is not a Delta action"
    return None


def check_newest_commit(name: str, table_uri: str, version: int | None = None) -> None:
    """Raise TornLogError naming the table and file when the newest commit is torn; with
    `version` (the newest, as the table loaded), read that file without listing the log."""
    path = newest_commit(table_uri) if version is None else _commit_file(table_uri, version)
    reason = torn_reason(path) if path else None
    if path and reason:
        raise TornLogError(
            f"the newest commit of its Delta log, {path}, is torn ({reason}): that commit "
            "never completed, so the table's data and the catalog cannot be trusted",
            where=name,
            hint=f"restore the file from a backup, or run `assay repair {name}`: it moves the "
            "torn file aside and rebuilds the table and everything downstream from their "
            "sources",
        )


def set_torn_commit_aside(name: str, table_uri: str) -> str:
    """Move the torn newest commit of a table into `_delta_log/torn/` (the table is back at
    its previous version); return where it went. A whole log is a UsageError."""
    path = newest_commit(table_uri)
    if path is None or torn_reason(path) is None:
        raise UsageError(
            f"the Delta log of {name} is whole: nothing to repair",
            hint=f"`assay run --full-refresh --select {name}+` rebuilds it anyway",
        )
    aside = os.path.join(os.path.dirname(path), "torn")
    os.makedirs(aside, exist_ok=True)
    target = os.path.join(aside, os.path.basename(path))
    os.replace(path, target)
    return target
