"""ODCS `pattern`s are ECMA-262 regular expressions that match anywhere in the string
(a search, as JSON Schema's `pattern`; anchor with ^ and $ for a whole-value match).

Engines run them with their own regex libraries: DuckDB with RE2, Spark with Java's. The
common ground is regular expressions without lookaround, backreferences, atomic groups or
possessive quantifiers; a pattern outside it is refused when the contract loads, naming the
rule, instead of failing (or silently differing) at run time.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from assay.contracts.errors import ContractError

# The regex parser of Python's re module (private, stable since 3.11): its parse tree
# says which constructs a pattern uses.
_sre_parse: Any = importlib.import_module("re._parser")
_sre_constants: Any = importlib.import_module("re._constants")

#: Constructs RE2 cannot run, and how to say so.
_UNSUPPORTED = {
    "ASSERT": "a lookahead or lookbehind",
    "ASSERT_NOT": "a negative lookahead or lookbehind",
    "GROUPREF": "a backreference",
    "GROUPREF_EXISTS": "a conditional group",
    "ATOMIC_GROUP": "an atomic group",
    "POSSESSIVE_REPEAT": "a possessive quantifier",
}


def check_pattern(pattern: Any, rule: str, where: str) -> str:
    """The pattern, once it is known to compile and to run on every engine.

    Example:
        >>> check_pattern("ACC[0-9]{8}", "pattern(account_id)", "c.yaml")
        'ACC[0-9]{8}'
        >>> try:
        ...     check_pattern("^(?!x)", "pattern(code)", "c.yaml")
        ... except ContractError as err:
        ...     print(err.message[:64])
        pattern(code): the pattern '^(?!x)' uses a negative lookahead or
    """
    if not isinstance(pattern, str) or not pattern:
        raise ContractError(f"{rule}: pattern must be a non-empty string", where=where)
    try:
        parsed = _sre_parse.parse(pattern)
    except re.error as exc:
        raise ContractError(
            f"{rule}: the pattern {pattern!r} is not a valid regular expression ({exc})",
            where=where,
            hint="ODCS patterns follow ECMA-262 regular expression syntax",
        ) from None
    found = _unsupported(parsed)
    if found:
        raise ContractError(
            f"{rule}: the pattern {pattern!r} uses {found}, which DuckDB (RE2) cannot run",
            where=where,
            hint="rewrite it without lookaround, backreferences, atomic groups or "
            "possessive quantifiers (e.g. split it into two rules)",
        )
    return pattern


def _unsupported(node: Any) -> str | None:
    if isinstance(node, _sre_parse.SubPattern):
        return _unsupported(node.data)
    if isinstance(node, list | tuple):
        if len(node) == 2 and isinstance(node[0], _sre_constants._NamedIntConstant):
            name = str(node[0])
            if name in _UNSUPPORTED:
                return _UNSUPPORTED[name]
            return _unsupported(node[1])
        for item in node:
            found = _unsupported(item)
            if found:
                return found
    return None
