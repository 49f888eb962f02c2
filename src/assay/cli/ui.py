"""`assay ui`: the web UI of a project (overview, datasets, lineage, runs, quality,
features, streams, cost), served by uvicorn, behind the project's API keys."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

#: Where the UI listens unless told otherwise: this machine only, next to the feature
#: server's default port.
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080


@handles_errors
def ui(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on: 127.0.0.1 (this machine only) or 0.0.0.0 (every "
            "interface; put TLS in front, keys are sent to sign in)."
        ),
    ] = DEFAULT_HOST,
    project: ProjectOpt = Path("."),
) -> None:
    """Serve the web UI: datasets with their status, freshness and SLAs; schema, quality,
    anomalies, intervals, versions and sample rows per dataset; the lineage graph; runs,
    quality, features, streams and cost. Everything is served from the package (no
    internet needed).

    You sign in with one of the feature server's API keys (`server.api_keys` in
    assay.yaml) and see data as that key's role does (masks and row filters apply). With
    no key configured, `assay ui` makes a one-time key for this process and prints it
    (as Jupyter prints a token): it reads as principal `key:local`, so roles in assay.yaml
    apply to it too. Roles govern the data shown (sample rows, quarantined records, dead
    letters); names, schemas, counts, check results, runs and costs are shown to every key,
    as `assay describe` shows them. assay.yaml is read at start: restart after changing
    keys, roles or budgets.

    Example: `assay ui --project examples/fraud` and paste the printed key at
    http://127.0.0.1:8080. For a key that lasts, make one and store its hash:
    `python -c 'import secrets; print(secrets.token_urlsafe(32))' | tee ui.key |
    assay serve --hash-key` (put the printed line under `server.api_keys: {me: "..."}`
    in assay.yaml);

    then `assay ui --port 8080 --project examples/fraud`, open http://127.0.0.1:8080 and
    paste the key from ui.key. Scripts send it as the header `X-API-Key: KEY`.
    """
    import uvicorn

    from assay.cli.render import console, err_console
    from assay.server.ui.app import LOCAL_KEY, create_ui_app

    proj = _project(project)
    configured = len(proj.config.server.api_keys)
    # Nobody to sign in as: a key for this process alone, shown only to whoever started it.
    session_key = None if configured else secrets.token_urlsafe(24)
    app = create_ui_app(proj, session_key=session_key)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}"
    if session_key is None:
        console.print(
            f"assay UI of [bold]{proj.config.name}[/] at [link]{url}[/]: sign in "
            f"with an API key from server.api_keys ({configured} configured)"
        )
    else:
        console.print(
            f"assay UI of [bold]{proj.config.name}[/] at [link]{url}[/]: sign in with this "
            f"one-time key (server.api_keys is empty; it reads as key:{LOCAL_KEY} and ends "
            f"with this process):\n  [bold]{session_key}[/]"
        )
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(
            f"[yellow]warning:[/] listening on {host}: keys and data cross the network in "
            "clear text unless a TLS proxy is in front"
        )
    uvicorn.run(app, host=host, port=port, log_level="warning")
