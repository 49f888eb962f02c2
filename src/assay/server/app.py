"""The feature server: `POST /features` returns feature vectors from the online store.

Thin by design: it validates input, checks the API key and calls `project.features.online`.
API keys are configured hashed (SHA-256) in assay.yaml; health and metrics need no key.
"""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from assay.catalog.store import utcnow
from assay.errors import AssayError
from assay.features.request_log import RequestLog
from assay.features.store import EntityKeyError

if TYPE_CHECKING:
    from assay.project import Project

Scalar = str | int | float | bool


JSON = "application/json"


def _iso(value: Any) -> str:
    """Timestamps in responses: ISO 8601, as the response model documents them."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _detail(exc: AssayError) -> str:
    return exc.message + (f" ({exc.hint})" if exc.hint else "")


def hash_key(key: str) -> str:
    """The SHA-256 hex digest stored in assay.yaml for an API key.

    Example:
        >>> hash_key("secret")[:16]
        '2bb80d537b1da3e3'
    """
    return hashlib.sha256(key.encode()).hexdigest()


AS_OF = (
    "the time the vectors are for (ISO 8601; UTC without an offset; default now): TTLs "
    "count from it, and values stamped after it are not served (status future). "
    "Requests with as_of are not logged for skew: they are not live traffic."
)


def request_models(max_entities: int) -> tuple[type[BaseModel], type[BaseModel]]:
    """The two request shapes: entities with feature references, or with a service name.
    Both are in the OpenAPI schema, limits included, so clients (and schemathesis) see them."""

    class ByFeatures(BaseModel):
        model_config = ConfigDict(extra="forbid")
        entities: list[dict[str, Scalar]] = Field(min_length=1, max_length=max_entities)
        features: list[str] = Field(min_length=1, description="view:feature references")
        as_of: datetime | None = Field(default=None, description=AS_OF)

    class ByService(BaseModel):
        model_config = ConfigDict(extra="forbid")
        entities: list[dict[str, Scalar]] = Field(min_length=1, max_length=max_entities)
        service: str = Field(description="a FeatureService name")
        as_of: datetime | None = Field(default=None, description=AS_OF)

    return ByFeatures, ByService


class FeatureValue(BaseModel):
    value: Scalar | None
    event_timestamp: datetime | None
    status: str = Field(
        description="present, expired (older than the view's TTL at as_of), future (stamped "
        "after as_of; the store keeps only the latest value) or missing"
    )


class FeatureResponse(BaseModel):
    results: list[dict[str, FeatureValue]]


class Metrics:
    """Request counters and latency totals, exported in Prometheus text format."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[tuple[str, int], int] = {}
        self.seconds: dict[str, float] = {}

    def observe(self, path: str, status: int, seconds: float) -> None:
        with self.lock:
            self.counts[(path, status)] = self.counts.get((path, status), 0) + 1
            self.seconds[path] = self.seconds.get(path, 0.0) + seconds

    def render(self) -> str:
        lines = ["# TYPE assay_requests_total counter"]
        with self.lock:
            for (path, status), n in sorted(self.counts.items()):
                lines.append(f'assay_requests_total{{path="{path}",status="{status}"}} {n}')
            lines.append("# TYPE assay_request_seconds_total counter")
            for path, total in sorted(self.seconds.items()):
                lines.append(f'assay_request_seconds_total{{path="{path}"}} {total:.6f}')
        return "\n".join(lines) + "\n"


class LimitAndMeasure:
    """Refuses bodies over the size limit (413) and times every request, as plain ASGI
    middleware (Starlette's BaseHTTPMiddleware costs about a millisecond per request)."""

    def __init__(self, app: Any, metrics: Metrics, max_body_bytes: int):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), 500
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            status = 413
            refusal = JSONResponse(
                {"detail": f"request body over {self.max_body_bytes} bytes"}, 413
            )
            await refusal(scope, receive, send)
        else:

            async def record_status(message: Any) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await self.app(scope, receive, record_status)
        self.metrics.observe(scope["path"], status, time.perf_counter() - began)


def create_app(project: "Project") -> FastAPI:
    """The FastAPI app serving `project`'s online features.

    With `server.log_sample_rate` > 0, that share of requests is logged to
    `logs.feature_requests` (flushed in the background and on shutdown) for
    `assay features skew`.
    """
    settings = project.config.server
    features = project.features
    metrics = Metrics()
    log = RequestLog(project.warehouse, settings.log_sample_rate, settings.log_flush_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.start()
        try:
            yield
        finally:
            log.stop()

    app = FastAPI(
        title=f"assay feature server: {project.config.name}", version="1", lifespan=lifespan
    )

    app.add_middleware(LimitAndMeasure, metrics=metrics, max_body_bytes=settings.max_body_bytes)

    async def authenticated(x_api_key: str | None = Header(default=None)) -> None:
        if not settings.api_keys:
            raise HTTPException(
                401,
                "no API keys are configured: add server.api_keys "
                "(hashes from `assay serve --hash-key KEY`) to assay.yaml",
            )
        presented = hash_key(x_api_key or "")
        if x_api_key is None or not any(
            hmac.compare_digest(presented, k) for k in settings.api_keys
        ):
            raise HTTPException(401, "missing or invalid X-API-Key header")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> str:
        return metrics.render()

    by_features, by_service = request_models(settings.max_entities)

    @app.post(
        "/features",
        response_model=FeatureResponse,
        dependencies=[Depends(authenticated)],
        responses={
            401: {"description": "missing or invalid API key"},
            404: {"description": "unknown feature, view or service"},
            413: {"description": "request body too large"},
            422: {"description": "invalid body, or entities without the views' join keys"},
        },
    )
    # A real (not string) annotation: FastAPI must see the two models to document them.
    def get_features(body: by_features | by_service) -> Response:  # type: ignore[valid-type]
        """Feature vectors for a batch of entities, with event timestamps and statuses."""
        request: Any = body
        refs: list[str] | str = getattr(request, "features", None) or request.service
        try:
            now = utcnow()
            vectors = features.online(request.entities, refs, as_of=request.as_of or now)
            if log.sample_rate and request.as_of is None:
                names = features.output_names(refs)
                service = refs if isinstance(refs, str) else None
                log.record(
                    request.entities, list(names), list(names.values()), vectors, service, now
                )
        except EntityKeyError as exc:
            raise HTTPException(422, _detail(exc)) from exc
        except AssayError as exc:
            raise HTTPException(404, _detail(exc)) from exc
        # Serialized directly: the vectors already have the documented shape, and
        # re-validating them through the response model doubles the server's time.
        return Response(json.dumps({"results": vectors}, default=_iso), media_type=JSON)

    return app
