"""The feature server: `POST /features` returns feature vectors from the online store.

Thin by design: it validates input and calls `project.features.online`. The API key, the
body size limit and the metrics live in `assay.server.guard`, in front of FastAPI, so a
request without a valid key is refused before its body is read. API keys are stored as
salted scrypt hashes in assay.yaml (`assay.server.auth`). `/health` never needs a key;
`/metrics` and the OpenAPI pages (`/docs`, `/redoc`, `/openapi.json`) need one unless
listed in `server.public_endpoints`.
"""

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.responses import Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from assay.errors import AccessDeniedError, AssayError
from assay.features.online import OnlineStoreUnavailableError
from assay.features.request_log import RequestLog
from assay.features.store import EntityKeyError
from assay.governance.principal import acting_as
from assay.intervals import utcnow
from assay.server.auth import KeyRing, hash_key
from assay.server.guard import AUTHENTICATED, PRINCIPAL, Guard, Metrics

if TYPE_CHECKING:
    from assay.project import Project

__all__ = ["create_app", "hash_key"]

Scalar = str | int | float | bool

JSON = "application/json"
#: Online stores key entities by 64-bit integers (SQLite INTEGER, Delta BIGINT).
INT64 = (-(2**63), 2**63 - 1)

logger = logging.getLogger("assay.server")


def _iso(value: Any) -> str:
    """Timestamps in responses: ISO 8601, as the response model documents them."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _detail(exc: AssayError) -> str:
    return exc.message + (f" ({exc.hint})" if exc.hint else "")


def _entity_value(value: Any) -> Any:
    """Join key values are strings or numbers: `true` is not card 1 (bool is an int in
    Python), and an integer past 64 bits cannot be a stored key."""
    if isinstance(value, bool):
        raise ValueError("a join key value is a string or a number, not true or false")
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        raise ValueError(
            f"{value} is outside the 64-bit integer range of join keys ({INT64[0]} to {INT64[1]})"
        )
    return value


EntityValue = Annotated[str | int | float, BeforeValidator(_entity_value)]
Entities = Annotated[list[dict[str, EntityValue]], Field(min_length=1)]


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
        entities: Entities = Field(max_length=max_entities)
        features: list[str] = Field(min_length=1, description="view:feature references")
        as_of: datetime | None = Field(default=None, description=AS_OF)

    class ByService(BaseModel):
        model_config = ConfigDict(extra="forbid")
        entities: Entities = Field(max_length=max_entities)
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


def create_app(project: "Project") -> FastAPI:
    """The FastAPI app serving `project`'s online features.

    With `server.log_sample_rate` > 0, that share of requests is logged to
    `logs.feature_requests` (flushed in the background and on shutdown) for
    `assay features skew`.
    """
    settings = project.config.server
    features = project.features
    keys = KeyRing(settings.api_keys)
    if keys.legacy_count:
        logger.warning(
            "server.api_keys: %d key(s) stored as unsalted SHA-256; they still work, but "
            "rotate them: pipe each key to `assay serve --hash-key` and replace its entry "
            "with the line printed",
            keys.legacy_count,
        )
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
    protected = {"/features"}
    if "metrics" not in settings.public_endpoints:
        protected.add("/metrics")
    if "docs" not in settings.public_endpoints:
        docs = (app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
        protected.update(url for url in docs if url)
    app.add_middleware(
        Guard,
        routes=app.router.routes,
        keys=keys,
        protected=protected,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
    )
    # Documents the key in the OpenAPI schema; the Guard checked it before the body was read.
    api_key = APIKeyHeader(name="X-API-Key", auto_error=False)

    def authenticated(request: Request, _: str | None = Security(api_key)) -> None:
        if not request.scope.get(AUTHENTICATED):  # the Guard is missing: never serve
            raise HTTPException(401, "the API key was not checked")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, 401: {"description": "no API key"}},
    )
    def prometheus() -> Response:
        """Request counts and latencies by route template (Prometheus text format)."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    by_features, by_service = request_models(settings.max_entities)

    @app.post(
        "/features",
        response_model=FeatureResponse,
        dependencies=[Security(authenticated)],
        responses={
            401: {"description": "missing or invalid API key"},
            404: {"description": "unknown feature, view or service"},
            413: {"description": "request body too large"},
            403: {"description": "the API key's role may not read a requested feature"},
            422: {"description": "invalid body, or entities without the views' join keys"},
            503: {"description": "the online store cannot be reached; retry later"},
        },
    )
    # A real (not string) annotation: FastAPI must see the two models to document them.
    def get_features(body: by_features | by_service, http: Request) -> Response:  # type: ignore[valid-type]
        """Feature vectors for a batch of entities, with event timestamps and statuses."""
        request: Any = body
        refs: list[str] | str = getattr(request, "features", None) or request.service
        try:
            now = utcnow()
            # Read as the request's API key: roles in assay.yaml decide what it sees.
            with acting_as(http.scope[PRINCIPAL]):
                vectors = features.online(request.entities, refs, as_of=request.as_of or now)
            if log.sample_rate and request.as_of is None:
                names = features.output_names(refs)
                service = refs if isinstance(refs, str) else None
                log.record(
                    request.entities, list(names), list(names.values()), vectors, service, now
                )
        except EntityKeyError as exc:
            raise HTTPException(422, _detail(exc)) from exc
        except AccessDeniedError as exc:
            raise HTTPException(403, _detail(exc)) from exc
        except OnlineStoreUnavailableError as exc:
            raise HTTPException(503, _detail(exc), headers={"Retry-After": "5"}) from exc
        except AssayError as exc:
            raise HTTPException(404, _detail(exc)) from exc
        # Serialized directly: the vectors already have the documented shape, and
        # re-validating them through the response model doubles the server's time.
        return Response(json.dumps({"results": vectors}, default=_iso), media_type=JSON)

    return app
