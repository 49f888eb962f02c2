"""Shared fixtures: project folders on disk and a fresh PostgreSQL database per test."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.helpers import write_project

REPO = Path(__file__).resolve().parents[1]
PG_SCRIPT = REPO / "scripts" / "services" / "postgres"

MakeProject = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """`make_project(files, config=None, name="project")` writes a project under tmp_path.

    `files` maps relative paths to text (or bytes); `config` is extra assay.yaml text or a
    mapping of settings. Returns the project folder.
    """

    def make(
        files: Mapping[str, str | bytes] | None = None,
        config: Mapping[str, object] | str | None = None,
        name: str = "project",
    ) -> Path:
        return write_project(tmp_path / name, files or {}, config)

    return make


def _admin_url() -> str:
    url = os.environ.get("ASSAY_PG_URL")
    if url:
        return url
    subprocess.run([str(PG_SCRIPT), "start"], check=True, timeout=300)
    out = subprocess.run([str(PG_SCRIPT), "url"], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _libpq(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://...`) as a libpq conninfo URL."""
    import sqlalchemy as sa

    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """The SQLAlchemy URL of the test server's maintenance database."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a test dependency
        _unavailable(f"psycopg is not installed ({exc})")
    try:
        url = _admin_url()
        with psycopg.connect(_libpq(url), connect_timeout=5) as con:
            con.execute("SELECT 1")
    except Exception as exc:
        _unavailable(str(exc))
    return url


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database (dropped afterwards), as a SQLAlchemy URL."""
    import psycopg
    import sqlalchemy as sa

    name = f"assay_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(pg_admin_url), autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(pg_admin_url), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


REDIS_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "services" / "redis"


@pytest.fixture
def redis_url() -> str:
    """The test Redis server's URL, its database emptied for this test."""
    import redis

    url = os.environ.get("ASSAY_REDIS_URL")
    try:
        if not url:
            subprocess.run([str(REDIS_SCRIPT), "start"], check=True, timeout=300)
            url = subprocess.run(
                [str(REDIS_SCRIPT), "url"], check=True, capture_output=True, text=True
            ).stdout.strip()
        client = redis.Redis.from_url(url, socket_connect_timeout=5)
        client.flushdb()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis unavailable: {exc}")
    return url
