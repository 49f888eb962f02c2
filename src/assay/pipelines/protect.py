"""Masks and drops at ingest: a source's `mask=` and `drop=` applied to the batch it is
about to write, and to the raw records it quarantines.

A source declared with `mask={"card_number": "tokenize"}, drop=["cvv"]` never writes the
clear card number or the CVV anywhere assay keeps data: not in its table, not in its
quarantine table. The batch is masked after it is typed (declared types apply first, so a
token is the token of the typed value's text, the text the read-side masks use too) and
before contracts and the commit (so contract rejects hold masked values as well).

Quarantined raw records: a raw record that is a JSON object (a JSON line, a CSV or Parquet
row, a typed row a contract rejected) keeps its shape, with each masked field masked and
each dropped field removed. A raw record assay cannot split into fields (a CSV line with the
wrong number of fields, a line that is not a JSON object) is withheld: `raw_record` is null
and the reason says so; its source file and line still say where to find it at the source.

Each commit of a dataset with tokenized columns records the key version its tokens are
at (`tokens` in the commit metadata), which `assay keys status` reads and
`assay keys rotate` carries forward.

Example:
    >>> import pyarrow as pa
    >>> from assay.governance.keys import TokenKeys
    >>> shield = IngestProtection("bronze.c", {"email": "hash", "pan": "tokenize"}, ("cvv",),
    ...                           TokenKeys({1: bytes(32)}))
    >>> batch = pa.table({"pan": ["4111111111111111"], "email": ["a@b.c"], "cvv": ["123"]})
    >>> shield.apply(batch).to_pylist()[0]["pan"]
    'tok1_3acce036e24fa90a0b060b5655621b33'
    >>> shield.apply(batch).column_names
    ['pan', 'email']
    >>> shield.raw_record('{"pan": "4111111111111111", "cvv": "123", "n": 1}')
    '{"pan": "tok1_3acce036e24fa90a0b060b5655621b33", "n": 1}'
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from assay.engines.types import storage_type
from assay.errors import DefinitionError
from assay.governance.keys import TokenKeys
from assay.governance.masking import mask_arrow, masked_type, partial_text
from assay.governance.rotate import TOKENS

if TYPE_CHECKING:
    from assay.contracts.model import Contract
    from assay.pipelines.spec import DatasetSpec, RunContext

#: How a cast failure's reason goes on after the value it shows (see conform._message).
_WHY = " is not | is out of range | is too far out "
#: What a withheld raw record's reason says.
WITHHELD = "raw record withheld: it holds masked or dropped columns assay cannot locate in it"


@dataclass(frozen=True)
class IngestProtection:
    """A source's masks and drops, ready to apply (see the module).

    Attributes:
        dataset: the dataset's `where` (name and file), for errors.
        mask: column -> mask kind.
        drop: columns removed.
        keys: the key ring (None unless a column is tokenized).
    """

    dataset: str
    mask: Mapping[str, str]
    drop: tuple[str, ...] = ()
    keys: TokenKeys | None = None

    @classmethod
    def for_run(cls, ctx: RunContext) -> IngestProtection | None:
        """The protection of the dataset `ctx` builds; None when it masks and drops
        nothing. The key ring is loaded here (an error that says how to make one when a
        column is tokenized and there is none)."""
        return cls.for_spec(ctx.dataset, ctx.project_root)

    @classmethod
    def for_spec(cls, spec: DatasetSpec, root: str | Path) -> IngestProtection | None:
        """As `for_run`, from the dataset's spec and the project folder."""
        declared = spec.protection
        if not declared.at_ingest:
            return None
        _check_declaration(spec)
        keys = load_ring(root) if "tokenize" in declared.mask.values() else None
        return cls(spec.where, dict(declared.mask), tuple(declared.drop), keys)

    # -- the batch ----------------------------------------------------------------------

    def check_columns(self, columns: Collection[str]) -> None:
        """Every masked or dropped column must be one the source has: a name that is not
        is a typo, and a typo must not let clear values through."""
        missing = [c for c in [*self.mask, *self.drop] if c not in columns]
        if missing:
            what = "masks" if missing[0] in self.mask else "drops"
            raise DefinitionError(
                f"the dataset {what} column {missing[0]!r}, which its source does not have "
                f"(columns: {', '.join(sorted(columns)) or 'none'})",
                where=self.dataset,
                hint="fix the name in mask=/drop=, or declare the column in columns= when "
                "some files lack it",
            )

    def apply(self, table: pa.Table) -> pa.Table:
        """`table` without its dropped columns and with its masked columns masked (in
        place, so the column order stays)."""
        table = table.drop_columns([c for c in self.drop if c in table.column_names])
        for name, kind in self.mask.items():
            if name not in table.column_names:
                continue
            index = table.column_names.index(name)
            column = table.column(index)
            masked = mask_arrow(kind, column, self.keys)
            field = pa.field(name, masked_type(kind, column.type))
            table = table.set_column(index, field, masked)
        return table

    def planning_types(
        self,
        table_types: Mapping[str, str] | None,
        observed: Mapping[str, str],
        declared: Mapping[str, str],
    ) -> tuple[dict[str, str] | None, dict[str, str]]:
        """The table's column types and the declared types as a file source plans a batch
        against them. A masked or dropped column is typed as it is before masking
        (declared, else as observed), so every run casts it alike and a value's mask is
        the same on every run, while the table holds the masked text (or nothing); a
        dropped column counts as expected, so no schema policy calls it new."""
        before = {
            name: declared.get(name) or storage_type(observed[name])
            for name in [*self.drop, *(c for c, kind in self.mask.items() if kind != "null")]
            if name in observed
        }
        dropped = {c: t for c, t in before.items() if c in self.drop}
        if table_types is None:
            # Declared types are a baseline only when some are given: adding the dropped
            # columns to none would make every other column "new" to a frozen schema.
            return None, {**declared, **dropped} if declared else dict(declared)
        return {**table_types, **before}, dict(declared)

    def commit_extra(self) -> dict[str, Any]:
        """What the batch's commit records: masks and drops, and, with tokenized columns,
        the key version of their tokens (see assay.governance.rotate.recorded_tokens)."""
        extra: dict[str, Any] = {
            "protection": {"masked": dict(self.mask), "dropped": list(self.drop)}
        }
        if self.keys is not None:
            tokenized = [c for c, kind in self.mask.items() if kind == "tokenize"]
            extra[TOKENS] = {"key_version": self.keys.current, "columns": tokenized}
        return extra

    # -- quarantine ---------------------------------------------------------------------

    def raw_record(self, raw: str | None) -> str | None:
        """A quarantined raw record with its masked fields masked and its dropped fields
        removed; None (withheld) when it is not a JSON object."""
        if raw is None:
            return None
        try:
            record = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        for name in self.drop:
            record.pop(name, None)
        for name, kind in self.mask.items():
            if name in record:
                record[name] = self._mask_value(kind, record[name])
        return json.dumps(record, ensure_ascii=False)

    def rejects(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Quarantine rows (dicts with `raw_record` and `reason`) with their raw records
        protected; a withheld record's reason says so."""
        protected = []
        for row in rows:
            raw = row.get("raw_record")
            masked = self.raw_record(raw)
            reason = self.reason(row.get("reason"))
            if raw is not None and masked is None:
                reason = f"{reason} ({WITHHELD})"
            protected.append({**row, "raw_record": masked, "reason": reason})
        return protected

    def reason(self, reason: str | None) -> str | None:
        """A reject's reason without the value of a masked or dropped column: a cast
        failure names the value it could not cast (`column email: x is not DATE`)."""
        if not reason:
            return reason
        for name in [*self.mask, *self.drop]:
            shown = re.compile(rf"(column {re.escape(name)}: ).*?(?={_WHY})", re.DOTALL)
            reason = shown.sub(r"\1(value withheld)", reason)
        return reason

    def _mask_value(self, kind: str, value: Any) -> Any:
        if value is None or kind == "null":
            return None
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if kind == "partial":
            return partial_text(text)
        return mask_arrow(kind, pa.array([text]), self.keys)[0].as_py()


def load_ring(root: str | Path) -> TokenKeys:
    """The project's key ring (from assay.yaml's governance settings); an error that says
    how to make one when there is none."""
    from assay.config import load_config

    config = load_config(Path(root))
    return TokenKeys.load(config.governance, root)


def _check_declaration(spec: DatasetSpec) -> None:
    """Masks and drops that would break how the dataset is written are refused."""
    protection = spec.protection
    if spec.time_column and spec.time_column in [*protection.mask, *protection.drop]:
        raise DefinitionError(
            f"the time column {spec.time_column!r} cannot be masked or dropped",
            where=spec.where,
            hint="intervals are cut on its values; mask it for readers with a role instead",
        )
    for column in spec.keys:
        if column in protection.drop or protection.mask.get(column) in ("null", "partial"):
            raise DefinitionError(
                f"the key column {column!r} cannot be dropped or masked with "
                f"{protection.mask.get(column) or 'drop'}: distinct keys would collide",
                where=spec.where,
                hint="tokenize or hash a key column: equal values keep equal keys",
            )
    for column in spec.partition_by:
        if column in [*protection.mask, *protection.drop]:
            raise DefinitionError(
                f"the partition column {column!r} cannot be masked or dropped",
                where=spec.where,
                hint="partition on a column that is not personal data",
            )


def rules_on_masked_columns(
    spec: DatasetSpec, contracts: Sequence[Contract], upstream: Sequence[DatasetSpec] = ()
) -> list[str]:
    """Row rules of `spec`'s contracts that check the values of a column masked at ingest,
    by `spec` or by a source upstream of it (a column of the same name): they see the
    mask (a hash, a token), so a pattern or a set of valid values fails every row and the
    whole batch goes to quarantine. Said when the project loads.

    Example:
        >>> from assay.contracts.model import Contract, RowRule
        >>> import assay, sqlglot
        >>> spec = assay.files("bronze.c", path="c.csv", format="csv", mask={"email": "hash"})
        >>> rule = RowRule("pattern(email)", "email", sqlglot.parse_one("false"), "bad")
        >>> contract = Contract("bronze.c", "contracts/c.yaml", (), (rule,), ())
        >>> rules_on_masked_columns(spec, [contract])[0][:58]
        'bronze.c: contracts/c.yaml checks pattern(email) on email,'
    """
    masked = {c: (s.name, k) for s in (*upstream, spec) for c, k in s.protection.mask.items()}
    found = []
    for contract in contracts:
        for column, checks in _value_checks(contract).items():
            source, kind = masked.get(column, (None, "null"))
            if kind == "null":
                continue
            found.append(
                f"{spec.name}: {contract.path} checks {', '.join(checks)} on {column}, which "
                f"{source} masks at ingest ({kind}): the rules see the {kind} value, so they "
                "may quarantine every row; drop those rules or do not mask the column"
            )
    return found


def _value_checks(contract: Contract) -> dict[str, list[str]]:
    """Per column, what `contract` checks of its values (not only that it is present): a
    logical type other than string, logicalTypeOptions, quality rules, row rules."""
    checks: dict[str, list[str]] = {}
    for column in contract.columns:
        logical = (column.logical_type or "string").lower()
        found = [f"logicalType {logical}"] if logical != "string" else []
        found += [f"{option}" for option in column.options]
        if found:
            checks.setdefault(column.name, []).extend(found)
    for name, item in contract.raw.get("quality", []):
        label = item.get("metric") or item.get("rule") or item.get("type") or "quality"
        checks.setdefault(name, []).append(str(label))
    for rule in contract.row_rules:
        if rule.column and not rule.name.startswith(("required(", "unique(")):
            checks.setdefault(rule.column, []).append(rule.name)
    return checks
