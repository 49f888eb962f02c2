"""The Spark session assay runs on: local defaults, Delta Lake, and the user's settings.

Settings from assay.yaml's `spark:` section pass through as Spark configuration, so a
cluster is one line away (`spark.master: spark://host:7077`, or `yarn`). Without a master
assay runs Spark in-process on every core (`local[*]`).

The Delta Lake jars are found, in order, in: the `spark.jars` setting; the folder named by
`ASSAY_SPARK_JARS` (what `scripts/jars/resolve spark` prints: jars resolved from Maven
Central by `mvn`); otherwise Spark resolves `io.delta:delta-spark` itself at start-up
(`spark.jars.packages`, which needs Maven Central at run time).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.errors import MissingExtraError, UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
#: delta-spark's Scala build; its minor version follows pyspark's (4.0 -> delta 4.0).
DELTA_PACKAGE = "io.delta:delta-spark_2.13"
JARS_ENV = "ASSAY_SPARK_JARS"

_lock = threading.Lock()
_session: SparkSession | None = None
_session_settings: dict[str, str] = {}


def spark_session(settings: Mapping[str, Any] | None = None) -> SparkSession:
    """The process's Spark session, created on first use with `settings` over the defaults.

    Spark allows one session configuration per process (one JVM): a later call with
    different static settings gets the running session, and assay says so.
    """
    global _session, _session_settings
    wanted = {str(k): str(v) for k, v in (settings or {}).items()}
    with _lock:
        if _session is not None and _session.sparkContext._jsc is not None:
            _warn_if_different(wanted)
            return _session
        _pyspark()
        _require_java()
        # Workers must run this interpreter (the one with pyarrow and assay), not `python3`.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        if wanted.get("spark.master", "local").startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.appName("assay")
        for key, value in {**session_defaults(wanted), **wanted}.items():
            builder = builder.config(key, value)
        _session = builder.getOrCreate()
        _session.sparkContext.setLogLevel(wanted.get("assay.log_level", "ERROR"))
        _quiet_query_context_loggers()
        _session_settings = wanted
        return _session


def _quiet_query_context_loggers() -> None:
    """pyspark logs each failed query's context as a JSON line on stderr; assay reports
    the error itself (with the SQL as Spark ran it)."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def session_defaults(settings: Mapping[str, str]) -> dict[str, str]:
    """Defaults for a session: Delta Lake, UTC, naive timestamps like DuckDB's, Arrow.

    Example:
        >>> d = session_defaults({"spark.master": "local[2]", "spark.jars": "/x/delta.jar"})
        >>> d["spark.master"], d["spark.sql.session.timeZone"], d["spark.sql.shuffle.partitions"]
        ('local[2]', 'UTC', '4')
    """
    master = settings.get("spark.master", "local[*]")
    defaults = {
        "spark.master": master,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # Text times without an offset mean UTC, and TIMESTAMP means DuckDB's TIMESTAMP
        # (no zone): the same SQL gives the same values on both engines.
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": f"-Dlog4j.configurationFile={_LOG_CONFIG}",
    }
    if master.startswith("local"):
        cores = _local_cores(master)
        # Spark's 200 shuffle partitions are for clusters; locally two per core, and
        # adaptive execution coalesces them further for small data.
        defaults["spark.sql.shuffle.partitions"] = str(max(2, 2 * cores))
        defaults["spark.default.parallelism"] = str(max(2, 2 * cores))
        defaults["spark.driver.memory"] = _local_driver_memory()
        defaults["spark.ui.enabled"] = "false"
    if "spark.jars" not in settings and "spark.jars.packages" not in settings:
        defaults.update(delta_jars())
    return defaults


def delta_jars() -> dict[str, str]:
    """`spark.jars` from ASSAY_SPARK_JARS, else `spark.jars.packages` for Spark to resolve."""
    folder = os.environ.get(JARS_ENV)
    if folder:
        jars = sorted(str(p) for p in Path(folder).glob("*.jar"))
        if not jars:
            raise UsageError(
                f"{JARS_ENV}={folder} holds no jars",
                hint="point it at the folder `scripts/jars/resolve spark` prints",
            )
        return {"spark.jars": ",".join(jars)}
    from importlib.metadata import version

    delta = version("delta-spark")
    return {"spark.jars.packages": f"{DELTA_PACKAGE}:{delta}"}


def _local_cores(master: str) -> int:
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    if inside in ("*", ""):
        return os.cpu_count() or 1
    return int(inside.split(",")[0])


def _local_driver_memory() -> str:
    """A quarter of the machine's memory (1-16 GiB): local mode runs everything in the
    driver, and Spark's 1 GiB default fails on tables a laptop handles easily."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return "2g"
    gib = max(1, min(16, total // 4 // 2**30))
    return f"{gib}g"


#: The modules the Spark engine imports, and the distributions that provide them.
_SPARK_MODULES = {"pyspark": "pyspark", "delta": "delta-spark"}


def require_spark() -> None:
    """Fail fast, before any work, when the Spark engine cannot start: pyspark or
    delta-spark not installed (found without importing them, so this is cheap), or no Java.

    Raises:
        MissingExtraError: naming the package and `pip install 'assay[spark]'`.
        UsageError: when no Java is found.
    """
    for module, package in _SPARK_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package that is broken or a stub
            found = False
        if not found:
            raise MissingExtraError(package, "spark")
    _java()


def _pyspark() -> None:
    """Import what the session needs; an installation that is there but broken fails here."""
    for module, package in _SPARK_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingExtraError(package, "spark") from exc


def _java() -> str:
    """The `java` executable (JAVA_HOME's, else the one on PATH), or a UsageError."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise UsageError(
            "the Spark engine needs Java (17 or 21), and none was found"
            + (f" at JAVA_HOME={java_home}" if java_home else " on PATH"),
            hint="install a JDK (e.g. `apt install openjdk-17-jre-headless`) or set JAVA_HOME",
        )
    return java


def _require_java() -> None:
    java = _java()
    probe = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise UsageError(f"`{java} -version` failed: {probe.stderr.strip()[:200]}")


def _warn_if_different(wanted: Mapping[str, str]) -> None:
    if wanted and wanted != _session_settings:
        print(
            "assay: a Spark session is already running in this process; "
            "its settings stay as they were",
            file=sys.stderr,
        )
