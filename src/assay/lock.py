"""A per-project lock, so two `assay run` processes never write the same tables at once."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assay.errors import LockedError


@contextmanager
def project_lock(
    state_dir: Path,
    timeout: float,
    name: str = "lock",
    what: str = "another assay process",
    hint: str = "wait for it to finish, or raise lock_timeout in assay.yaml",
) -> Iterator[None]:
    """Hold `state_dir/name` exclusively; wait up to `timeout` seconds, then fail clearly.

    The lock is an OS file lock: it is released when the process dies, even by kill -9.
    `hint` says what to do when it is held (`{pid}` becomes the holder's pid); the default
    fits the project lock, whose wait `lock_timeout` sets.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / name
    fh = open(path, "a+")  # noqa: SIM115 - held for the duration of the context
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "unknown"
                    raise LockedError(
                        f"{what} (pid {holder}) is running on this project",
                        where=str(path),
                        hint=hint.replace("{pid}", holder),
                    ) from None
                time.sleep(0.1)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.close()
