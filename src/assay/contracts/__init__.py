"""Data contracts (ODCS v3): parsing, compilation to SQL, enforcement, quality history."""

from __future__ import annotations

from pathlib import Path

from assay.contracts.model import BatchRule, Column, Contract, RowRule, Severity, Threshold
from assay.contracts.odcs import ContractError, load_contract_file


def load_contracts(folder: Path, datasets: set[str]) -> dict[str, list[Contract]]:
    """Every contract under `folder` (`*.yaml`, `*.yml`), grouped by the dataset it binds to."""
    found: dict[str, list[Contract]] = {}
    if not folder.is_dir():
        return found
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        for contract in load_contract_file(path):
            if contract.dataset not in datasets:
                raise ContractError(
                    f"physicalName {contract.dataset!r} is not a dataset of this project",
                    where=str(path),
                    hint=f"datasets: {', '.join(sorted(datasets))}",
                )
            found.setdefault(contract.dataset, []).append(contract)
    return found


__all__ = [
    "BatchRule",
    "Column",
    "Contract",
    "ContractError",
    "RowRule",
    "Severity",
    "Threshold",
    "load_contracts",
]
