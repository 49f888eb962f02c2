"""Static consumer-group membership for `assay stream` processes.

Each process of a stream on a machine holds the lowest free member slot (an OS file lock
in the project's state folder, released when the process dies, even by kill -9) and joins
the group as `group.instance.id` = `<group>-<host>-<slot>-<digest>` (the digest names the
project folder and topic, so two projects that share a name never share a member). A
process restarted after a crash takes the free slot back, so the broker hands it the dead
member's partitions at once, without waiting for the member's session to expire or
rebalancing the others.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def member_id(state_dir: Path, stream: str, group: str, topic: str) -> Iterator[str]:
    """Hold this process's member slot of `stream`; yield its `group.instance.id`."""
    state_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(f"{state_dir.resolve()}\0{topic}".encode()).hexdigest()[:10]
    for slot in itertools.count():
        fh = open(state_dir / f"stream-{stream}.member-{slot}.lock", "a+")  # noqa: SIM115
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            continue
        try:
            yield f"{group}-{socket.gethostname()}-{slot}-{digest}"
        finally:
            fh.close()
        return
