"""What every `assay` command shares: the --project and --engine options, error handling
that prints a message and a hint instead of a traceback, and opening the project."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from assay.errors import AssayError

if TYPE_CHECKING:
    from datetime import datetime

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="Project folder.", show_default="current folder")
]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        "-e",
        help="Run on this engine instead of assay.yaml's: duckdb (embedded) or spark.",
        show_default="assay.yaml's engine",
    ),
]
F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(func: F) -> F:
    """Turn AssayErrors into a red message and the error's exit code (1 or 2)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rich.markup import escape

        from assay.cli.render import err_console

        try:
            return func(*args, **kwargs)
        except AssayError as exc:
            # Escaped: messages hold brackets (`pip install 'assay[spark]'`, `x[0]`) that
            # rich would otherwise take for markup and drop.
            where = escape(exc.where + ": ") if exc.where else ""
            err_console.print(f"[bold red]error:[/] {where}{escape(exc.message)}")
            if exc.hint:
                err_console.print(f"[cyan]hint:[/] {escape(exc.hint)}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def open_project(path: Path, engine: str | None = None) -> Any:
    """The project at `path` (on `engine` instead of assay.yaml's, if given)."""
    from assay.project import Project

    return Project(path, engine=engine)


def parse_time(text: str | None) -> datetime | None:
    """An ISO time from the command line (UTC), or None."""
    from datetime import datetime

    from assay.errors import UsageError

    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        raise UsageError(f"invalid time {text!r}", hint="use YYYY-MM-DD[ HH:MM]") from None
