"""Measure what building one dataset uses: CPU, wall time, peak memory, and the bytes its
commits read and wrote (from the Delta log, which is the truth).

CPU is this process's (`time.process_time`: every thread, user + system). Spark runs its
work in a JVM whose CPU is not this process's: when the JVM is a local child process, its
CPU is read from /proc/<pid>/stat and kept apart (`engine_cpu_seconds`; a JVM launched
during a dataset's build charges that build with its start-up); otherwise (a remote cluster,
or a session this process did not launch) it is not known and is left None, never guessed.

Peak memory, on Linux: the kernel's resident high-water mark (VmHWM) is reset by writing
"5" to /proc/self/clear_refs when a dataset starts, and read when it ends, so it is the
peak during that dataset alone. Where that cannot be done, `ru_maxrss` (the process's peak
so far, an upper bound) is recorded and the method says so.

Example:
    >>> meter = Meter.start()
    >>> _ = sum(range(100_000))
    >>> took = meter.stop()
    >>> took.wall_seconds >= 0 and took.cpu_seconds >= 0
    True
"""

from __future__ import annotations

import json
import os
import re
import resource
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from assay.tables.commitmeta import decode_metadata
from assay.tables.delta import Warehouse
from assay.tables.logcheck import newest_commit

_HWM = re.compile(rb"VmHWM:\s+(\d+)\s+kB")


@dataclass(frozen=True)
class Measured:
    """What one measured stretch used (see `Meter`)."""

    cpu_seconds: float
    engine_cpu_seconds: float | None
    wall_seconds: float
    peak_memory_bytes: int | None
    memory_method: str | None


@dataclass(frozen=True)
class Meter:
    """Readings at the start of a stretch; `stop()` gives the differences."""

    wall: float
    cpu: float
    engine_pid: int | None
    engine_cpu: float | None
    memory_method: str | None
    on_spark: bool = False

    @classmethod
    def start(cls, on_spark: bool = False) -> Meter:
        """Start measuring now (and reset the memory high-water mark where possible);
        `on_spark`: the work runs in Spark's JVM, whose CPU is measured too (a JVM another
        project in this process left running is not this build's)."""
        pid = spark_jvm_pid() if on_spark else None
        return cls(
            wall=time.monotonic(),
            cpu=time.process_time(),
            engine_pid=pid,
            engine_cpu=None if pid is None else process_cpu_seconds(pid),
            memory_method=_reset_peak_memory(),
            on_spark=on_spark,
        )

    def stop(self) -> Measured:
        """What was used since `start()`."""
        cpu = time.process_time() - self.cpu
        wall = time.monotonic() - self.wall
        engine_cpu = None
        if self.engine_pid is not None and self.engine_cpu is not None:
            now = process_cpu_seconds(self.engine_pid)
            engine_cpu = None if now is None else max(now - self.engine_cpu, 0.0)
        elif self.on_spark and self.engine_pid is None and (launched := spark_jvm_pid()):
            # Spark starts its JVM on first use: launched during this stretch, all the CPU
            # it has used (its start-up included) was used for it.
            engine_cpu = process_cpu_seconds(launched)
        peak, method = _peak_memory(self.memory_method)
        return Measured(cpu, engine_cpu, wall, peak, method)


def _reset_peak_memory() -> str | None:
    """Reset VmHWM (Linux); the method the peak will be read with."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return "vmhwm"
    except OSError:  # not Linux, or not allowed: the process's peak so far is all there is
        return "ru_maxrss"


def _peak_memory(method: str | None) -> tuple[int | None, str | None]:
    if method == "vmhwm":
        try:
            with open("/proc/self/status", "rb") as fh:
                found = _HWM.search(fh.read())
            if found:
                return int(found.group(1)) * 1024, method
        except OSError:
            pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is KiB on Linux, bytes on macOS.
    return (peak if sys.platform == "darwin" else peak * 1024), "ru_maxrss"


def spark_jvm_pid() -> int | None:
    """The pid of the local JVM of an active Spark session started by this process (None:
    no Spark, or a session whose JVM this process did not launch)."""
    if sys.modules.get("pyspark") is None:
        return None  # never import Spark just to look (None: made unimportable)
    try:
        from pyspark import SparkContext
    except ImportError:
        return None

    context = SparkContext._active_spark_context
    proc = getattr(getattr(context, "_gateway", None), "proc", None)
    pid = getattr(proc, "pid", None)
    return pid if isinstance(pid, int) else None


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process `pid` so far, from /proc (None: not readable).

    Example:
        >>> import os
        >>> sys.platform != "linux" or process_cpu_seconds(os.getpid()) >= 0
        True
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces) start after its closing ')'.
    after = stat[stat.rindex(b")") + 2 :].split()
    utime, stime = int(after[11]), int(after[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Written:
    """Data files some commits added, and the source bytes they say they ingested."""

    bytes: int = 0
    files: int = 0
    ingested_bytes: int = 0


def commits_written(warehouse: Warehouse, name: str, after: int | None) -> Written:
    """The data files that commits of `name` newer than version `after` (None: every
    commit) added, summed from each commit's add actions, and the bytes of the source
    files they record as ingested."""
    newest = latest_version(warehouse, name)
    if newest is None:
        return Written()
    first = 0 if after is None else after + 1
    total = Written()
    for version in range(first, newest + 1):
        added, ingested = _commit_adds(warehouse, name, version)
        total = Written(
            total.bytes + sum(added),
            total.files + len(added),
            total.ingested_bytes + ingested,
        )
    return total


def latest_version(warehouse: Warehouse, name: str) -> int | None:
    """The newest version of table `name` (None: no table). A local table's is the name of
    its newest commit file, a directory listing instead of loading the log (the runner
    asks before and after every dataset, so this is most of what recording costs).

    Example:
        >>> import tempfile, pyarrow as pa
        >>> from assay.tables.delta import WriteMode
        >>> wh = Warehouse(tempfile.mkdtemp())
        >>> latest_version(wh, "bronze.t") is None
        True
        >>> _ = wh.write("bronze.t", pa.table({"a": [1]}), mode=WriteMode.APPEND, metadata={})
        >>> latest_version(wh, "bronze.t") == wh.version("bronze.t") == 0
        True
    """
    uri = warehouse.uri(name)
    if "://" in uri:
        return warehouse.version(name)
    newest = newest_commit(uri)
    return None if newest is None else int(os.path.basename(newest)[:20])


def _commit_adds(warehouse: Warehouse, name: str, version: int) -> tuple[list[int], int]:
    """Sizes of the files commit `version` added, and the source bytes it ingested."""
    path = os.path.join(warehouse.uri(name), "_delta_log", f"{version:020d}.json")
    if "://" in path or not os.path.isfile(path):  # remote: the difference of two snapshots
        now = _sizes(warehouse, name, version)
        before = _sizes(warehouse, name, version - 1) if version else {}
        return [size for p, size in now.items() if p not in before], 0
    sizes: list[int] = []
    ingested = 0
    with open(path, "rb") as fh:
        for line in fh:
            action = json.loads(line)
            if "add" in action:
                sizes.append(int(action["add"]["size"]))
            elif "commitInfo" in action:
                ingested = _ingested_bytes(action["commitInfo"])
    return sizes, ingested


def _ingested_bytes(commit_info: Mapping[str, Any]) -> int:
    files = decode_metadata(commit_info).get("files")
    if not isinstance(files, list):
        return 0
    return sum(int(f.get("size", 0)) for f in files if isinstance(f, dict))


def _sizes(warehouse: Warehouse, name: str, version: int) -> dict[str, int]:
    actions = warehouse.file_actions(name, version)
    return dict(zip(actions["path"].to_pylist(), actions["size_bytes"].to_pylist(), strict=True))


def bytes_at(warehouse: Warehouse, versions: Iterable[tuple[str, int | None]]) -> int:
    """Total size of the data files of each (table, version): what reading them scans."""
    total = 0
    for name, version in versions:
        if version is not None:
            total += sum(warehouse.file_actions(name, version)["size_bytes"].to_pylist())
    return total
