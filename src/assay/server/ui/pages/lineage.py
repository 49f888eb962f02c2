"""`/lineage`: the table-level lineage graph (Cytoscape), layered by layer, nodes coloured
by status; `/lineage?dataset=X`: the columns of X, where they come from and what they feed."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from assay.catalog_views.lineage_view import column_graph, table_graph
from assay.catalog_views.overview import status_of
from assay.lineage.build import build_lineage
from assay.server.ui.snapshot import snapshot, status_and_plan
from assay.server.ui.web import NotFound, as_principal, project_of, render

router = APIRouter()


@router.get("/lineage", response_class=HTMLResponse)
def lineage_page(request: Request, dataset: str = "") -> HTMLResponse:
    project = project_of(request)
    if dataset and dataset not in project.dag.specs:
        from assay.server.ui.pages.dataset import close_names

        raise NotFound(f"No dataset is named {dataset}.", close_names(project.runtime, dataset))
    rt = snapshot(project.runtime)
    with as_principal(request):
        graph = build_lineage(rt)
        statuses_now, plan = status_and_plan(rt)
        work = {w.dataset: w.needed for w in plan}
        statuses = {
            s.name: status_of(
                s.version, s.last_status, work.get(s.name, False), s.intervals_missing or 0
            )
            for s in statuses_now
        }
    view = column_graph(graph, dataset, statuses) if dataset else table_graph(graph, statuses)
    data = json.dumps(view.elements()).replace("</", "<\\/")  # safe inside <script>
    return render(
        request,
        "lineage.html",
        f"Lineage of {dataset}" if dataset else "Lineage",
        dataset=dataset,
        datasets=sorted(project.dag.specs),
        graph_json=Markup(data),
        node_count=len(view.nodes),
        edge_count=len(view.edges),
    )
