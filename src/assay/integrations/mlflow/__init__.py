"""MLflow for assay (`pip install 'assay[mlflow]'`): training sets logged as dataset inputs
of the active run, rebuilt bit for bit from a run id, and the project's tracking backend.

Nothing here is imported by the core: `Features.training_set` reaches this package only
when the user's code has imported mlflow itself.
"""

from __future__ import annotations

from assay.integrations.mlflow.tracking import (
    MlflowMissingError,
    TrackingError,
    require_mlflow,
    resolve_tracking_uri,
    use_tracking,
)

__all__ = [
    "MlflowMissingError",
    "TrackingError",
    "require_mlflow",
    "resolve_tracking_uri",
    "use_tracking",
]
