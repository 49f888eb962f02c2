"""dbt tests as assay contract rules. dbt compiles every test (unique, not_null,
accepted_values, relationships, custom generic tests, singular tests) to a SELECT of the
failing rows; assay runs it as an ODCS `type: sql` rule, `SELECT count(*) FROM (<test>)`
must be 0, bound to the dataset the test is attached to. So a dbt test runs on each batch
that dataset writes, before the commit, lands in the check results under the test's name
(`dbt:<test name>`), and an error-severity failure blocks the batch like any contract error:
nothing committed, the interval not done, downstream not run. Severity warn warns.

A test reading several models (relationships, a singular test with a join) runs with the
dataset built last among them; the others are read as their tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from assay.contracts.model import BatchRule, Contract, Severity, Threshold
from assay.contracts.sqlrules import OBJECT, SqlQuery
from assay.integrations.dbt.compile import DbtError
from assay.integrations.dbt.models import Names
from assay.integrations.dbt.relations import parse_compiled, rename_relations
from assay.pipelines.spec import DatasetSpec

#: dbt's `warn_if` / `error_if` conditions on the failure count that assay runs.
_CONDITION = re.compile(r"^\s*(!=|<>|>=|>)\s*(\d+)\s*$")
_HOLDS = {"!=": "mustBe", "<>": "mustBe", ">": "mustBeLessOrEqualTo", ">=": "mustBeLessThan"}


def dbt_test_contracts(
    manifest: Mapping[str, Any], names: Names, specs: Sequence[DatasetSpec], project_dir: str
) -> tuple[dict[str, list[Contract]], dict[str, set[str]]]:
    """One contract per dataset holding the dbt tests attached to it, keyed by dataset;
    and the datasets each must read besides its own inputs so that its tests run after
    every model they read (dbt runs a test once all its models are built)."""
    upstream = _upstream_closure(specs)
    rules: dict[str, list[BatchRule]] = {}
    extra: dict[str, set[str]] = {}
    for node in manifest.get("nodes", {}).values():
        if node["resource_type"] != "test":
            continue
        host, rule, after = dbt_test_rule(node, names, upstream, project_dir)
        rules.setdefault(host, []).append(rule)
        if after:
            extra.setdefault(host, set()).update(after)
    contracts = {
        host: [
            Contract(
                dataset=host,
                path=f"{project_dir} (dbt tests)",
                columns=(),
                row_rules=(),
                batch_rules=tuple(host_rules),
                object_name=f"dbt tests on {host}",
            )
        ]
        for host, host_rules in rules.items()
    }
    return contracts, extra


def dbt_test_rule(
    node: Mapping[str, Any],
    names: Names,
    upstream: Mapping[str, set[str]],
    project_dir: str,
) -> tuple[str, BatchRule, set[str]]:
    """The dataset a dbt test runs with, the test as a `sql` batch rule, and the datasets
    it reads that are not upstream of that dataset (to be built before it)."""
    where = f"{project_dir}/{node['original_file_path']} (test {node['name']})"
    reads = [names.datasets[d] for d in node["depends_on"]["nodes"] if d in names.datasets]
    if not reads:
        raise DbtError(
            "the test reads no model or source that assay builds",
            where=where,
            hint="dbt tests on ephemeral models cannot run: test the model that uses it",
        )
    host = _host(node, reads, names, upstream, where)
    after = {r for r in reads if r != host and r not in upstream.get(host, ())}
    relations = {**names.relations}
    for key, dataset in names.relations.items():
        if dataset == host:
            relations[key] = OBJECT  # the batch being checked
    tree, read = rename_relations(
        parse_compiled(node.get("compiled_code") or "", where), relations, where
    )
    config = node.get("config") or {}
    wrapped = exp.select(_fail_calc(config, where)).from_(tree.subquery("dbt_test"))
    severity = (
        Severity.WARNING
        if str(config.get("severity", "error")).lower() == "warn"
        else Severity.ERROR
    )
    condition = config.get("error_if" if severity is Severity.ERROR else "warn_if") or "!= 0"
    query = SqlQuery(
        _named(wrapped, host),  # what `assay lineage` reads the rule's columns from
        wrapped,
        {name.lower(): name for name in read if name != OBJECT},
    )
    rule = BatchRule(
        name=f"dbt:{node['name']}",
        metric="sql",
        threshold=_threshold(str(condition), where),
        unit="failing rows",
        severity=severity,
        query=query,
    )
    return host, rule, after


def _host(
    node: Mapping[str, Any],
    reads: list[str],
    names: Names,
    upstream: Mapping[str, set[str]],
    where: str,
) -> str:
    """The dataset built after every other one the test reads (the attached model when
    it is that one), else the attached model."""
    attached = names.datasets.get(node.get("attached_node") or "")
    candidates = ([attached] if attached else []) + reads
    for candidate in candidates:
        if all(r == candidate or r in upstream.get(candidate, ()) for r in reads):
            return candidate
    # Unrelated models (a relationships test between two staging models): the test runs
    # with its attached model, which then waits for the others, unless one of them is
    # built from it (that would be a cycle).
    host = attached or reads[0]
    later = [r for r in reads if host in upstream.get(r, ())]
    if later:
        raise DbtError(
            f"the test reads {', '.join(sorted(set(reads)))}: {later[0]} is built from "
            f"{host}, and not from the others",
            where=where,
            hint="test each model on its own, or read one model downstream of the others",
        )
    return host


def _upstream_closure(specs: Sequence[DatasetSpec]) -> dict[str, set[str]]:
    """Every dataset each dbt dataset reads, directly or through other dbt datasets."""
    inputs = {s.name: set(s.inputs) for s in specs}
    closure: dict[str, set[str]] = {}

    def visit(name: str) -> set[str]:
        if name not in closure:
            closure[name] = set()
            found = set(inputs.get(name, ()))
            for parent in inputs.get(name, ()):
                found |= visit(parent)
            closure[name] = found
        return closure[name]

    for name in inputs:
        visit(name)
    return closure


def _named(tree: exp.Query, host: str) -> str:
    """The rule's SQL with the checked dataset named (the tree reads it as the batch)."""

    def name(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and node.name == OBJECT:
            return exp.alias_(exp.to_table(host), node.alias, table=True)
        return node

    return tree.copy().transform(name).sql(dialect="duckdb")


def _fail_calc(config: Mapping[str, Any], where: str) -> exp.Expr:
    text = str(config.get("fail_calc") or "count(*)")
    try:
        return sqlglot.parse_one(text, read="duckdb")
    except ParseError:
        raise DbtError(
            f"fail_calc {text!r} does not parse", where=where, hint="write it in DuckDB's SQL"
        ) from None


def _threshold(condition: str, where: str) -> Threshold:
    """dbt's failure condition (`!= 0`, `> 10`, `>= 5`) as the threshold that passes.

    Example:
        >>> str(_threshold("!= 0", "t")), str(_threshold(">10", "t")), str(_threshold(">= 5", "t"))
        ('= 0', '<= 10', '< 5')
    """
    match = _CONDITION.match(condition)
    if match is None:
        raise DbtError(
            f"error_if/warn_if {condition!r} is not one assay runs",
            where=where,
            hint="use '!= 0', '> N' or '>= N'",
        )
    return Threshold.of(_HOLDS[match.group(1)], int(match.group(2)))
