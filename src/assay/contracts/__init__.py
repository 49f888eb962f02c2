"""Data contracts (ODCS v3): parsing, binding to datasets, compilation to SQL,
enforcement, quality history."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from assay.contracts.binding import bind_file, resolve_dataset
from assay.contracts.errors import ContractError
from assay.contracts.model import (
    BatchRule,
    Column,
    Contract,
    ForeignKey,
    NotRun,
    RowRule,
    Severity,
    Threshold,
)
from assay.contracts.odcs import load_contract_file


def load_contracts(folder: Path, datasets: Collection[str]) -> dict[str, list[Contract]]:
    """Every contract under `folder` (`*.yaml`, `*.yml`), bound to `datasets` and grouped
    by the dataset it binds to.

    Raises:
        ContractError: a file is not valid ODCS, a rule cannot run, or an object binds to
            no dataset (or to several: the message names them).
    """
    found: dict[str, list[Contract]] = {}
    if not folder.is_dir():
        return found
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        for contract in bind_file(load_contract_file(path), datasets):
            found.setdefault(contract.dataset, []).append(contract)
    return found


__all__ = [
    "BatchRule",
    "Column",
    "Contract",
    "ContractError",
    "ForeignKey",
    "NotRun",
    "RowRule",
    "Severity",
    "Threshold",
    "load_contract_file",
    "load_contracts",
    "resolve_dataset",
]
