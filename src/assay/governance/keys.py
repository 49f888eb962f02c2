"""The tokenization key ring: versioned secrets from the environment or a key file.

Tokens are deterministic HMAC-SHA-256 values under the project's key, so equal values give
equal tokens (joins, counts and distinct counts still work) and only the key's owner can
tell which value a token stands for. The ring is read from the environment variable
`governance.token_key_env` (default `ASSAY_TOKEN_KEY`) or from the file
`governance.token_key_file`, never from the project folder (a key in the repo is a key
given away). Its text is one `VERSION:SECRET` per line or comma, secrets in hex; a bare
secret is version 1.

Rotation without a vault: a token of version n is the HMAC under key n of the token of
version n-1 (version 0 being the value's text), so `assay keys rotate` turns stored tokens
of version n-1 into version n from the tokens alone, and a leaked older key no longer
links the stored tokens to values. Every key of the ring is still needed to tokenize a new
value, so keys are added, never dropped.

Example:
    >>> ring = TokenKeys({1: bytes(32)})
    >>> ring.token("4111111111111111")
    'tok1_3acce036e24fa90a0b060b5655621b33'
    >>> ring.rotated({2: b"k" * 32}).retokenize(ring.token("4111111111111111")).startswith("tok2_")
    True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from assay.errors import ProjectError, UsageError

if TYPE_CHECKING:
    from assay.config import GovernanceSettings

#: Hex characters of the HMAC a token keeps (128 bits: collisions are out of reach).
TOKEN_HEX = 32
_TOKEN = re.compile(rf"tok(\d+)_[0-9a-f]{{{TOKEN_HEX}}}")
_ENTRY = re.compile(r"^\s*(?:(\d+)\s*:)?\s*([0-9a-fA-F]{32,})\s*$")


def token_version(text: str) -> int:
    """The key version of a stored token, 0 for a value that is not a token.

    Example:
        >>> token_version("tok3_" + "0" * 32), token_version("alice@example.com")
        (3, 0)
    """
    found = _TOKEN.fullmatch(text)
    return int(found[1]) if found else 0


def hmac_hex(key: bytes, text: str) -> str:
    """HMAC-SHA-256 of `text`'s UTF-8 bytes under `key`, in lowercase hex."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


class TokenKeys:
    """A key ring: secrets by version (1, 2, ...), the highest being current.

    Args:
        versions: version -> secret (at least 16 bytes each).
        where: where the ring was read from, for errors.
    """

    def __init__(self, versions: Mapping[int, bytes], where: str = "the key ring"):
        if not versions:
            raise ProjectError("the key ring is empty", where=where, hint=_SETUP_HINT)
        wanted = list(range(1, max(versions) + 1))
        if sorted(versions) != wanted:
            raise ProjectError(
                f"key versions {sorted(versions)} are not 1..{max(versions)}",
                where=where,
                hint="keep every version: tokens of version n need keys 1..n",
            )
        self.versions = dict(versions)
        self.where = where

    @property
    def current(self) -> int:
        return max(self.versions)

    def token(self, value: object) -> str:
        """The current-version token of `value` (its text, as the engines cast it)."""
        return self.retokenize(str(value), 0)

    def retokenize(self, stored: str, version: int | None = None) -> str:
        """`stored` (a token of `version`, by default read from its prefix; 0: a clear
        value) carried up to the current version."""
        version = token_version(stored) if version is None else version
        for step in range(version + 1, self.current + 1):
            stored = f"tok{step}_{hmac_hex(self.versions[step], stored)[:TOKEN_HEX]}"
        return stored

    def rotated(self, new: Mapping[int, bytes] | None = None) -> TokenKeys:
        """This ring with one more version (a fresh random secret unless given)."""
        added = dict(new or {self.current + 1: secrets.token_bytes(32)})
        return TokenKeys({**self.versions, **added}, self.where)

    def dump(self) -> str:
        """The ring's text (`VERSION:HEX` per line), for the environment or the key file."""
        return "".join(f"{v}:{k.hex()}\n" for v, k in sorted(self.versions.items()))

    @classmethod
    def parse(cls, text: str, where: str) -> TokenKeys:
        """Read a ring's text (see the module)."""
        versions: dict[int, bytes] = {}
        for i, entry in enumerate(e for e in re.split(r"[,\n]", text) if e.strip()):
            found = _ENTRY.match(entry)
            if found is None:
                raise ProjectError(
                    f"entry {i + 1} is not VERSION:HEXSECRET (32+ hex characters)",
                    where=where,
                    hint=_SETUP_HINT,
                )
            versions[int(found[1] or 1)] = bytes.fromhex(found[2])
        return cls(versions, where)

    @classmethod
    def load(cls, settings: GovernanceSettings, root: str | Path) -> TokenKeys:
        """The project's ring: the key file when `token_key_file` is set, else the
        environment variable; an error that says how to make one when there is none."""
        if settings.token_key_file:
            path = key_file_path(settings.token_key_file, root)
            if not path.is_file():
                raise ProjectError("the key file does not exist", where=str(path), hint=_SETUP_HINT)
            return cls.parse(path.read_text(), str(path))
        text = os.environ.get(settings.token_key_env)
        if not text:
            raise UsageError(
                f"no tokenization key: ${settings.token_key_env} is not set",
                hint=_SETUP_HINT,
            )
        return cls.parse(text, f"${settings.token_key_env}")


def key_file_path(configured: str, root: str | Path) -> Path:
    """The key file's path; one inside the project folder is refused (it would be
    committed with the project)."""
    path = Path(configured).expanduser()
    path = path if path.is_absolute() else Path(root) / path
    project = Path(root).resolve()
    if path.resolve().is_relative_to(project):
        raise ProjectError(
            "the key file is inside the project folder, where it would be committed",
            where=str(path),
            hint="keep it outside, e.g. ~/.assay/keys/<project>.key",
        )
    return path


_SETUP_HINT = (
    "make a key with `python -c \"import secrets; print('1:' + secrets.token_hex(32))\"` and "
    "put it in $ASSAY_TOKEN_KEY or in a file outside the project named by "
    "governance.token_key_file"
)
