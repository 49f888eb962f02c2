"""Who is looking: the UI's front door (API keys, sign-in sessions) as plain ASGI middleware.

The keys and roles are the feature server's (`server.api_keys`, principal `key:NAME`). A
script sends its key in `X-API-Key` or `Authorization: Bearer`; a browser signs in once at
`/login` with the key, and gets a session cookie holding a random token (HttpOnly,
SameSite=Strict): the key itself never goes into a cookie, a URL or a page. Sessions live in
the server's memory (a restart signs everyone out) and expire after `SESSION_SECONDS`.

Without a valid key or session, a browser asking for a page is sent to `/login`; anything
else (scripts, static files, fetches) gets 401.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import quote

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.server.auth import KeyRing
from assay.server.guard import AUTHENTICATED, PRINCIPAL, presented_key

COOKIE = "assay_session"
#: A session lasts a working day; then the browser signs in again.
SESSION_SECONDS = 12 * 3600
#: Paths anyone may ask for: the sign-in page, the liveness probe, and the sign-in page's
#: own style and script (the UI's code, no data; the vendored libraries still need a key).
PUBLIC = frozenset({"/login", "/health", "/static/assay.css", "/static/assay.js"})
#: Static files may be cached by the browser (they ship with the wheel and change only with
#: it; the templates add the package version to their URLs).
STATIC_CACHE = b"private, max-age=86400"


@dataclass
class Sessions:
    """Signed-in browsers: token digest -> (principal, expiry). The tokens themselves are
    not kept, so this memory does not hold a working cookie.

    Example:
        >>> sessions = Sessions()
        >>> token = sessions.open("key:analyst")
        >>> sessions.principal(token), sessions.principal("forged")
        ('key:analyst', None)
        >>> sessions.close(token); sessions.principal(token) is None
        True
    """

    seconds: float = SESSION_SECONDS
    _open: dict[bytes, tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, principal: str) -> str:
        """A new session for `principal`; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._drop_expired()
            self._open[_digest(token)] = (principal, time.monotonic() + self.seconds)
        return token

    def principal(self, token: str) -> str | None:
        """The principal of a live session, None for an unknown or expired token."""
        with self._lock:
            found = self._open.get(_digest(token))
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def close(self, token: str) -> None:
        """Sign a session out."""
        with self._lock:
            self._open.pop(_digest(token), None)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for digest in [d for d, (_, expiry) in self._open.items() if expiry < now]:
            del self._open[digest]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def session_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The session token from the request's Cookie header, if any.

    Example:
        >>> session_token([(b"cookie", b"theme=dark; assay_session=abc")])
        'abc'
    """
    for name, value in headers:
        if name == b"cookie":
            cookies: SimpleCookie = SimpleCookie()
            cookies.load(value.decode("latin-1"))
            if COOKIE in cookies:
                return cookies[COOKIE].value
    return None


def wants_page(scope: Scope) -> bool:
    """A browser navigating to a page (sent to /login), rather than a script or a file
    (answered 401)."""
    if scope["method"] != "GET" or scope["path"].startswith("/static/"):
        return False
    accept = dict(scope["headers"]).get(b"accept", b"")
    return b"text/html" in accept


class UiGuard:
    """Authenticates every request but PUBLIC ones, by key header or session cookie, and
    records the principal in the scope (`assay.server.guard.PRINCIPAL`)."""

    def __init__(self, app: ASGIApp, keys: KeyRing, sessions: Sessions):
        self.app = app
        self.keys = keys
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC:
            await self.app(scope, receive, send)
            return
        principal, refusal = await self.identify(scope)
        if principal is None:
            await refusal(scope, receive, send)
            return
        scope[AUTHENTICATED] = True
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, _cache_static(scope, send))

    async def identify(self, scope: Scope) -> tuple[str | None, Response]:
        """The request's principal, or None and the response that refuses it."""
        headers = scope["headers"]
        key = presented_key(headers)
        if key is not None:
            principal = await self.keys.principal(key)
            return principal, _refuse(scope, "invalid API key")
        token = session_token(headers)
        if token is not None:
            principal = self.sessions.principal(token)
            return principal, _refuse(scope, "your session has expired: sign in again")
        return None, _refuse(scope, "sign in at /login, or send an API key in the X-API-Key header")


def _refuse(scope: Scope, detail: str) -> Response:
    if wants_page(scope):
        target = scope["path"] + (
            "?" + scope["query_string"].decode() if scope["query_string"] else ""
        )
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return JSONResponse({"detail": detail}, 401, headers={"WWW-Authenticate": "Bearer"})


def _cache_static(scope: Scope, send: Send) -> Send:
    if not scope["path"].startswith("/static/"):
        return send

    async def with_cache(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"cache-control", STATIC_CACHE)]
        await send(message)

    return with_cache


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this site only (never `//elsewhere`).

    Example:
        >>> safe_next("/datasets/gold.x?tab=1"), safe_next("//evil.example"), safe_next("http://x")
        ('/datasets/gold.x?tab=1', '/', '/')
    """
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
