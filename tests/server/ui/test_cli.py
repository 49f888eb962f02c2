"""`assay ui`: starts on the port asked, prints where, serves pages to a key; refuses to
start without keys."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

import assay
from assay.cli.main import app
from tests.server.ui.conftest import KEYS, free_port


def test_without_keys_it_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "assay.yaml").write_text("name: bare\n")
    result = CliRunner().invoke(app, ["ui", "--project", str(tmp_path)])
    assert result.exit_code != 0
    assert "server.api_keys is empty" in result.output
    assert "assay serve --hash-key" in result.output


def test_it_serves_the_project_on_the_port_given(ui_project: assay.Project) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "assay.cli.main",
        "ui",
        "--port",
        str(port),
        "--project",
        str(ui_project.root),
    ]
    env = {**os.environ, "COLUMNS": "200"}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.2)
        assert httpx.get(f"{base}/lineage").status_code == 401
        page = httpx.get(f"{base}/lineage", headers={"X-API-Key": KEYS["admin"]})
        assert (
            page.status_code == 200
            and "assayGraph"
            in httpx.get(f"{base}/static/lineage.js", headers={"X-API-Key": KEYS["admin"]}).text
        )
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode()
    assert f"http://127.0.0.1:{port}" in output and "sign in" in output
