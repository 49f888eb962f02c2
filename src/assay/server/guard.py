"""The feature server's front door, as plain ASGI middleware (Starlette's BaseHTTPMiddleware
costs about a millisecond a request): the API key is checked before a byte of the body is
read, the body is read only up to the size limit (chunked bodies too), and every request
is counted in Prometheus metrics labelled by route template, never by raw path.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import Message, Receive, Scope, Send

from assay.server.auth import KeyRing

#: The route label of requests that match no route (404s): one series for all of them.
UNMATCHED = "unmatched"
#: Methods labelled as themselves; any other (the HTTP parser accepts any token) is "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Status recorded when the client went away before its body arrived (nginx's convention).
CLIENT_CLOSED = 499
#: Scope key set once the key was checked; the /features route refuses requests without it.
AUTHENTICATED = "assay.authenticated"
#: Scope key holding the principal of the request's API key (`key:NAME`).
PRINCIPAL = "assay.principal"


class Metrics:
    """Request counts and latencies in a registry of their own (one per app), exported in
    the Prometheus text format by prometheus_client, which escapes label values."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "assay_requests",
            "HTTP requests, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "assay_request_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        self.seconds.labels(route, method).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Refusal(Exception):
    """A request answered by the guard itself, with a status and a message."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        # Connection: close, so the server hangs up instead of taking in (and discarding)
        # the rest of a body it refused to read.
        headers = {**(headers or {}), "Connection": "close"}
        self.response: Response = JSONResponse({"detail": detail}, status, headers=headers)


class ClientGone(Exception):
    """The client disconnected before sending its whole body."""


class Guard:
    """Key first, then the body (capped), then the app; every request measured.

    Args:
        app: the next ASGI app.
        routes: the app's routes, to find a request's route template.
        keys: the configured API keys.
        protected: route templates that need a key.
        max_body_bytes: the largest body read; larger ones get 413.
        metrics: where requests are counted.
    """

    def __init__(
        self,
        app: Any,
        *,
        routes: list[BaseRoute],
        keys: KeyRing,
        protected: Collection[str],
        max_body_bytes: int,
        metrics: Metrics,
    ):
        self.app = app
        self.routes = routes
        self.keys = keys
        self.protected = frozenset(protected)
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), 500
        route = self.template(scope)

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if route in self.protected:
                await self.authenticate(scope)
            body = await self.read_body(scope, receive)
        except Refusal as refusal:
            await refusal.response(scope, receive, record_status)
        except ClientGone:
            status = CLIENT_CLOSED
        else:
            await self.app(scope, _replay(body, receive), record_status)
        finally:
            self.metrics.observe(route, scope["method"], status, time.perf_counter() - began)

    def template(self, scope: Scope) -> str:
        """The path template of the route the request goes to (`/items/{id}`, not
        `/items/7`), or UNMATCHED."""
        partial = UNMATCHED
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "path", UNMATCHED))
            if match is Match.PARTIAL and partial == UNMATCHED:  # wrong method: a 405
                partial = str(getattr(route, "path", UNMATCHED))
        return partial

    async def authenticate(self, scope: Scope) -> None:
        if not self.keys.keys:
            raise Refusal(
                401,
                "no API keys are configured: add server.api_keys to assay.yaml "
                "(`assay serve --hash-key` reads a key on standard input and prints its hash)",
            )
        key = presented_key(scope["headers"])
        if key is None:
            raise Refusal(
                401,
                "missing API key: send it in the X-API-Key header "
                "(or as Authorization: Bearer KEY)",
                {"WWW-Authenticate": "Bearer"},
            )
        principal = await self.keys.principal(key)
        if principal is None:
            raise Refusal(401, "invalid API key", {"WWW-Authenticate": "Bearer"})
        scope[AUTHENTICATED] = True
        # Who the request reads as (roles grant to `key:NAME`): the key, never a header.
        scope[PRINCIPAL] = principal

    async def read_body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, read no further than max_body_bytes (plus the chunk that crossed
        it): a declared Content-Length over the limit is refused before reading at all."""
        limit = self.max_body_bytes
        too_large = Refusal(413, f"request body over {limit} bytes (server.max_body_bytes)")
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    raise Refusal(400, "invalid Content-Length header")
                if int(value) > limit:
                    raise too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The API key from `X-API-Key: KEY` or `Authorization: Bearer KEY` (what Prometheus
    sends with `authorization: {credentials: KEY}` in a scrape config)."""
    for name, value in headers:
        if name == b"x-api-key":
            return value.decode("latin-1")
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].decode("latin-1").strip()
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives the app the body already read, then passes through
    (for disconnect messages)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
