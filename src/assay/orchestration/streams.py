"""Keep a project's streams running while the scheduler runs: one `assay stream NAME`
child process per stream, restarted with exponential backoff when it exits, stopped
(SIGINT: it commits its current batch, then exits) when the scheduler stops.

Each child's output goes to `.assay/streams/NAME.log` in the project.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> StreamSupervisor(assay.Project(root), print).names
    []
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from assay.streaming.sources import StreamSource

if TYPE_CHECKING:
    from assay.project import Project

#: Backoff between restarts: 1, 2, 4 ... seconds, at most this.
MAX_BACKOFF = 60.0
#: A child that ran this long before exiting starts its backoff from the beginning again.
HEALTHY_SECONDS = 60.0
#: Seconds a child has to commit its batch and exit after SIGINT before it is killed.
STOP_GRACE = 30.0

_LAUNCH = "from assay.cli.main import app; app()"


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes] | None = None
    output: IO[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float = 0.0


class StreamSupervisor:
    """Starts, watches and stops the stream processes of a project."""

    def __init__(self, project: Project, log: Callable[[str], None]):
        self.project = project
        self.log = log
        self.names = [
            name
            for name in project.dag.order()
            if isinstance(project.dag[name].producer, StreamSource)
        ]
        self.children = {name: _Child(name) for name in self.names}

    def command(self, name: str) -> list[str]:
        """The child's command line: `assay stream NAME --project ROOT`."""
        return [sys.executable, "-c", _LAUNCH, "stream", name, "--project", str(self.project.root)]

    def check(self) -> None:
        """Start streams not running (once their backoff has passed); note those that exited."""
        now = time.monotonic()
        for child in self.children.values():
            if child.process is not None and (code := child.process.poll()) is not None:
                ran = now - child.started
                child.failures = 0 if ran >= HEALTHY_SECONDS else child.failures + 1
                delay = min(MAX_BACKOFF, 2.0 ** max(child.failures - 1, 0))
                child.restart_at = now + delay
                self.log(
                    f"stream {child.name} exited with code {code} after {ran:.0f}s; "
                    f"restarting in {delay:g}s"
                )
                self._close(child)
            if child.process is None and now >= child.restart_at:
                self._start(child)

    def _start(self, child: _Child) -> None:
        folder = self.project.state_dir / "streams"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{child.name}.log"
        child.output = open(path, "ab")  # noqa: SIM115 - held while the child runs
        child.process = subprocess.Popen(
            self.command(child.name), stdout=child.output, stderr=subprocess.STDOUT
        )
        child.started = time.monotonic()
        self.log(f"stream {child.name} started (pid {child.process.pid}, log {path})")

    def stop(self) -> None:
        """SIGINT every running stream, wait for them to commit and exit, kill stragglers."""
        running = [c for c in self.children.values() if c.process is not None]
        for child in running:
            assert child.process is not None
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            self.log(f"stream {child.name} stopped (code {child.process.returncode})")
            self._close(child)

    @staticmethod
    def _close(child: _Child) -> None:
        if child.output is not None:
            child.output.close()
        child.process, child.output = None, None
