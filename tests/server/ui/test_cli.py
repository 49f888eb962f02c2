"""`assay ui`: starts on the port asked, prints where, serves pages to a key; without
configured keys, to the one-time key it printed and to nobody else."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

import assay
from tests.server.ui.conftest import KEYS, free_port


def _start(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "assay.cli.main", "ui", "--port", str(port)]
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [*command, "--project", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "did not start"
        time.sleep(0.2)


def _printed_key(server: subprocess.Popen[bytes]) -> str:
    assert server.stdout is not None
    said = ""
    while "ends with this process" not in said:
        line = server.stdout.readline().decode()
        assert line, f"no key printed: {said}"
        said += line
    assert "one-time key" in said and "key:local" in said
    return server.stdout.readline().decode().split()[0]


def test_without_keys_it_serves_only_the_one_time_key_it_printed(tmp_path: Path) -> None:
    root = assay.init_project(tmp_path / "bare")
    server, base = _start(root)
    try:
        key = _printed_key(server)
        assert httpx.get(f"{base}/").status_code == 401
        assert httpx.get(f"{base}/", headers={"X-API-Key": "guess"}).status_code == 401
        page = httpx.get(f"{base}/", headers={"X-API-Key": key})
        assert page.status_code == 200 and "Overview" in page.text
    finally:
        server.terminate()
        server.communicate(timeout=20)
    # The key dies with its process: the next server makes another and refuses the old one.
    server, base = _start(root)
    try:
        assert _printed_key(server) != key
        assert httpx.get(f"{base}/", headers={"X-API-Key": key}).status_code == 401
    finally:
        server.terminate()
        server.communicate(timeout=20)


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
