"""Column masks, as SQL for the engines and as Arrow compute for data in this process.

The same mask gives the same text everywhere: the reader masks in SQL (DuckDB or Spark),
ingest masks the Arrow batch it is about to write, and tests hold the two to each other
and to Python's hashlib/hmac. A mask works on the value's text (`CAST(x AS VARCHAR)`),
which the engines and Arrow spell alike for strings and integers.

- `null`: no value (the column keeps its type).
- `hash`: SHA-256 of the text, in hex. Unkeyed, so a guessable value (a phone number) can
  be found by hashing guesses: use `tokenize` where that matters.
- `partial`: an email keeps its first letter and its domain (`a***@example.com`); other
  text keeps its last four characters (`************1111`), shorter text is all stars.
- `tokenize`: the key ring's deterministic token (`tok<version>_<hex>`, see
  assay.governance.keys).

Example:
    >>> import pyarrow as pa
    >>> mask_arrow("partial", pa.array(["ada@example.com", "4111111111111111", None]), None)
    <pyarrow.lib.StringArray object at ...>
    [
      "a***@example.com",
      "************1111",
      null
    ]
    >>> mask_sql("hash", '"email"', "duckdb", None)
    'sha256(CAST("email" AS VARCHAR))'
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from assay.errors import UsageError
from assay.governance.keys import TOKEN_HEX, TokenKeys

#: HMAC's block size for SHA-256, in bytes.
_BLOCK = 64


def masked_type(kind: str, original: pa.DataType) -> pa.DataType:
    """The type a column has once masked: text, except `null`, which keeps the type."""
    return original if kind == "null" else pa.string()


# -- Python: the reference every engine is tested against ---------------------------------


def partial_text(text: str) -> str:
    """The `partial` mask of one value's text.

    Example:
        >>> partial_text("ada@example.com"), partial_text("+33 6 12 34 56 78"), partial_text("abc")
        ('a***@example.com', '*************6 78', '***')
    """
    at = text.find("@")
    if at > 0:
        return f"{text[0]}***{text[at:]}"
    if len(text) <= 4:
        return "*" * len(text)
    return "*" * (len(text) - 4) + text[-4:]


def _text_function(kind: str, keys: TokenKeys | None) -> Callable[[str], str]:
    if kind == "hash":
        return lambda text: hashlib.sha256(text.encode()).hexdigest()
    if kind == "partial":
        return partial_text
    if kind == "tokenize":
        ring = _need_keys(keys)
        return ring.token
    raise UsageError(f"unknown mask {kind!r}", hint="use null, hash, partial or tokenize")


def mask_arrow(
    kind: str, values: pa.Array | pa.ChunkedArray, keys: TokenKeys | None
) -> pa.Array | pa.ChunkedArray:
    """`values` masked with `kind` (`keys`: the ring, for `tokenize`). Each distinct value
    is masked once, so a column of few distinct values costs little."""
    if kind == "null":
        return pa.nulls(len(values), values.type)
    function = _text_function(kind, keys)
    text = pc.cast(values, pa.string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    encoded = pc.dictionary_encode(text)
    masked = pa.array([function(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(masked, encoded.indices)


# -- SQL ---------------------------------------------------------------------------------


def mask_sql(kind: str, column: str, dialect: str, keys: TokenKeys | None) -> str:
    """The SQL expression of `column` (already quoted) masked with `kind`, in `dialect`
    (`duckdb` or `spark`)."""
    if dialect not in ("duckdb", "spark"):
        raise UsageError(f"masks have no SQL for the {dialect} dialect")
    if kind == "null":
        return f"CASE WHEN FALSE THEN {column} END"
    text = f"CAST({column} AS {'VARCHAR' if dialect == 'duckdb' else 'STRING'})"
    if kind == "hash":
        return _sha256_hex(text, dialect, binary=False)
    if kind == "partial":
        return _partial_sql(text, dialect)
    if kind == "tokenize":
        ring = _need_keys(keys)
        token = text
        for step in range(1, ring.current + 1):
            digest = _hmac_sql(ring.versions[step], token, dialect)
            token = f"concat('tok{step}_', substr({digest}, 1, {TOKEN_HEX}))"
        # concat() skips NULLs: a missing value would get the token of ''.
        return f"CASE WHEN {column} IS NULL THEN NULL ELSE {token} END"
    raise UsageError(f"unknown mask {kind!r}", hint="use null, hash, partial or tokenize")


def _sha256_hex(value: str, dialect: str, binary: bool) -> str:
    """SHA-256 in lowercase hex of `value` (text, or bytes when `binary`)."""
    if dialect == "duckdb":
        return f"sha256({value})"
    return f"sha2({value}, 256)"


def _utf8(text: str, dialect: str) -> str:
    return f"encode({text})" if dialect == "duckdb" else f"encode({text}, 'UTF-8')"


def _bytes_concat(left: str, right: str, dialect: str) -> str:
    return f"({left} || {right})" if dialect == "duckdb" else f"concat({left}, {right})"


def _hmac_sql(key: bytes, text: str, dialect: str) -> str:
    """HMAC-SHA-256 of `text`'s UTF-8 bytes in SQL (RFC 2104 from the engine's SHA-256):
    sha256((K ^ opad) || sha256((K ^ ipad) || message))."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner_pad = bytes(b ^ 0x36 for b in key).hex()
    outer_pad = bytes(b ^ 0x5C for b in key).hex()
    inner = _sha256_hex(
        _bytes_concat(f"unhex('{inner_pad}')", _utf8(text, dialect), dialect), dialect, True
    )
    return _sha256_hex(
        _bytes_concat(f"unhex('{outer_pad}')", f"unhex({inner})", dialect), dialect, True
    )


def _partial_sql(text: str, dialect: str) -> str:
    at = f"strpos({text}, '@')" if dialect == "duckdb" else f"instr({text}, '@')"
    rest = f"substr({text}, {at})"
    return (
        f"CASE WHEN {text} IS NULL THEN NULL "
        f"WHEN {at} > 1 THEN concat(substr({text}, 1, 1), '***', {rest}) "
        f"WHEN length({text}) <= 4 THEN repeat('*', length({text})) "
        f"ELSE concat(repeat('*', length({text}) - 4), substr({text}, length({text}) - 3)) END"
    )


def _need_keys(keys: TokenKeys | None) -> TokenKeys:
    if keys is None:
        raise UsageError(
            "the tokenize mask needs the project's key ring",
            hint="set $ASSAY_TOKEN_KEY or governance.token_key_file (see assay.governance.keys)",
        )
    return keys
