"""`assay models list|show`: the project's models and what each training decided."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import ProjectOpt, handles_errors
from assay.cli.common import open_project as _project

models_app = typer.Typer(
    help="Models (`@assay.model` in models/*.py): versions, metric, champion. "
    "`assay run` trains them when their data has new rows.",
    no_args_is_help=True,
)


@models_app.command("list")
@handles_errors
def list_models(project: ProjectOpt = Path(".")) -> None:
    """List the project's models: metric, trainings, the champion version and its value,
    the latest version and what was decided about it.

    Example: `assay models list --project examples/fraud`
    """
    from assay.cli.render import console, rows_table
    from assay.ml.report import models

    found = models(_project(project).runtime)
    if not found:
        console.print("No models. Declare one with @assay.model in models/*.py.")
        return
    rows = [
        (
            m.dataset,
            m.metric,
            m.trainings,
            "-" if m.champion is None else f"v{m.champion} ({m.champion_value:.4f})",
            "-" if m.latest is None else f"v{m.latest['version']} ({m.latest['value']:.4f})",
            "never trained: run `assay run`" if m.latest is None else m.latest["decision"],
        )
        for m in found
    ]
    columns = ("model", "metric", "trainings", "champion", "latest", "decision")
    console.print(rows_table("models", columns, rows))


@models_app.command("show")
@handles_errors
def show_model(
    name: Annotated[str, typer.Argument(help="The model, e.g. fraud_model.")],
    project: ProjectOpt = Path("."),
) -> None:
    """Show every training of a model: when, which version, its metric on its holdout, the
    champion's on the same holdout, whether it became champion when trained and why, rows
    used; `now` marks the version MLflow's `champion` alias points at today.

    Example: `assay models show fraud_model --project examples/fraud`
    """
    from assay.cli.render import console, rows_table
    from assay.ml.report import current_champion, trainings

    runtime = _project(project).runtime
    rows = trainings(runtime, name)
    if not rows:
        console.print(f"{name} has not been trained yet: `assay run` trains it.")
        return
    now = current_champion(runtime, name)
    shown = [
        (
            r["trained_at"],
            f"v{r['version']}",
            f"{r['metric']} {r['value']:.4f}",
            "-" if r["champion_value"] is None else f"{r['champion_value']:.4f}",
            "yes" if r["is_champion"] else "no",
            "champion" if r["version"] == now.version else "",
            f"{r['train_rows']:,} / {r['eval_rows']:,}",
            r["decision"],
        )
        for r in rows
    ]
    columns = ("trained", "version", "value", "champion's", "became champion", "now")
    title = f"models.{name.removeprefix('models.')}"
    console.print(rows_table(title, (*columns, "train / holdout", "why"), shown))
    if now.version is None:
        console.print("No champion yet (no `champion` alias).")
    elif now.source == "registry":
        console.print(f"Champion now: v{now.version} (MLflow alias `champion`).")
    else:
        console.print(
            f"Champion now: v{now.version}, per the table (the registry was not read: {now.note})."
        )
