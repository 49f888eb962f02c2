"""Parse `.sql` dataset files: a header of `-- key: value` comments, then a SELECT.

    -- name: silver.transactions
    -- kind: incremental
    -- time_column: event_time
    -- grain: day
    SELECT ... FROM {{ ref('bronze.transactions') }}

Header keys: name, layer, kind (full | incremental | merge), time_column, grain, start,
lookback, batch_size, keys, partition_by, zorder_by (columns `assay optimize` clusters
files on), owner, tags, description, and for running
unattended schedule, catchup, sla, max_duration, max_quarantined. Other comments in the
header are ordinary comments (`-- Fix: map KOR to PRK`), unless their first word is close
to a header key (`-- grian: day`): that is refused as a typo, with "did you mean".
A value may end in a comment of its own (`-- kind: incremental  -- or full`).

The body is parsed (DuckDB's dialect, templates filled with placeholders) when the file
loads, so a syntax error or a broken `{{ ref(...) }}` is reported with its line and column
before anything runs.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from assay.config import read_text
from assay.errors import DefinitionError
from assay.governance.protection import Protection
from assay.pipelines.automation import Automation
from assay.pipelines.declare import _common, _enum
from assay.pipelines.spec import DatasetSpec, Kind
from assay.pipelines.transforms import _TEMPLATE, SqlTransform, template_refs

_KIND_ALIASES = {
    "incremental_by_time_range": "incremental",
    "merge_by_key": "merge",
    "table": "full",
    "view": "full",
}
_LIST_KEYS = {"keys", "partition_by", "zorder_by"}
_KNOWN = {
    "name",
    "layer",
    "kind",
    "time_column",
    "grain",
    "batch_size",
    "start",
    "lookback",
    "keys",
    "partition_by",
    "zorder_by",
    "owner",
    "tags",
    "description",
    "schedule",
    "catchup",
    "sla",
    "max_duration",
    "max_quarantined",
    "retention",
}
#: Header keys about running unattended (`Automation`), not about the data.
_AUTOMATION_KEYS = ("schedule", "catchup", "sla", "max_duration", "max_quarantined")
#: How close (difflib's ratio) a word must be to a header key to be refused as its typo:
#: `grian`, `kinds`, `time_colum`, `batchsize` are; `fix`, `note`, `todo`, `see` are not.
_TYPO_CUTOFF = 0.8
#: A comment after a value: `-- kind: incremental   -- full | incremental | merge`.
_TRAILING_COMMENT = re.compile(r"\s+--.*$")
#: The start of something meant as a template that `_TEMPLATE` does not match (unclosed,
#: or with double quotes): left in the SQL it would fail only when the dataset runs.
_BROKEN_TEMPLATE = re.compile(r"\{\{\s*(ref|var|start|end)\b")
#: sqlglot's description of a token, `<Token token_type: ..., text: WHERE, line: 3, ...>`.
_TOKEN_REPR = re.compile(r"<Token token_type: [\w.]+, text: (.*?), line: \d+, col: \d+.*?>")


def parse_header(text: str, path: str) -> tuple[dict[str, str], str]:
    """Split the leading `-- key: value` comments from the SQL body.

    Example:
        >>> parse_header("-- name: a.b\\n-- kind: full\\nSELECT 1", "x.sql")
        ({'name': 'a.b', 'kind': 'full'}, 'SELECT 1')
    """
    header, body_start = _split_header(text, path)
    return header, "\n".join(text.splitlines()[body_start:]).strip()


def _split_header(text: str, path: str) -> tuple[dict[str, str], int]:
    """The header's keys, and the index of the body's first line in `text.splitlines()`."""
    header: dict[str, str] = {}
    lines = text.splitlines()
    body_start = len(lines)
    last_key: str | None = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            body_start = number - 1
            break
        content = stripped[2:]
        if last_key and content.startswith("  ") and content.strip():
            header[last_key] += " " + content.strip()  # an indented continuation line
            continue
        key, sep, value = content.strip().partition(":")
        key = key.strip().lower()
        if not sep or not key.replace("_", "").isalnum():
            last_key = None
            continue  # an ordinary comment
        if key not in _KNOWN:
            _refuse_typo(key, f"{path}:{number}")
            last_key = None
            continue  # an ordinary comment that happens to contain a colon
        header[key] = _TRAILING_COMMENT.sub("", value).strip()
        last_key = key
    return header, body_start


def _refuse_typo(word: str, where: str) -> None:
    """Refuse `word:` when it looks like a misspelt header key (it would be lost silently)."""
    close = difflib.get_close_matches(word, _KNOWN, n=1, cutoff=_TYPO_CUTOFF)
    if close:
        raise DefinitionError(
            f"unknown header key {word!r} (did you mean {close[0]!r}?)",
            where=where,
            hint=f"header keys: {', '.join(sorted(_KNOWN))}; for an ordinary comment, "
            f"do not start it with `{word}:`",
        )


def load_sql_file(path: Path, variables: Mapping[str, Any] | None = None) -> DatasetSpec:
    """Build the DatasetSpec a `.sql` file declares; every error names the file.

    The body is parsed here, so a syntax error names the file, line and column when the
    project loads. With `variables` (assay.yaml's `vars:`), `{{ var('k') }}` is filled
    with its value and an undefined one is refused; without, a body that uses a var is
    only checked for broken templates.
    """
    where = str(path)
    text = read_text(path, DefinitionError)
    header, body_start = _split_header(text, where)
    body = "\n".join(text.splitlines()[body_start:])
    try:
        spec = _spec_from_header(header, body.strip(), where)
    except DefinitionError as exc:
        raise DefinitionError(exc.message, where=where, hint=exc.hint) from exc
    check_sql(body, where, body_start, variables)
    return spec


def check_sql(
    body: str, path: str, first_line: int = 0, variables: Mapping[str, Any] | None = None
) -> None:
    """Refuse a body that is not one parseable SELECT in DuckDB's dialect once its templates
    are filled, naming `path:line:column` (`first_line` lines precede the body in the file).

    Example:
        >>> try:
        ...     check_sql("SELECT a,\\n  FROM WHERE x", "m.sql", first_line=2)
        ... except DefinitionError as err:
        ...     print(err.where, "|", err.message)
        m.sql:4:8 | SQL syntax error near 'WHERE': Expected table name but got 'WHERE'
    """

    def at(offset: int) -> str:
        before = body[:offset]
        line = before.count("\n") + 1
        return f"{path}:{first_line + line}:{offset - (before.rfind(chr(10)) + 1) + 1}"

    def fill(match: re.Match[str]) -> str:
        value = _placeholder(match, variables, at(match.start()))
        return value.ljust(len(match.group(0)))  # keeps the columns after it where they were

    sql = _TEMPLATE.sub(fill, body)
    broken = _BROKEN_TEMPLATE.search(sql)
    if broken:
        rest = sql[broken.start() :].splitlines()[0]
        raise DefinitionError(
            f"unterminated or malformed template expression {_clip(rest)!r}",
            where=at(broken.start()),
            hint="write it as {{ ref('layer.name') }}, {{ start }}, {{ end }} or "
            "{{ var('name') }}, closed with }} and with single quotes",
        )
    if variables is None and any(m.group(1) == "var" for m in _TEMPLATE.finditer(body)):
        return  # a var's value can be any SQL text (`DESC`, `a > 1`): unknown, not parseable
    try:
        tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql)
        sqlglot.parse(sql, read="duckdb")
    except ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        raise _syntax_error(error, path, first_line) from None
    except TokenError:
        offset = _untokenizable_offset(sql)
        raise DefinitionError(
            f"SQL syntax error: {_unterminated_what(sql[offset:])} is never closed",
            where=at(offset),
            hint="close it where it should end, or remove it",
        ) from None
    # sqlglot reads `a,, b` as `a, b`; DuckDB refuses it, so the file must not load.
    for before, token in itertools.pairwise(tokens):
        if before.token_type is token.token_type is TokenType.COMMA:
            raise DefinitionError(
                "SQL syntax error near ',': two commas in a row",
                where=f"{path}:{first_line + token.line}:{token.col}",
                hint="remove one comma, or put the missing expression between them",
            )


def _placeholder(match: re.Match[str], variables: Mapping[str, Any] | None, where: str) -> str:
    """What a template expression stands for while the body is parsed: the table for
    `ref`, a column-like name for `start` and `end`, a var's value (when known)."""
    name, arg = match.group(1), match.group(2)
    if name == "ref" and arg:
        return arg
    if name in ("start", "end") and arg is None:
        return f"__{name}"
    if name == "var" and arg:
        if variables is None:
            return "__var"
        if arg not in variables:
            raise DefinitionError(
                f"unknown var {arg!r}",
                where=where,
                hint="define it under `vars:` in assay.yaml",
            )
        return str(variables[arg])
    raise DefinitionError(
        f"unknown template expression {match.group(0)!r}",
        where=where,
        hint="use ref('layer.name'), start, end or var('name')",
    )


def _syntax_error(error: Mapping[str, Any], path: str, first_line: int) -> DefinitionError:
    """A one-line error for sqlglot's first parse error, at the start of its token."""
    highlight = str(error.get("highlight") or "")
    line, column = error.get("line") or 1, error.get("col") or 1
    if highlight and "\n" not in highlight:
        column = max(1, column - len(highlight) + 1)  # sqlglot gives the token's last column
    description = _TOKEN_REPR.sub(r"'\1'", str(error.get("description") or "cannot parse"))
    near = f" near {_clip(highlight)!r}" if highlight else ""
    return DefinitionError(
        f"SQL syntax error{near}: {description}",
        where=f"{path}:{first_line + line}:{column}",
        hint="fix the SQL there (DuckDB's dialect)",
    )


def _untokenizable_offset(sql: str) -> int:
    """Where the token that cannot be read starts: after the last token that could."""
    tokenizer = sqlglot.Dialect.get_or_raise("duckdb").tokenizer_class()
    with contextlib.suppress(TokenError):
        tokenizer.tokenize(sql)
    tokens = getattr(tokenizer, "tokens", [])
    offset = tokens[-1].end + 1 if tokens else 0
    return offset + len(sql[offset:]) - len(sql[offset:].lstrip())


def _unterminated_what(rest: str) -> str:
    """What starts at the text that cannot be tokenized, in words."""
    if rest.startswith("/*"):
        return "a comment opened with /*"
    if rest.startswith("$"):
        return "a string opened with $$"
    if rest.startswith('"'):
        return 'a name opened with "'
    if rest.startswith("'") or rest[:2].upper() in ("E'", "X'", "B'"):
        return "a string opened with '"
    return f"the text {_clip(rest.splitlines()[0] if rest else '')!r}"


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _spec_from_header(header: dict[str, str], body: str, origin: str) -> DatasetSpec:
    if not body:
        raise DefinitionError("the file has no SQL body")
    name = header.pop("name", None)
    layer = header.pop("layer", None)
    if not name:
        raise DefinitionError("missing `-- name: layer.name` header")
    if layer and "." not in name:
        name = f"{layer}.{name}"
    elif layer and not name.startswith(f"{layer}."):
        raise DefinitionError(f"layer {layer!r} does not match name {name!r}")
    kind_text = header.pop("kind", "full").lower()
    kind = _enum(Kind, _KIND_ALIASES.get(kind_text, kind_text), "kind")
    automation = Automation.declare(
        f"{name} ({origin})", **{k: header.pop(k) for k in _AUTOMATION_KEYS if k in header}
    )
    retention = header.pop("retention", None)
    options: dict[str, Any] = {}
    for key, value in header.items():
        if key in _LIST_KEYS:
            options[key] = [v.strip() for v in value.split(",") if v.strip()]
        elif key == "tags":
            options[key] = _parse_tags(value)
        elif key in ("lookback", "batch_size"):
            options[key] = _positive_int(key, value)
        else:
            options[key] = value
    lookback = options.pop("lookback", 0)
    if "batch_size" in options:
        options["batch_size"] = max(1, options["batch_size"])
    inputs = tuple(dict.fromkeys(template_refs(body)))
    return DatasetSpec(
        name=name,
        kind=kind,
        producer=SqlTransform(body),
        inputs=inputs,
        lookback=lookback,
        origin=origin,
        automation=automation,
        protection=Protection.declare(f"{name} ({origin})", retention=retention),
        **_common(**options),
    )


def _positive_int(key: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise DefinitionError(f"{key} must be a whole number >= 0, not {value!r}")
    return number


def _parse_tags(value: str) -> dict[str, str]:
    tags = {}
    for item in (v.strip() for v in value.split(",")):
        if item:
            key, _, val = item.partition("=")
            tags[key.strip()] = val.strip() or "true"
    return tags
