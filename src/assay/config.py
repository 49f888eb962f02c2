"""Project settings from assay.yaml (pydantic v2, unknown keys rejected)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.errors import ProjectError

CONFIG_FILE = "assay.yaml"


class RetrySettings(BaseModel):
    """How transient failures are retried: attempts and exponential backoff in seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    attempts: int = Field(default=3, ge=1)
    backoff_initial: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=10.0, ge=0)


class OnlineStoreSettings(BaseModel):
    """Where materialized features are served from."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["sqlite", "redis"] = "sqlite"
    #: SQLite file, relative to the project folder.
    path: str = ".assay/online.db"
    #: Redis URL, for type: redis (e.g. redis://localhost:6379/0).
    url: str | None = None


class ServerSettings(BaseModel):
    """The feature server (`assay serve`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Salted scrypt hashes of the API keys (`assay serve --hash-key` reads a key on
    #: standard input and prints its hash). Unsalted SHA-256 hex digests from earlier
    #: versions still verify until they are rotated.
    api_keys: list[str] = Field(default_factory=list)
    #: Endpoints served without an API key besides /health: "metrics" (/metrics) and
    #: "docs" (/docs, /redoc, /openapi.json). /features always needs a key.
    public_endpoints: list[Literal["metrics", "docs"]] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000
    max_entities: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    #: Share of requests whose served vectors go to `logs.feature_requests` (0 = none),
    #: for `assay features skew`.
    log_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: Seconds between appends of logged requests to the table.
    log_flush_seconds: float = Field(default=5.0, gt=0)


class ProjectConfig(BaseModel):
    """The contents of assay.yaml.

    Example:
        >>> ProjectConfig(name="fraud").warehouse
        'warehouse'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    warehouse: str = "warehouse"
    #: Passed to deltalake for object-store warehouses (s3://, gs://, az://), e.g.
    #: {"AWS_REGION": "eu-west-1"}; credentials usually come from the environment.
    storage_options: dict[str, str] = Field(default_factory=dict)
    #: The compute engine: duckdb (embedded) or spark. `assay run --engine` overrides it.
    engine: str = "duckdb"
    #: Spark settings, passed through to the session (`spark.master`, `spark.executor.memory`,
    #: ...); see assay.engines.spark.session for the local defaults.
    spark: dict[str, Any] = Field(default_factory=dict)
    #: SQLAlchemy URL of the metadata catalog; default: SQLite inside `.assay/`.
    catalog: str | None = None
    retries: RetrySettings = RetrySettings()
    online_store: OnlineStoreSettings = OnlineStoreSettings()
    server: ServerSettings = ServerSettings()
    #: Seconds a second `assay run` waits for the project lock before failing.
    lock_timeout: float = Field(default=30.0, ge=0)
    #: Free-form settings passed to user code as `ctx.vars`.
    vars: dict[str, Any] = Field(default_factory=dict)


def load_config(root: Path) -> ProjectConfig:
    """Read and validate `root/assay.yaml`, naming the offending key on error."""
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ProjectError(
            f"no {CONFIG_FILE} in {root}",
            hint="run `assay init DIR` to scaffold a project, or pass --project DIR",
        )
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProjectError(f"invalid YAML: {exc}", where=str(path)) from exc
    if not isinstance(raw, dict):
        raise ProjectError("expected a mapping of settings", where=str(path))
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ProjectError(problems, where=str(path), hint="fix the key named above") from exc
