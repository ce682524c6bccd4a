"""Bounded resources on the real server (issue 21): slow clients are dropped after the
header and body deadlines, and a flood of idle sockets does not stop other clients."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.app.test_notifications import Server, start_server

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(
        tmp_path_factory.mktemp("bounds"),
        REELFORGE_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        REELFORGE_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
        REELFORGE_MAX_CONNECTIONS="400",
    )
    yield s
    s.stop()


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _closed_by_server(sock: socket.socket, within_s: float) -> bool:
    """Whether the server closes `sock` within `within_s` (recv returns b"" or resets)."""
    sock.settimeout(within_s)
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_unfinished_headers_are_dropped(server: Server) -> None:
    sock = _connect(server.url)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    time.sleep(HEADER_TIMEOUT_S / 2)
    sock.sendall(b"a")  # a trickle of bytes does not extend the deadline
    assert _closed_by_server(sock, within_s=HEADER_TIMEOUT_S + 5)


def test_a_silent_connection_is_dropped(server: Server) -> None:
    sock = _connect(server.url)
    assert _closed_by_server(sock, within_s=HEADER_TIMEOUT_S + 5)


def test_an_unfinished_body_is_dropped(server: Server) -> None:
    sock = _connect(server.url)
    sock.sendall(
        b"POST /v1/videos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"prompt": '
    )
    assert _closed_by_server(sock, within_s=BODY_TIMEOUT_S + 5)


def test_a_complete_request_is_answered_after_the_header_deadline(server: Server) -> None:
    """The deadline guards reading the request, not keeping a good connection."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/healthz").status_code == 200
        time.sleep(HEADER_TIMEOUT_S * 1.5)  # idle between requests: keep-alive's business
        assert client.get("/healthz").status_code == 200


def test_idle_and_slow_sockets_do_not_stop_other_clients(server: Server) -> None:
    """A flood past the cap (400) of idle and half-sent sockets: every request of a
    well-behaved client is answered, during the flood and after it is dropped."""
    idle = [_connect(server.url) for _ in range(400)]
    slow = [_connect(server.url) for _ in range(50)]
    for sock in slow:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    answers = []
    deadline = time.monotonic() + HEADER_TIMEOUT_S * 4
    with httpx.Client(base_url=server.url, timeout=5) as client:
        while time.monotonic() < deadline:
            answers.append(client.get("/healthz").status_code)
            time.sleep(0.05)
    assert len(answers) > 10 and set(answers) == {200}
    closed = sum(_closed_by_server(sock, within_s=0.2) for sock in idle + slow)
    assert closed == len(idle) + len(slow)
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_at_the_cap_the_least_recently_active_idle_connection_makes_room(
    tmp_path: Path,
) -> None:
    s = start_server(tmp_path, REELFORGE_MAX_CONNECTIONS="20", REELFORGE_HEADER_TIMEOUT_S="30")
    try:
        held = []
        for _ in range(25):  # one at a time, so they are told apart by age
            held.append(_connect(s.url))
            time.sleep(0.02)
        time.sleep(0.3)
        with httpx.Client(base_url=s.url, timeout=5) as client:
            assert [client.get("/healthz").status_code for _ in range(3)] == [200] * 3
        # The oldest made room for the newer ones and for the client; the newest stay.
        assert all(_closed_by_server(sock, within_s=1) for sock in held[:5])
        assert not any(_closed_by_server(sock, within_s=0.1) for sock in held[-10:])
        for sock in held:
            sock.close()
    finally:
        s.stop()


def test_when_every_connection_is_busy_a_new_request_is_told_503(tmp_path: Path) -> None:
    s = start_server(
        tmp_path,
        REELFORGE_MAX_CONNECTIONS="20",
        REELFORGE_HEADER_TIMEOUT_S="30",
        REELFORGE_BODY_TIMEOUT_S="30",
    )
    try:
        busy = []
        for _ in range(20):  # requests whose bodies never finish: being read, not idle
            sock = _connect(s.url)
            sock.sendall(
                b"POST /v1/videos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"prompt": '
            )
            busy.append(sock)
        time.sleep(0.5)
        assert httpx.get(f"{s.url}/healthz", timeout=5).status_code == 503
        assert not any(_closed_by_server(sock, within_s=0.1) for sock in busy)
        for sock in busy:
            sock.close()
        time.sleep(0.3)
        assert httpx.get(f"{s.url}/healthz", timeout=5).status_code == 200
    finally:
        s.stop()
