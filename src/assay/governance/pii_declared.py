"""Classifications a project declares or has found, before lineage carries them on.

Three places say a column holds personal or restricted data:

- its contract: the ODCS property's `classification` (`pii`, `restricted`, ... or
  `public`, which also stops lineage from carrying one in) and `tags`;
- its dataset's tags: `tags={"pii": "name,email,phone"}` in Python, or the SQL header
  `-- tags: pii=name,email,phone` (which the header parser splits at every comma into
  `pii=name`, `email`, `phone`: the bare names after a classification tag continue its
  list when they are columns of the dataset);
- `assay pii scan`: each column found is classified `pii`, its kind (`email`) a tag.

Example:
    >>> tag_classes({"pii": "name", "email": "true", "source": "crm"}, {"pii"},
    ...             {"name", "email", "phone"})
    {'name': {'pii'}, 'email': {'pii'}}
    >>> tag_classes({"pii": "false"}, {"pii"}, None)  # a flag names no column
    {}
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assay.catalog.classifications import ScanFinding
from assay.contracts import Contract

#: Tag keys that name a classification even when assay.yaml does not list it as restricted.
CLASSIFICATION_TAGS = frozenset({"pii", "restricted", "sensitive", "confidential", "phi"})
#: Ingest masks after which a column holds no clear value (`partial` keeps a part of it).
CLEARING_MASKS = frozenset({"hash", "tokenize", "null"})
#: The contract classification that says a column holds nothing to protect.
PUBLIC = "public"


@dataclass
class Found:
    """What is known about one column: classifications, kinds (tags) and where from."""

    classes: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)

    def add(self, classes: Iterable[str], kinds: Iterable[str], source: str) -> None:
        self.classes.update(classes)
        self.kinds.update(kinds)
        if source not in self.sources:
            self.sources.append(source)


#: dataset -> column -> what is known about it.
Declared = dict[str, dict[str, Found]]


def tag_classes(
    tags: Mapping[str, str], keys: Collection[str], columns: Collection[str] | None
) -> dict[str, set[str]]:
    """Columns a dataset's tags classify, and how (see the module).

    Args:
        tags: the dataset's tags, in declared order.
        keys: the tag keys that are classifications.
        columns: the dataset's columns (None: unknown; every bare name then continues).
    """
    found: dict[str, set[str]] = {}
    current: str | None = None
    for key, value in tags.items():
        if key in keys:
            flag = value.strip().lower() in ("true", "false", "yes", "no", "none")
            current = None if flag else key  # bare names after a flag are tags of their own
            names = [] if flag else [v.strip() for v in value.split(",")]
            for name in filter(None, names):
                found.setdefault(name, set()).add(key)
        elif current is not None and value == "true" and (columns is None or key in columns):
            found.setdefault(key, set()).add(current)
        else:
            current = None
    return found


def contract_columns(contract: Contract) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Each column of `contract` -> (its classification, its property tags)."""
    tags = _property_tags(contract)
    return {
        c.name: ((c.classification or "").strip().lower() or None, tags.get(c.prop, ()))
        for c in contract.columns
    }


def _document(contract: Contract) -> dict[str, Any]:
    """The contract's YAML document (the parsed contract keeps neither property tags nor
    the description); empty when it cannot be read again."""
    path = Path(contract.path.split(" ")[0])
    try:
        return _parsed(str(path), path.stat().st_mtime_ns)
    except OSError:
        return {}


@functools.lru_cache(maxsize=256)
def _parsed(path: str, mtime_ns: int) -> dict[str, Any]:
    """A YAML file's mapping, cached until the file changes (with libyaml's parser when
    present: the pure-Python one takes ~50 ms a contract)."""
    del mtime_ns  # part of the cache key only
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(Path(path).read_text(), Loader=loader)  # a safe loader
    except (OSError, yaml.YAMLError):
        return {}
    return document if isinstance(document, dict) else {}


def _schema_object(contract: Contract, document: Mapping[str, Any]) -> dict[str, Any]:
    for obj in document.get("schema") or []:
        if isinstance(obj, dict) and str(obj.get("name") or "") == contract.object_name:
            return obj
    return {}


def _property_tags(contract: Contract) -> dict[str, tuple[str, ...]]:
    """ODCS property `tags`, by property name."""
    tags: dict[str, tuple[str, ...]] = {}
    for prop in _schema_object(contract, _document(contract)).get("properties") or []:
        if isinstance(prop, dict) and isinstance(prop.get("tags"), list):
            tags[str(prop.get("name"))] = tuple(str(t).strip().lower() for t in prop["tags"])
    return tags


def contract_purpose(contract: Contract) -> str | None:
    """What the data is for, as the contract says: its `description.purpose`, else its
    schema object's description."""
    document = _document(contract)
    described = document.get("description")
    if isinstance(described, dict) and described.get("purpose"):
        return " ".join(str(described["purpose"]).split())
    own = _schema_object(contract, document).get("description")
    return " ".join(str(own).split()) if own else None


def declared(
    contracts: Mapping[str, Iterable[Contract]],
    dataset_tags: Mapping[str, Mapping[str, str]],
    columns: Mapping[str, Collection[str] | None],
    findings: Iterable[ScanFinding],
    restricted: Iterable[str],
    ingest_masks: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[Declared, set[tuple[str, str]]]:
    """What contracts, dataset tags and stored scans classify, and the columns contracts
    declare `public` (which lineage does not classify).

    A source column masked at ingest by `hash`, `tokenize` or `null` holds no clear value:
    dataset tags (which name what the source delivers) and scans do not classify it, so
    roles read its tokens and lineage carries nothing from it. A contract's explicit
    classification still applies (declare it `public` there if tokens may be read).

    Args:
        contracts: contracts by the dataset they bind to.
        dataset_tags: each dataset's tags.
        columns: each dataset's columns, where known.
        findings: stored scan results.
        restricted: assay.yaml's restricted classifications (tag keys too).
        ingest_masks: each source's `mask=` (column -> mask kind).
    """
    cleared = {
        (dataset, column)
        for dataset, masks in (ingest_masks or {}).items()
        for column, kind in masks.items()
        if kind in CLEARING_MASKS
    }
    keys = CLASSIFICATION_TAGS | {r.lower() for r in restricted}
    found: Declared = {}
    public: set[tuple[str, str]] = set()
    for dataset, bound in contracts.items():
        for contract in bound:
            for column, (classification, tags) in contract_columns(contract).items():
                if classification == PUBLIC:
                    public.add((dataset, column))
                    continue
                classes = {classification} if classification else set()
                classes |= {t for t in tags if t in keys}
                kinds = {t.partition(":")[2] or t for t in tags if t not in keys}
                if classes or kinds:
                    where = f"contract {Path(contract.path.split(' ')[0]).name}"
                    _at(found, dataset, column).add(classes, kinds, where)
    for dataset, declared_tags in dataset_tags.items():
        tagged = tag_classes(declared_tags, keys, columns.get(dataset))
        for column, classes in tagged.items():
            if (dataset, column) not in cleared:
                _at(found, dataset, column).add(classes, (), "dataset tags")
    for finding in findings:
        if (finding.dataset, finding.column) in cleared:
            continue
        where = f"pii scan ({finding.confidence:.2f})"
        _at(found, finding.dataset, finding.column).add({"pii"}, {finding.kind}, where)
    for dataset, column in public:
        found.get(dataset, {}).pop(column, None)
    return found, public


def _at(found: Declared, dataset: str, column: str) -> Found:
    return found.setdefault(dataset, {}).setdefault(column, Found())


def known_columns(contracts: Mapping[str, Iterable[Contract]]) -> dict[str, list[str]]:
    """Columns contracts declare, by dataset (what is known of an unbuilt table)."""
    return {d: [c.name for b in bound for c in b.columns] for d, bound in contracts.items()}


def as_jsonable(found: Found) -> dict[str, Any]:
    """`found` as plain JSON values (sorted)."""
    return {
        "classes": sorted(found.classes),
        "kinds": sorted(found.kinds),
        "sources": list(found.sources),
    }
