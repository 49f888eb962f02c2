"""Several processes opening one fresh catalog at once all succeed: the loser of the race
to create a table looks again instead of failing with "table already exists"."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path


def _open(url: str) -> None:
    from assay.catalog import Catalog

    Catalog(url).done_intervals("silver.x", "f")


def test_processes_opening_a_fresh_catalog_at_once_all_succeed(tmp_path: Path) -> None:
    context = mp.get_context("spawn")
    for round_ in range(6):
        url = f"sqlite:///{tmp_path / f'catalog{round_}.db'}"
        processes = [context.Process(target=_open, args=(url,)) for _ in range(3)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)
        assert [p.exitcode for p in processes] == [0, 0, 0], round_
