"""Signing in and out (`/login`, `/logout`) and the liveness probe (`/health`)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from assay.server.ui.session import COOKIE, SESSION_SECONDS, safe_next, session_token
from assay.server.ui.web import render

router = APIRouter()

#: A sign-in form is a key and a path: anything longer is not one.
MAX_FORM_BYTES = 8192


@router.get("/health")
def health() -> JSONResponse:
    """Up, and never needs a key (for load balancers and `assay ui`'s own check)."""
    return JSONResponse({"status": "ok"})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", "Sign in", next=safe_next(next), error="")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the key; on success set the session cookie (a random token, not the key)."""
    body = await request.body()
    form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    key = form.get("key", [""])[0].strip()
    target = safe_next(form.get("next", ["/"])[0])
    principal = await request.app.state.keys.principal(key) if key else None
    if principal is None:
        return render(
            request,
            "login.html",
            "Sign in",
            next=target,
            status_code=401,
            error="That key is not one of this project's API keys (server.api_keys).",
        )
    token = request.app.state.sessions.open(principal)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    token = session_token(request.scope["headers"])
    if token is not None:
        request.app.state.sessions.close(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
