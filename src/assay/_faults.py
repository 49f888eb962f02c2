"""Fault injection for crash tests: `ASSAY_FAULT=point:n` kills the process (SIGKILL) the
n-th time execution reaches `point`. Unset in normal use; costs one dict lookup."""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def point(name: str) -> None:
    """A place where a crash test may kill the process, as `kill -9` would."""
    spec = os.environ.get("ASSAY_FAULT")
    if not spec:
        return
    target, _, count = spec.partition(":")
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
