"""`/search?q=`: full-text search over the catalog (`assay catalog search`), with links."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from assay.catalog.search import CLOSE, OPEN, SearchHit
from assay.catalog_views.entries import search_catalog
from assay.errors import UsageError
from assay.server.ui.web import as_principal, project_of, render

router = APIRouter()


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, q: str = "") -> HTMLResponse:
    hits: list[SearchHit] = []
    problem = ""
    if q.strip():
        with as_principal(request):
            try:
                hits = search_catalog(project_of(request).runtime, q, limit=50)
            except UsageError as exc:  # no words in it (only punctuation, say)
                problem = exc.message
    return render(
        request,
        "search.html",
        "Search",
        hits=hits,
        text=q,
        marked=marked,
        searched=bool(q.strip()),
        problem=problem,
    )


def marked(snippet: str) -> Markup:
    """A snippet with its matched words in <mark> (the rest escaped).

    Example:
        >>> str(marked("dep_«delay» <b>"))
        'dep_<mark>delay</mark> &lt;b&gt;'
    """
    text = str(escape(snippet))
    return Markup(text.replace(OPEN, "<mark>").replace(CLOSE, "</mark>"))
