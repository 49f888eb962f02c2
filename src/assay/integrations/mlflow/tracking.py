"""Point MLflow at a project's tracking backend (`mlflow:` in assay.yaml).

The default backend is a SQLite file inside the project (`.assay/mlflow.db`) with run
artifacts beside it (`.assay/mlartifacts`), so tracking needs no server; any MLflow
tracking URI in assay.yaml (a server, Databricks) is used as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from assay.errors import AssayError, MissingExtraError
from assay.integrations.mlflow.quiet import quiet_mlflow

if TYPE_CHECKING:
    from assay.runtime import Runtime

#: Where the project keeps its own state; a relative SQLite URI resolves under the root.
_SQLITE = "sqlite:///"
#: Seconds to wait for a tracking server to accept a connection: MLflow's own client
#: retries a refused connection for minutes, silently.
CONNECT_TIMEOUT = 5.0
#: Where an unusable backend is configured (the error's `where`).
_WHERE = "assay.yaml mlflow"


class MlflowMissingError(MissingExtraError):
    """The `mlflow` extra is not installed."""

    def __init__(self) -> None:
        super().__init__("mlflow", "mlflow")


class TrackingError(AssayError):
    """The MLflow tracking backend named in assay.yaml cannot be used."""


def require_mlflow() -> ModuleType:
    """Import mlflow, or say which extra installs it.

    Returns:
        The `mlflow` module.

    Raises:
        MlflowMissingError: mlflow is not installed (`pip install 'assay[mlflow]'`).

    Example:
        >>> require_mlflow().__name__
        'mlflow'
    """
    # MLflow 3 sends usage telemetry over the internet by default; a data platform that
    # runs offline must not try (the user can still opt in by setting the variable).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow
    except ImportError as exc:
        raise MlflowMissingError() from exc
    return mlflow


def resolve_tracking_uri(uri: str, root: str | Path) -> str:
    """The tracking URI with a relative `sqlite:///` path made absolute under `root`.

    Example:
        >>> resolve_tracking_uri("sqlite:///.assay/mlflow.db", "/srv/fraud")
        'sqlite:////srv/fraud/.assay/mlflow.db'
        >>> resolve_tracking_uri("http://mlflow:5000", "/srv/fraud")
        'http://mlflow:5000'
    """
    if uri.startswith(_SQLITE):
        path = Path(uri[len(_SQLITE) :])
        if not path.is_absolute():
            path = Path(root).resolve() / path
        return f"{_SQLITE}{path}"
    if "://" not in uri and not uri.startswith("file:"):  # a bare folder: the file store
        path = Path(uri)
        return str(path if path.is_absolute() else Path(root).resolve() / path)
    return uri


def is_local(uri: str) -> bool:
    """Whether the backend lives on this machine (SQLite, a file store).

    Example:
        >>> is_local("sqlite:////tmp/x/mlflow.db"), is_local("https://dbc.example.com")
        (True, False)
    """
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def use_tracking(runtime: Runtime) -> str:
    """Point MLflow at the project's tracking backend and experiment; return its id.

    Sets the process's tracking URI and active experiment (created if missing, with its
    artifacts under `<root>/.assay/mlartifacts` for a local backend unless assay.yaml
    names `artifact_location`), so `mlflow.start_run()` afterwards logs to the project.

    Args:
        runtime: the project's runtime (`project.runtime`).

    Returns:
        The experiment id.

    Raises:
        MlflowMissingError: the `mlflow` extra is not installed.
        TrackingError: the backend cannot be reached or the experiment is deleted.

    Example:
        >>> import assay, tempfile
        >>> root = tempfile.mkdtemp()
        >>> _ = assay.init_project(root)
        >>> use_tracking(assay.Project(root).runtime).isdigit()
        True
    """
    mlflow = require_mlflow()
    settings = runtime.config.mlflow
    uri = resolve_tracking_uri(settings.tracking_uri, runtime.root)
    if uri.startswith(_SQLITE):
        Path(uri[len(_SQLITE) :]).parent.mkdir(parents=True, exist_ok=True)
    require_reachable(uri)
    name = settings.experiment or runtime.config.name
    mlflow.set_tracking_uri(uri)
    try:
        with quiet_mlflow():  # "Creating initial MLflow database tables..."
            experiment_id = _experiment_id(mlflow, name, _artifact_location(runtime, uri))
            mlflow.set_experiment(experiment_id=experiment_id)
    except mlflow.exceptions.MlflowException as exc:
        raise TrackingError(
            f"cannot use MLflow experiment {name!r} at {uri}: {exc.message}",
            where=_WHERE,
            hint="check mlflow.tracking_uri and mlflow.experiment (a deleted experiment "
            "must be restored with `mlflow experiments restore` or renamed)",
        ) from exc
    return experiment_id


def require_reachable(uri: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast when an http(s) tracking server does not accept a connection within
    `timeout` seconds (other backends are left to MLflow).

    Raises:
        TrackingError: naming the server and what to do.

    Example:
        >>> require_reachable("sqlite:////tmp/x/mlflow.db")  # not a server: nothing to check
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise TrackingError(
            f"the MLflow tracking server {uri} cannot be reached ({reason} within {timeout:g} s)",
            where=_WHERE,
            hint="start the tracking server or change mlflow.tracking_uri in assay.yaml "
            "(the default, sqlite:///.assay/mlflow.db, needs no server)",
        ) from exc


def _artifact_location(runtime: Runtime, uri: str) -> str | None:
    """assay.yaml's artifact location, else `<root>/.assay/mlartifacts` for a local backend
    (MLflow's own default is `./mlruns` under the working directory, which moves with it)."""
    configured = runtime.config.mlflow.artifact_location
    if configured:
        path = Path(configured)
        if "://" in configured or path.is_absolute():
            return configured
        return (Path(runtime.root).resolve() / path).as_uri()
    if is_local(uri):
        return (Path(runtime.root).resolve() / ".assay" / "mlartifacts").as_uri()
    return None


def _experiment_id(mlflow: ModuleType, name: str, artifact_location: str | None) -> str:
    """The id of experiment `name`, created (with `artifact_location`) if missing."""
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            raise mlflow.exceptions.MlflowException(f"experiment {name!r} is deleted")
        return str(found.experiment_id)
    return str(client.create_experiment(name, artifact_location=artifact_location))
