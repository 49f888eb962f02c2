"""Keep MLflow's chatter off the console while assay drives it.

Inside `assay run` or `assay features rebuild`, MLflow's info lines ("Creating initial
MLflow database tables", "Successfully registered model", "Created version") and its
artifact download bar interleave with assay's own tables and progress. They are quieted
for the duration only, and only where the user did not choose otherwise: an
`MLFLOW_LOGGING_LEVEL` or `MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR` they set is kept, and so
is a level they set on the `mlflow` logger other than MLflow's default. Warnings and
errors still show.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr

#: MLflow's switch for its tqdm bar around artifact uploads and downloads.
_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
#: MLflow's own setting of its loggers' level.
_LOG_LEVEL = "MLFLOW_LOGGING_LEVEL"


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow's info lines and progress bars off for the block (mlflow must be imported
    already: importing it configures its loggers).

    Example:
        >>> import mlflow
        >>> with quiet_mlflow():
        ...     logging.getLogger("mlflow").level == logging.WARNING
        True
    """
    set_bar = _PROGRESS_BAR not in os.environ
    if set_bar:
        os.environ[_PROGRESS_BAR] = "false"
    logger = logging.getLogger("mlflow")
    before = logger.level
    # INFO is MLflow's default; another level, or the env setting, is the user's choice.
    lowered = _LOG_LEVEL not in os.environ and before == logging.INFO
    if lowered:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        if lowered and logger.level == logging.WARNING:
            logger.setLevel(before)
        if set_bar:
            os.environ.pop(_PROGRESS_BAR, None)


#: The lines MLflow's registration prints (`eprint`, not a logger) that assay drops.
_REGISTRATION_LINES = (
    "Successfully registered model",
    "Created version",
    "Registered model '",
)


@contextmanager
def without_event_prints() -> Iterator[None]:
    """MLflow's registration lines off for the block ("Successfully registered model",
    "Created version"): MLflow prints them to stderr directly, and re-enables its own
    logging stream inside `log_model`, so stderr is held for the block and every other
    line (a warning) is written on afterwards.

    Example:
        >>> import sys
        >>> with without_event_prints():
        ...     print("Created version '1' of model 'm'.", file=sys.stderr)
    """
    if os.environ.get(_LOG_LEVEL, "").upper() in ("DEBUG", "INFO"):
        yield  # the user asked to see MLflow's info lines
        return
    held = io.StringIO()
    try:
        with redirect_stderr(held):
            yield
    finally:
        kept = [
            line
            for line in held.getvalue().splitlines(keepends=True)
            if not line.startswith(_REGISTRATION_LINES)
        ]
        if kept:
            sys.stderr.write("".join(kept))
