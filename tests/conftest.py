"""Shared fixtures: project folders on disk, a fresh PostgreSQL database per test, Redis, Kafka."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import settings

from tests.helpers import with_engine, write_project

# Property tests check results, not speed: on a loaded 2-core CI machine one example can
# take longer than hypothesis's 200 ms default deadline (seen: 306 ms), which is no defect.
settings.register_profile("assay", deadline=None)
settings.load_profile("assay")

REPO = Path(__file__).resolve().parents[1]
PG_SCRIPT = REPO / "scripts" / "services" / "postgres"

MakeProject = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path, request: pytest.FixtureRequest) -> MakeProject:
    """`make_project(files, config=None, name="project")` writes a project under tmp_path.

    `files` maps relative paths to text (or bytes); `config` is extra assay.yaml text or a
    mapping of settings. Returns the project folder. In engine-generic tests (those using
    the `engine_name` fixture) the project runs on that engine.
    """
    engine = (
        request.getfixturevalue("engine_name") if "engine_name" in request.fixturenames else None
    )

    def make(
        files: Mapping[str, str | bytes] | None = None,
        config: Mapping[str, object] | str | None = None,
        name: str = "project",
    ) -> Path:
        root = write_project(tmp_path / name, files or {}, config)
        if engine is not None:
            with_engine(root, engine)
        return root

    return make


# -- engines: engine-generic tests run on every engine (Spark too, in CI) -------------------

ENGINES = ("duckdb", "spark")
JARS_SCRIPT = REPO / "scripts" / "jars" / "resolve"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_name" in metafunc.fixturenames:
        metafunc.parametrize("engine_name", ENGINES, indirect=True)


@pytest.fixture
def engine_name(request: pytest.FixtureRequest) -> str:
    """The engine an engine-generic test runs on (parametrized over ENGINES)."""
    if request.param == "spark":
        request.getfixturevalue("spark_jars")
    return str(request.param)


@pytest.fixture(scope="session")
def spark_jars() -> str:
    """The Delta Lake jars for Spark, resolved from Maven Central once (ASSAY_SPARK_JARS)."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        _spark_unavailable(f"pyspark is not installed ({exc})")
    folder = os.environ.get("ASSAY_SPARK_JARS")
    if not folder:
        done = subprocess.run(
            [str(JARS_SCRIPT), "spark"], capture_output=True, text=True, timeout=900
        )
        if done.returncode != 0:
            _spark_unavailable(done.stderr.strip()[-2000:])
        folder = os.environ["ASSAY_SPARK_JARS"] = done.stdout.strip()
    return folder


def _spark_unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Spark is required in CI: {reason}")
    pytest.skip(f"Spark unavailable: {reason}")


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


KAFKA_SCRIPT = REPO / "scripts" / "services" / "kafka"


def _kafka_unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Kafka is required in CI: {reason}")
    pytest.skip(f"Kafka unavailable: {reason}")


def _kafka_start() -> str:
    """Start the test broker (the first start resolves its jars) and return its bootstrap."""
    done = subprocess.run([str(KAFKA_SCRIPT), "start"], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{KAFKA_SCRIPT} start failed:\n{done.stderr[-4000:]}")
    out = subprocess.run(
        [str(KAFKA_SCRIPT), "bootstrap"], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The test Kafka broker's bootstrap servers (`host:port`): $ASSAY_KAFKA_BOOTSTRAP, or the
    broker of scripts/services/kafka, started if need be."""
    try:
        from confluent_kafka.admin import AdminClient
    except ImportError as exc:  # pragma: no cover - confluent-kafka is a dependency
        _kafka_unavailable(f"confluent-kafka is not installed ({exc})")
    try:
        bootstrap = os.environ.get("ASSAY_KAFKA_BOOTSTRAP") or _kafka_start()
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    except Exception as exc:
        _kafka_unavailable(str(exc))
    return bootstrap


KafkaTopic = Callable[..., str]


@pytest.fixture
def kafka_topic(kafka_bootstrap: str) -> Iterator[KafkaTopic]:
    """`kafka_topic(partitions=1)` creates a uniquely named topic, waits until every partition
    has a leader, and returns its name; the topics are deleted after the test."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    created: list[str] = []

    def make(partitions: int = 1) -> str:
        name = f"assay-t-{uuid.uuid4().hex[:12]}"
        new = NewTopic(name, num_partitions=partitions, replication_factor=1)
        admin.create_topics([new], operation_timeout=30)[name].result(timeout=60)
        created.append(name)
        deadline = time.monotonic() + 30
        while True:
            topic = admin.list_topics(topic=name, timeout=10).topics.get(name)
            if (
                topic is not None
                and topic.error is None
                and len(topic.partitions) == partitions
                and all(p.leader >= 0 and p.error is None for p in topic.partitions.values())
            ):
                return name
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka topic {name} has no leaders after 30 s")
            time.sleep(0.05)

    yield make
    if created:
        for future in admin.delete_topics(created, operation_timeout=30).values():
            with contextlib.suppress(Exception):  # best effort: the broker is throwaway
                future.result(timeout=60)
