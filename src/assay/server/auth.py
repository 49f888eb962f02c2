"""API keys: stored as salted scrypt hashes, verified once per key and process.

A stored key is `$scrypt$ln=14,r=8,p=1$<salt>$<hash>` (base64 without padding, the
layout passlib uses), made by `hash_key` or `assay serve --hash-key`. scrypt comes from
Python's standard library (`hashlib.scrypt`, OpenSSL's implementation): slow and
memory-hard, so a leaked assay.yaml does not give the keys away cheaply, and no extra
dependency is needed. The unsalted SHA-256 hex digests of earlier versions still verify,
so keys can be rotated at leisure (the server warns at startup while any are left).

A scrypt check costs about 0.1 s and 16 MiB, far too much for every request: `KeyRing.check`
remembers each presented key's answer for the life of the process (keyed by an HMAC
under a secret made at startup, so the memory holds no key or plain key digest), runs
the slow check in a worker thread, and at most `SLOW_CHECKS` of them at a time, so a
flood of wrong keys costs bounded CPU and memory and never blocks the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import anyio
import anyio.to_thread

from assay.errors import ProjectError

#: scrypt cost: N = 2**LOG_N, block size R, parallelism P (16 MiB of memory per check;
#: the scrypt paper's parameters for interactive logins).
LOG_N, R, P = 14, 8, 1
SALT_BYTES, HASH_BYTES = 16, 32
#: Slow checks running at once, per process; later ones wait their turn.
SLOW_CHECKS = 2
#: Wrong keys remembered (most recent first); right keys are always remembered.
REMEMBERED_WRONG = 4096

_SCRYPT = re.compile(
    r"\$scrypt\$ln=(?P<ln>\d+),r=(?P<r>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt(key: str, salt: bytes, log_n: int, r: int, p: int, size: int) -> bytes:
    n = 2**log_n
    # OpenSSL needs 128 * r * n bytes for the work area, plus a little; allow twice that.
    return hashlib.scrypt(
        key.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + 2**20, dklen=size
    )


def hash_key(key: str) -> str:
    """The salted scrypt hash stored in assay.yaml (`server.api_keys`) for an API key.

    Example:
        >>> stored = hash_key("secret")
        >>> stored.startswith("$scrypt$ln=14,r=8,p=1$")
        True
        >>> StoredKey.parse(stored).matches("secret"), StoredKey.parse(stored).matches("other")
        (True, False)
    """
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(key, salt, LOG_N, R, P, HASH_BYTES)
    return f"$scrypt$ln={LOG_N},r={R},p={P}${_b64(salt)}${_b64(digest)}"


@dataclass(frozen=True)
class StoredKey:
    """One entry of `server.api_keys`: a scrypt hash, or a legacy unsalted SHA-256 digest."""

    legacy: bool
    digest: bytes
    salt: bytes = b""
    log_n: int = 0
    r: int = 0
    p: int = 0

    @classmethod
    def parse(cls, text: str, where: str = "server.api_keys") -> StoredKey:
        """Read a stored hash; anything else is a ProjectError naming the entry (a mistyped
        hash would otherwise never match, silently)."""
        text = text.strip()
        if _SHA256.fullmatch(text):
            return cls(legacy=True, digest=bytes.fromhex(text))
        found = _SCRYPT.fullmatch(text)
        if found is None:
            raise ProjectError(
                "not an API key hash (expected $scrypt$ln=...,r=...,p=...$salt$hash)",
                where=where,
                hint="store the line `assay serve --hash-key` prints, not the key itself",
            )
        log_n, r, p = (int(found[g]) for g in ("ln", "r", "p"))
        if not (1 <= log_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ProjectError(
                f"scrypt cost ln={log_n},r={r},p={p} is out of range (ln 1-20, r 1-32, p 1-16)",
                where=where,
                hint="make a new hash with `assay serve --hash-key`",
            )
        return cls(False, _unb64(found["hash"]), _unb64(found["salt"]), log_n, r, p)

    def matches(self, key: str) -> bool:
        """Whether `key` is the key this hash was made from (slow for scrypt hashes)."""
        if self.legacy:
            presented = hashlib.sha256(key.encode()).digest()
        else:
            presented = _scrypt(key, self.salt, self.log_n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(presented, self.digest)


class KeyRing:
    """The configured API keys, with each presented key's answer remembered per process.

    Example:
        >>> ring = KeyRing([hash_key("k1")])
        >>> ring.verify("k1"), ring.verify("k2")
        (True, False)
    """

    def __init__(self, stored: Sequence[str] | Mapping[str, str]):
        named = list(stored.items() if isinstance(stored, Mapping) else enumerate(stored))
        self.keys = [StoredKey.parse(s, f"server.api_keys[{i}]") for i, s in named]
        #: The principal each key's requests read as (`key:NAME`, `key:INDEX` in a list).
        self.principals = [f"key:{name}" for name, _ in named]
        self._secret = os.urandom(32)
        self._right: dict[bytes, str] = {}
        self._wrong: OrderedDict[bytes, None] = OrderedDict()
        self._limiter: anyio.CapacityLimiter | None = None
        self._lock = threading.Lock()  # verify runs in worker threads

    @property
    def legacy_count(self) -> int:
        """Stored keys still in the unsalted SHA-256 form, to be rotated."""
        return sum(k.legacy for k in self.keys)

    def verify(self, key: str) -> bool:
        """Check `key` against every stored hash, remembering the answer."""
        return self.identify(key) is not None

    def identify(self, key: str) -> str | None:
        """The principal of `key` (`key:NAME`), None when no stored hash matches it;
        the answer is remembered.

        Example:
            >>> KeyRing({"scoring": hash_key("k1")}).identify("k1")
            'key:scoring'
        """
        token = self._token(key)
        with self._lock:
            if token in self._right:
                return self._right[token]
            if token in self._wrong:
                return None
        # Every hash is tried (no early exit), so the time does not say which one matched.
        right = [stored.matches(key) for stored in self.keys]
        principal = next((p for p, ok in zip(self.principals, right, strict=True) if ok), None)
        with self._lock:
            if principal is not None:
                self._right[token] = principal
            else:
                self._wrong[token] = None
                while len(self._wrong) > REMEMBERED_WRONG:
                    self._wrong.popitem(last=False)
        return principal

    async def check(self, key: str) -> bool:
        """`verify` for the event loop (see `principal`)."""
        return await self.principal(key) is not None

    async def principal(self, key: str) -> str | None:
        """`identify` for the event loop: remembered answers at once, new keys in a
        worker thread, at most SLOW_CHECKS at a time."""
        token = self._token(key)
        if token in self._right:
            return self._right[token]
        if token in self._wrong:
            return None
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(SLOW_CHECKS)
        return await anyio.to_thread.run_sync(self.identify, key, limiter=self._limiter)

    def _token(self, key: str) -> bytes:
        return hmac.digest(self._secret, key.encode(), "sha256")
