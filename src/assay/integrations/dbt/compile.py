"""Run real dbt-core (`dbt compile`, in process) on a project's dbt folder and read its
manifest. Nothing is downloaded: no `dbt deps`, no version check, no usage statistics.

dbt compiles against a dbt-duckdb target assay writes under `.assay/dbt/` (an in-memory
DuckDB: compiling needs an adapter, not assay's data, and `is_incremental()` is false
there, so an incremental model compiles to its full SELECT). The manifest is cached by a
digest of the dbt project's files, its vars and dbt's version: a second load of an
unchanged project reads the cached manifest and skips dbt (a compile takes seconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assay.errors import DefinitionError, MissingExtraError

#: Folders of a dbt project that are dbt's output, not its source.
_OUTPUT_FOLDERS = {"target", "logs", ".user.yml"}
#: The profile and target names assay writes (and passes to dbt).
PROFILE = "assay"
_PROFILES_YML = """\
# Written by assay: dbt compiles against an in-memory DuckDB; assay runs the SQL itself.
{profile}:
  target: assay
  outputs:
    assay:
      type: duckdb
      path: ":memory:"
      threads: 1
"""


class DbtError(DefinitionError):
    """A dbt project that cannot be compiled or mapped onto assay's datasets."""


def require_dbt() -> str:
    """dbt-core's version, or MissingExtraError saying `pip install 'assay[dbt]'`.

    Example:
        >>> require_dbt() < "1.12"
        True
    """
    try:
        import dbt.adapters.duckdb  # noqa: F401
        from dbt.version import __version__
    except ImportError:
        raise MissingExtraError("dbt-duckdb", "dbt") from None
    return str(__version__)


def manifest_for(project_dir: Path, state_dir: Path, variables: Mapping[str, Any]) -> dict:
    """The compiled manifest (target/manifest.json as a dict) of the dbt project in
    `project_dir`, from the cache under `state_dir/dbt` or from a fresh `dbt compile`.

    Raises:
        DbtError: no dbt_project.yml, or dbt failed (its message, the folder, what to do).
    """
    if not (project_dir / "dbt_project.yml").is_file():
        raise DbtError(
            f"no dbt_project.yml in {project_dir}",
            where="assay.yaml (dbt.project_dir)",
            hint="set dbt: {project_dir: <folder with dbt_project.yml>} in assay.yaml",
        )
    version = require_dbt()
    home = state_dir / "dbt"
    digest = project_digest(project_dir, variables, version)
    cached = home / "manifests" / f"{digest}.json"
    if cached.is_file():
        return dict(json.loads(cached.read_text()))
    # dbt's output goes to a folder of this digest and process: two processes compiling
    # at once (a scheduler and a CLI command) never write or delete each other's files.
    target = home / "target" / f"{digest}.{os.getpid()}"
    manifest = _compile(project_dir, home, target, variables)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(manifest))
    tmp.replace(cached)  # atomic: a concurrent load never reads half a file
    for old in cached.parent.glob("*.json"):  # earlier versions of the project
        if old != cached:
            old.unlink(missing_ok=True)
    for folder in target.parent.iterdir():  # their dbt output
        if not folder.name.startswith(digest):
            shutil.rmtree(folder, ignore_errors=True)
    return manifest


def project_digest(project_dir: Path, variables: Mapping[str, Any], version: str) -> str:
    """A digest of every source file of the dbt project, its vars and dbt's version.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "dbt_project.yml").write_text("name: x")
        >>> project_digest(d, {}, "1.11") == project_digest(d, {}, "1.11")
        True
        >>> project_digest(d, {"a": 1}, "1.11") == project_digest(d, {}, "1.11")
        False
    """
    digest = hashlib.sha256(json.dumps([version, dict(variables)], sort_keys=True).encode())
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not path.is_file() or relative.parts[0] in _OUTPUT_FOLDERS:
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _compile(project_dir: Path, home: Path, target: Path, variables: Mapping[str, Any]) -> dict:
    from dbt.cli.main import dbtRunner

    home.mkdir(parents=True, exist_ok=True)
    profiles = home / f"profiles.yml.{os.getpid()}"
    profiles.write_text(_PROFILES_YML.format(profile=PROFILE))
    profiles.replace(home / "profiles.yml")  # atomic: another compile may be reading it
    shutil.rmtree(target, ignore_errors=True)  # a stale manifest must never be read
    args = [
        "compile",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(home),
        "--profile",
        PROFILE,
        "--target-path",
        str(target),
        "--log-path",
        str(home / "logs"),
        "--vars",
        json.dumps(dict(variables)),
        "--no-send-anonymous-usage-stats",
        "--no-version-check",
        "--no-partial-parse",
        "--quiet",
        "--no-use-colors",
    ]
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    result = dbtRunner().invoke(args)
    manifest_path = target / "manifest.json"
    if not result.success or not manifest_path.is_file():
        raise DbtError(
            f"dbt compile failed: {_failure(result)}",
            where=str(project_dir),
            hint=f"fix the dbt project; `dbt compile --project-dir {project_dir} "
            f"--profiles-dir {home}` shows the same error with dbt's own log",
        )
    return dict(json.loads(manifest_path.read_text()))


def _failure(result: Any) -> str:
    """dbt's own words for a failed invocation: its exception, else the failed nodes."""
    if result.exception is not None:
        return " ".join(str(result.exception).split())[:800]
    failed = [
        f"{r.node.unique_id}: {' '.join(str(r.message).split())}"
        for r in getattr(result.result, "results", None) or []
        if str(getattr(r, "status", "")).lower() in ("error", "fail")
    ]
    return "; ".join(failed)[:800] or "no manifest was written"
