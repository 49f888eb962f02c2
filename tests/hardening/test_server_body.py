"""The feature server checks the API key before reading a body, and reads a streamed
(chunked) body no further than server.max_body_bytes: a 300 MB body once took it from
247 MB to 1.15 GB, read whole before the key was looked at."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

import assay
from assay.server.app import create_app, hash_key
from tests.server.project import HEADERS, KEY, build

LIMIT = 64 * 1024
CHUNK = 4096
BODY = {"entities": [{"user_id": 3}], "features": ["user_daily:amount"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> assay.Project:
    root = tmp_path_factory.mktemp("body") / "project"
    return build(root, {"server": {"api_keys": [hash_key(KEY)], "max_body_bytes": LIMIT}})


class Counted:
    """A chunked request body of `total` bytes that counts how much was pulled from it."""

    def __init__(self, total: int, head: bytes = b""):
        self.total, self.head, self.sent = total, head, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        first = self.head
        while self.sent < self.total:
            chunk = first or b" " * min(CHUNK, self.total - self.sent)
            first = b""
            self.sent += len(chunk)
            yield chunk


def post(project: assay.Project, body: Counted, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(project))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            json_headers = {"Content-Type": "application/json", **headers}
            return await client.post("/features", content=body, headers=json_headers)

    return asyncio.run(go())


def test_an_unauthenticated_body_is_refused_before_it_is_read(project: assay.Project) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}):
        body = Counted(300 * 1024 * 1024)
        answer = post(project, body, headers)
        assert answer.status_code == 401
        assert body.sent == 0  # not one chunk pulled


def test_a_streamed_body_is_read_no_further_than_the_limit(project: assay.Project) -> None:
    body = Counted(300 * 1024 * 1024)
    answer = post(project, body, HEADERS)
    assert answer.status_code == 413
    assert f"over {LIMIT} bytes" in answer.json()["detail"]
    assert LIMIT < body.sent <= LIMIT + CHUNK  # up to the chunk that crossed the limit


def test_a_streamed_body_within_the_limit_is_served(project: assay.Project) -> None:
    head = json.dumps(BODY).encode()
    body = Counted(LIMIT, head)  # JSON, then white space up to exactly the limit
    answer = post(project, body, HEADERS)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["results"][0]["amount"]["value"] == 6.0
    assert body.sent == LIMIT


def test_a_declared_length_over_the_limit_is_refused_unread(project: assay.Project) -> None:
    async def go() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(project))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            big = b"x" * (LIMIT + 1)
            return (
                await client.post("/features", content=big, headers=HEADERS),
                await client.post("/features", content=big),
            )

    too_large, unauthenticated = asyncio.run(go())
    assert too_large.status_code == 413 and unauthenticated.status_code == 401


# -- over real HTTP: the answer comes before the body is sent --------------------------------


@pytest.fixture(scope="module")
def server(project: assay.Project) -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # A long keep-alive: the connection closes after a refusal because the server hangs up,
    # not because an idle timeout ran out (the raw requests time out after 10 s).
    config = uvicorn.Config(
        create_app(project), log_level="warning", access_log=False, timeout_keep_alive=120
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield sock.getsockname()[1]
    running.should_exit = True
    thread.join(10)


def raw_request(port: int, headers: dict[str, str], chunks: int) -> tuple[int, Any]:
    """Send a chunked POST's head and `chunks` chunks of CHUNK bytes, never its end, and
    read the answer the server gives meanwhile, until it closes the connection: status and
    JSON body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        conn.sendall(
            f"POST /features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Transfer-Encoding: chunked\r\n{head}\r\n".encode()
        )
        for _ in range(chunks):
            conn.sendall(f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n")
        answer = b""
        while data := conn.recv(65536):  # times out (failing the test) if the server waits
            answer += data  # to the end: the server hangs up rather than read the rest
    status = int(answer.split(b" ", 2)[1])
    head_text, _, payload = answer.partition(b"\r\n\r\n")
    if b"chunked" in head_text.lower():
        payload = payload.split(b"\r\n", 2)[1]
    return status, json.loads(payload)


def test_over_http_no_key_is_answered_before_any_body(server: int) -> None:
    status, body = raw_request(server, {}, chunks=0)
    assert status == 401 and "missing API key" in body["detail"]


def test_over_http_the_limit_is_answered_without_waiting_for_the_rest(server: int) -> None:
    status, body = raw_request(server, {"X-API-Key": KEY}, chunks=LIMIT // CHUNK + 1)
    assert status == 413 and str(LIMIT) in body["detail"]
    # The server still serves.
    with httpx.Client(base_url=f"http://127.0.0.1:{server}") as client:
        answer = client.post("/features", json=BODY, headers=HEADERS)
        assert answer.json()["results"][0]["amount"]["value"] == 6.0
