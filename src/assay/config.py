"""Project settings from assay.yaml (pydantic v2, unknown keys rejected)."""

from __future__ import annotations

import re
from collections.abc import Hashable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assay.errors import AssayError, ProjectError

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
    #: A mapping NAME -> hash names each key: its requests read as principal `key:NAME`
    #: (roles grant to it); in a list, the key at index i is `key:i`.
    api_keys: list[str] | dict[str, str] = Field(default_factory=list)
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


class SchedulerSettings(BaseModel):
    """`assay schedule`: how often it looks, and how much it catches up after downtime."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Seconds between ticks (schedules and sensors are evaluated on each tick).
    tick_seconds: float = Field(default=30.0, gt=0)
    #: Missed cron ticks run after downtime, per dataset (a dataset's `catchup=` overrides);
    #: older missed ticks are skipped and logged.
    max_catchup: int = Field(default=24, ge=0)


#: What an alert is about; a channel's `on:` picks some (default: all).
AlertEvent = Literal[
    "failure", "sla", "contract", "quarantine", "duration", "anomaly", "stream_lag", "budget"
]


class _AlertChannel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: The events sent to this channel (default: all).
    on: list[AlertEvent] | None = None
    #: Seconds during which the same open alert is not sent again.
    throttle_seconds: float = Field(default=3600.0, ge=0)
    #: Send a "resolved" message when the condition clears.
    send_resolved: bool = True


class WebhookAlert(_AlertChannel):
    """POST a JSON body to `url`; `format: slack` sends Slack's `{"text": ...}` payload."""

    type: Literal["webhook"]
    url: str
    format: Literal["json", "slack"] = "json"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=10.0, gt=0)


class SmtpSettings(BaseModel):
    """An SMTP server; the password is read from the environment variable it names."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password_env: str | None = None
    #: Upgrade the connection with STARTTLS (usually port 587).
    starttls: bool = False
    #: Connect over TLS from the start (SMTPS, usually port 465).
    ssl: bool = False
    #: A CA bundle (PEM) that signs the server's certificate, when it is not one the
    #: system trusts (a company CA); certificates are always verified.
    ca_file: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)


class EmailAlert(_AlertChannel):
    """Send a plain-text email through SMTP."""

    type: Literal["email"]
    to: list[str]
    sender: str = Field(default="assay@localhost", alias="from")
    smtp: SmtpSettings = SmtpSettings()


class LogAlert(_AlertChannel):
    """Write the alert to assay's log (stderr), the default when no channel is configured."""

    type: Literal["log"]


AlertChannel = Annotated[WebhookAlert | EmailAlert | LogAlert, Field(discriminator="type")]


class OpenLineageSettings(BaseModel):
    """OpenLineage events of every run and backfill (`openlineage:` in assay.yaml).

    `transport` is the openlineage-python client's own transport settings, passed to its
    transport factory as written: `{type: http, url: http://localhost:5000}`, `{type: kafka,
    topic: lineage, config: {bootstrap.servers: localhost:9092}}`, `{type: file,
    log_file_path: ol.jsonl, append: true}` (a relative path is in the project folder) or
    `{type: console}`.

    Example:
        >>> OpenLineageSettings(transport={"type": "console"}).disabled
        False
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    transport: dict[str, Any]
    #: The namespace of the jobs (the project run and one job per dataset); default: the
    #: project's name.
    namespace: str | None = None
    #: Keep the settings but send nothing.
    disabled: bool = False

    @field_validator("transport")
    @classmethod
    def _names_a_type(cls, transport: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(transport.get("type"), str) or not transport["type"]:
            raise ValueError("needs a `type:` (http, kafka, file or console)")
        return transport


#: A column mask a role applies on read (see assay.governance.protection.MaskKind).
ReadMask = Literal["null", "hash", "partial", "tokenize"]
#: Governance actions a role may be allowed (`roles.NAME.allow`); `*` allows them all.
GovernanceAction = Literal[
    "audit",
    "hold",
    "retention",
    "forget",
    "keys",
    "pii_scan",
    "check",
    "report",
    "optimize",
    "*",
]


class RoleSettings(BaseModel):
    """One role of `roles:` in assay.yaml: who holds it and what it may read.

    Patterns are shell globs (`gold.*`, `*`). A principal is a user name (`ASSAY_USER`,
    else the login name) or `key:NAME` for the feature server's API key NAME.

    Example:
        >>> role = RoleSettings(principals=["alice"], grants=["gold.*"],
        ...     masks={"gold.customers.email": "hash"}, row_filters={"gold.*": "country = 'FR'"})
        >>> role.masks["gold.customers.email"]
        'hash'
        >>> RoleSettings(principals=["dpo"], allow=["forget", "audit"]).allow
        ['forget', 'audit']
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    principals: list[str] = Field(default_factory=list)
    #: Datasets (and feature views' source tables) this role may read: globs of `layer.name`.
    grants: list[str] = Field(default_factory=list)
    #: Restricted classifications (see `governance.restricted`) this role may read in the
    #: clear; `*` for all.
    classifications: list[str] = Field(default_factory=list)
    #: `layer.name.column` globs -> the mask this role sees the column through.
    masks: dict[str, ReadMask] = Field(default_factory=dict)
    #: `layer.name` globs -> a SQL predicate (DuckDB dialect) the rows must meet.
    row_filters: dict[str, str] = Field(default_factory=dict)
    #: Governance actions this role may take when `roles:` is set (audit: read the audit
    #: log; hold; retention; forget; keys: new/rotate; pii_scan; check; report; optimize; `*`: all).
    allow: list[GovernanceAction] = Field(default_factory=list)


class GovernanceSettings(BaseModel):
    """`governance:` in assay.yaml: classifications, token keys, retention, audit.

    Example:
        >>> GovernanceSettings(retention={"pii": "400d"}).token_key_env
        'ASSAY_TOKEN_KEY'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Classifications denied to roles that are not granted them (columns classified so
    #: by a contract, a tag or `assay pii scan`, and the columns derived from them).
    restricted: list[str] = Field(default_factory=lambda: ["pii", "restricted"])
    #: Retention per classification ("400d"): a dataset holding a column so classified
    #: keeps rows that long unless it declares its own `retention=`.
    retention: dict[str, str] = Field(default_factory=dict)
    #: Environment variable holding the tokenization key ring (never in the repo).
    token_key_env: str = "ASSAY_TOKEN_KEY"
    #: A file holding the key ring instead, outside the repo (`~` is expanded).
    token_key_file: str | None = None
    #: Append every read and write to the audit log (`assay audit`).
    audit: bool = True


class MlflowSettings(BaseModel):
    """`mlflow:` in assay.yaml: where models (`@assay.model`) and training sets are tracked.

    Example:
        >>> MlflowSettings().tracking_uri
        'sqlite:///.assay/mlflow.db'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Any MLflow tracking URI; relative `sqlite:///` paths are under the project folder.
    tracking_uri: str = "sqlite:///.assay/mlflow.db"
    #: Where run artifacts (models) go; None: next to the tracking database
    #: (`.assay/mlartifacts`) for a local backend, the server's default otherwise.
    artifact_location: str | None = None
    #: The experiment models log to; None: the project's name.
    experiment: str | None = None


class DbtSettings(BaseModel):
    """`dbt:` in assay.yaml: a dbt project (dbt-duckdb) whose models run in `assay run`.

    Example:
        >>> DbtSettings(project_dir="dbt").layer
        'dbt'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: The dbt project folder (holding dbt_project.yml), relative to the project.
    project_dir: str = "dbt"
    #: The layer of datasets made from models without a `meta: {assay: {layer: ...}}`.
    layer: str = "dbt"
    #: dbt `--vars`, passed to every compile.
    vars: dict[str, Any] = Field(default_factory=dict)


class CostSettings(BaseModel):
    """`cost:` in assay.yaml: prices that turn measured work into money, and budgets.

    The defaults are list prices of a typical cloud (an on-demand vCPU-hour, object storage
    per GB-month, a query engine's price per GB scanned); set your own.

    Example:
        >>> CostSettings(budgets={"risk-team": 50}).budgets["risk-team"]
        50.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Price of one CPU-hour of compute.
    cpu_hour: float = Field(default=0.048, ge=0)
    #: Price of one GB (10**9 bytes) stored for a month, counting every version kept.
    gb_month: float = Field(default=0.023, ge=0)
    #: Price of one GB read by a run.
    gb_scanned: float = Field(default=0.005, ge=0)
    #: Currency shown next to amounts.
    currency: str = "USD"
    #: Monthly budget per owner (a dataset's `owner`); spending over it raises an alert
    #: through `alerts:` channels.
    budgets: dict[str, float] = Field(default_factory=dict)


class StorageSettings(BaseModel):
    """`storage:` in assay.yaml: when tables count as unhealthy, and what `assay optimize` does.

    Example:
        >>> StorageSettings().vacuum_retain_hours
        168.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: Files smaller than this count as small (flagged, and compacted by `assay optimize`).
    small_file_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    #: The file size compaction aims at.
    target_file_bytes: int = Field(default=128 * 1024 * 1024, ge=1)
    #: A table with at least this many small files is flagged.
    small_files_flag: int = Field(default=10, ge=1)
    #: Vacuum keeps files removed less than this long ago (time travel and readers in flight
    #: need them); Delta's own default is 7 days. Below 1 hour is refused.
    vacuum_retain_hours: float = Field(default=168.0, ge=1)


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
    scheduler: SchedulerSettings = SchedulerSettings()
    #: Where alerts go (failures, missed SLAs, blocked contracts, ...); the log always.
    alerts: list[AlertChannel] = Field(default_factory=list)
    #: OpenLineage events of every run (off unless set).
    openlineage: OpenLineageSettings | None = None
    #: Roles by name: principals, grants, masks and row filters enforced on every read
    #: (none: every principal reads everything).
    roles: dict[str, RoleSettings] = Field(default_factory=dict)
    governance: GovernanceSettings = GovernanceSettings()
    #: MLflow tracking for models and training sets (the `mlflow` extra).
    mlflow: MlflowSettings = MlflowSettings()
    #: A dbt project run as part of `assay run` (the `dbt` extra); None: no dbt.
    dbt: DbtSettings | None = None
    #: Prices and budgets for `assay cost` and the UI's cost page.
    cost: CostSettings = CostSettings()
    #: Storage health thresholds and `assay optimize` settings.
    storage: StorageSettings = StorageSettings()
    #: Free-form settings passed to user code as `ctx.vars`.
    vars: dict[str, Any] = Field(default_factory=dict)


class UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key written twice in one mapping (plain YAML keeps the last,
    so the first setting would be lost without a word). Merge keys (`<<`) may still be
    overridden, as YAML intends.

    Example:
        >>> try:
        ...     yaml.load("a: 1\\nb: 2\\na: 3", Loader=UniqueKeyLoader)
        ... except yaml.YAMLError as exc:
        ...     print(exc.problem, "at line", exc.problem_mark.line + 1)
        duplicate key 'a' (first on line 1) at line 3
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base loader refuses unhashable keys with its own message
            if key in first_seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {first_seen[key].line + 1})",
                    key_node.start_mark,
                )
            first_seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_BOOL_TAG = "tag:yaml.org,2002:bool"


class ConfigLoader(UniqueKeyLoader):
    """assay.yaml's YAML: booleans are `true`/`false` only (YAML 1.2), so `on:` (an alert
    channel's events), `yes`, `no` and `off` stay the words they are, as in GitHub Actions
    files; YAML 1.1 would turn the key `on` into True.

    Example:
        >>> yaml.load("on: [failure]\\nok: true", Loader=ConfigLoader)
        {'on': ['failure'], 'ok': True}
    """


ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in UniqueKeyLoader.yaml_implicit_resolvers.items()
}
ConfigLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(
    path: Path,
    error: type[AssayError] = ProjectError,
    loader: type[UniqueKeyLoader] = UniqueKeyLoader,
) -> Any:
    """The YAML document in `path`; any problem (not UTF-8 text, a syntax error, a duplicate
    key) raises `error` naming the file, line and column, on one line."""
    text = read_text(path, error)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = "; ".join(p for p in (exc.context, exc.problem) if p)
        duplicate = (exc.problem or "").startswith("duplicate key")
        raise error(
            f"invalid YAML: {problem}",
            where=where,
            hint="remove one of the two; YAML would silently keep only the last"
            if duplicate
            else "fix the YAML at that line",
        ) from None
    except yaml.reader.ReaderError as exc:  # a control character, not a syntax error
        line, column = _line_column(text[: exc.position])
        raise error(
            f"invalid YAML: the control character {chr(exc.character)!r} is not allowed",
            where=f"{path}:{line}:{column}",
            hint=f"{path.name} must be YAML text; remove the control character",
        ) from None


def read_text(path: Path, error: type[AssayError] = ProjectError) -> str:
    """The UTF-8 text of a project file; other bytes raise `error` naming where they are."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data[: exc.start].decode("utf-8"))
        raise error(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
            where=f"{path}:{line}:{column}",
            hint=f"save {path.name} as UTF-8 text",
        ) from None


def _line_column(before: str) -> tuple[int, int]:
    """1-based line and column of the character that follows the text `before`."""
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def load_config(root: Path) -> ProjectConfig:
    """Read and validate `root/assay.yaml`, naming the offending key on error."""
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ProjectError(
            f"no {CONFIG_FILE} in {root}",
            hint="run `assay init DIR` to scaffold a project, or pass --project DIR",
        )
    raw = read_yaml(path, loader=ConfigLoader) or {}
    if not isinstance(raw, dict):
        raise ProjectError("expected a mapping of settings", where=str(path))
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ProjectError(problems, where=str(path), hint="fix the key named above") from exc
