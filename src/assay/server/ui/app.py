"""The web UI's app: every page module under `assay.server.ui.pages`, the static files, and
the front door (`session.UiGuard`).

Adding a page never edits this file: a module `pages/<page>.py` with a
`router = APIRouter()` is found and included when the app is made.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles

from assay.errors import AccessDeniedError, AssayError, ProjectError
from assay.server.auth import KeyRing, hash_key
from assay.server.ui import pages
from assay.server.ui.session import Sessions, UiGuard
from assay.server.ui.web import STATIC, render

if TYPE_CHECKING:
    from assay.project import Project

logger = logging.getLogger("assay.server.ui")

__all__ = ["LOCAL_KEY", "create_ui_app", "page_modules"]

#: The name of the one-time key `assay ui` makes when no key is configured.
LOCAL_KEY = "local"


def page_modules() -> list[str]:
    """The names of the page modules, in alphabetical order.

    Example:
        >>> "login" in page_modules()
        True
    """
    return sorted(info.name for info in pkgutil.iter_modules(pages.__path__))


def create_ui_app(project: Project, session_key: str | None = None) -> FastAPI:
    """The web UI of `project`, behind its API keys.

    Args:
        project: the project to show.
        session_key: a key made for this process alone (`assay ui` makes one when
            `server.api_keys` is empty, as Jupyter prints a token); it signs in as
            principal `key:local`, whose roles decide what it sees like any key's.

    Raises:
        ProjectError: no API keys are configured and no session key was given (the UI
            shows data as a key's role sees it, so it has nobody to show it to).

    Example:
        >>> import assay, tempfile
        >>> project = assay.Project(assay.init_project(tempfile.mkdtemp()))
        >>> create_ui_app(project, session_key="k").state.keys.identify("k")
        'key:local'
    """
    settings = project.config.server
    if settings.api_keys:
        keys = KeyRing(settings.api_keys)
    elif session_key is not None:
        keys = KeyRing({LOCAL_KEY: hash_key(session_key)})
    else:
        raise ProjectError(
            "the web UI needs an API key to sign in with, and server.api_keys is empty",
            where="assay.yaml",
            hint="add a key under server.api_keys: `assay serve --hash-key` reads a key on "
            "standard input and prints the hash to store (see `assay ui --help`)",
        )
    app = FastAPI(
        title=f"assay: {project.config.name}",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.project = project
    app.state.keys = keys
    app.state.sessions = Sessions()
    for name in page_modules():
        module = importlib.import_module(f"{pages.__name__}.{name}")
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(AssayError, _assay_error)
    app.add_middleware(UiGuard, keys=keys, sessions=app.state.sessions)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Pages answer errors with a page (a 404 keeps the nav and search box); scripts and
    files get JSON."""
    assert isinstance(exc, StarletteHTTPException)
    if not _is_page(request):
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
    return render(
        request,
        "error.html",
        "Not found" if exc.status_code == 404 else f"Error {exc.status_code}",
        message=str(exc.detail),
        suggestions=getattr(exc, "suggestions", []),
        status_code=exc.status_code,
    )


async def _assay_error(request: Request, exc: Exception) -> Response:
    """An AssayError (a dataset not readable by this key, a table missing) says what and
    what to do, on a page."""
    assert isinstance(exc, AssayError)
    status = 403 if isinstance(exc, AccessDeniedError) else 400
    detail = exc.message + (f" ({exc.hint})" if exc.hint else "")
    if not _is_page(request):
        return JSONResponse({"detail": detail}, status)
    logger.info("%s %s: %s", request.method, request.url.path, detail)
    return render(
        request,
        "error.html",
        "Cannot show this",
        message=detail,
        suggestions=[],
        status_code=status,
    )


def _is_page(request: Request) -> bool:
    return request.method == "GET" and not request.url.path.startswith("/static/")
