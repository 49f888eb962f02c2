"""The fraud example, built once per session for the read models' tests: a first run over
20 days fails in silver.transactions (its SQL reads `device_id`, which the switch only
sends from day 45), a second over 70 days succeeds and trains the model; the online store
is materialized and serves logged requests; the live folder stream takes four arrivals,
the last two poisoned (dead letters) with stragglers (late rows)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

import assay
from assay.server.app import create_app, hash_key

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"
KEY = "views-key"
#: Cards and merchants the logged requests ask for.
ENTITIES = [{"card_id": n, "merchant_id": n % 50 + 1} for n in range(1, 41)]


@pytest.fixture(scope="session")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    sys.path.insert(0, str(EXAMPLE))
    import generate
    import live

    root = tmp_path_factory.mktemp("fraud_views")
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features", "models"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    config = yaml.safe_load((root / "assay.yaml").read_text())
    config["server"] = {"api_keys": [hash_key(KEY)], "log_sample_rate": 1.0}
    (root / "assay.yaml").write_text(yaml.safe_dump(config))
    generate.generate(root, through_day=20, n_transactions=20_000)
    first = assay.Project(root).run()
    assert [r.dataset for r in first.failed] == ["silver.transactions"]
    generate.generate(root, through_day=70, n_transactions=20_000)
    project = assay.Project(root)
    second = project.run()
    assert second.ok, [r.error for r in second.failed]
    project.features.materialize()
    serve(project, ENTITIES)
    for arrival in range(4):
        live.write_arrival(root, 300, minute=10 * arrival, seed=arrival, poison=arrival >= 2)
        project.stream("bronze.live_transactions", until_idle=True)
    return assay.Project(root)


def serve(project: assay.Project, entities: list[dict[str, int]]) -> None:
    """Requests through the feature server; leaving the client flushes the request log."""
    with TestClient(create_app(project)) as client:
        for start in range(0, len(entities), 10):
            body = {"entities": entities[start : start + 10], "service": "fraud_model"}
            answer = client.post("/features", json=body, headers={"X-API-Key": KEY})
            assert answer.status_code == 200, answer.text
