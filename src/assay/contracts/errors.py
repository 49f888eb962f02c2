"""The contracts room's error: a contract file that is invalid or asks for what assay
cannot check. It says which file, rule, dataset or column, and what to do."""

from __future__ import annotations

from assay.errors import ProjectError


class ContractError(ProjectError):
    """A contract file is not valid ODCS v3, or asks for something assay cannot check."""
