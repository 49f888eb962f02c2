"""Read Open Data Contract Standard v3 YAML files: load them (dates stay text, as the
standard's examples write them unquoted), validate against the spec's JSON schema, then
turn each schema object into an assay `Contract` (see `parse`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from assay.config import UniqueKeyLoader, read_yaml
from assay.contracts.errors import ContractError
from assay.contracts.model import Contract
from assay.contracts.parse import parse_document
from assay.contracts.quality import is_row_level, threshold_of

SCHEMA_FILE = Path(__file__).with_name("odcs-json-schema-v3.1.0.json")
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _Loader(UniqueKeyLoader):
    """YAML without implicit dates: `2022-10-03` stays the string the standard expects; a
    key written twice in one mapping is refused."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in UniqueKeyLoader.yaml_implicit_resolvers.items()
}


@cache
def _validator() -> Any:
    from jsonschema import Draft201909Validator

    return Draft201909Validator(json.loads(SCHEMA_FILE.read_text()))


def validate(document: Any, path: str) -> None:
    """Raise ContractError naming the path of the first offending key.

    Example:
        >>> try:
        ...     validate({"apiVersion": "v3.1.0"}, "c.yaml")
        ... except ContractError as err:
        ...     print(err.message)
        $: 'version' is a required property (and 3 more problem(s))
    """
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path
        )
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ContractError(
            f"{where}: {first.message}{more}",
            where=path,
            hint="see https://bitol-io.github.io/open-data-contract-standard/",
        )


def read_document(path: Path) -> dict[str, Any]:
    """A contract file as a validated ODCS document.

    Example:
        >>> import yaml
        >>> yaml.load("d: 2022-10-03", Loader=_Loader)
        {'d': '2022-10-03'}
    """
    where = str(path)
    document = read_yaml(path, ContractError, _Loader)
    if not isinstance(document, dict):
        raise ContractError("a contract file is a YAML mapping", where=where)
    validate(document, where)
    return document


def load_contract_file(path: Path) -> list[Contract]:
    """Every contract a YAML file declares (one per schema object, and one per dataset an
    SLA names outside the schema), not yet bound to a project's datasets."""
    return parse_document(read_document(path), str(path))


__all__ = [
    "ContractError",
    "is_row_level",
    "load_contract_file",
    "read_document",
    "threshold_of",
    "validate",
]
