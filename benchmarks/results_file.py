"""Shared by the benchmarks: each owns one marked block of RESULTS.md and rewrites only it,
so hand-written notes and other benchmarks' blocks stay as they are."""

from __future__ import annotations

from pathlib import Path


def replace_block(path: Path, block: str, start: str, end: str, intro: str = "") -> None:
    """Put `block` (which begins with `start` and ends with `end`) where the old one was,
    or append it (after `intro`) when the file has none yet."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + intro + block + "\n"
    path.write_text(text)
