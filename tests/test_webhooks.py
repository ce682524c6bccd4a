"""Standard Webhooks signing and delivery against a real local HTTP receiver."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reelforge import webhooks
from reelforge.errors import ConfigError


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    delays: list[float] = field(default_factory=list)  # seconds to stall, per request
    requests: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.requests.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            if state.delays:
                time.sleep(state.delays.pop(0))
            status = state.statuses.pop(0) if state.statuses else 200
            try:
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender timed out and hung up first: that is what is being tested

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/reelforge"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


# Signing and verification.


def test_new_secret_format() -> None:
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert webhooks.new_secret() != secret


def test_sign_matches_spec_example() -> None:
    # The example from the Standard Webhooks spec / reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    timestamp = 1614265330
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert webhooks.sign(secret, msg_id, timestamp, body) == expected
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": expected,
    }
    assert webhooks.verify(secret, headers, body, now=timestamp + 10)


def _signed_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Webhook-Id": "evt_1",
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": webhooks.sign(secret, "evt_1", timestamp, body),
    }


def test_verify_rejections() -> None:
    secret = webhooks.new_secret()
    body = b'{"a":1}'
    now = 1_700_000_000
    headers = _signed_headers(secret, body, now)
    assert webhooks.verify(secret, headers, body, now=now)  # header names case-insensitive
    assert not webhooks.verify(secret, headers, b'{"a":2}', now=now)
    assert not webhooks.verify(webhooks.new_secret(), headers, body, now=now)
    assert not webhooks.verify(secret, headers, body, now=now + 301)
    assert not webhooks.verify(secret, headers, body, now=now - 301)
    assert webhooks.verify(secret, headers, body, now=now + 10, tolerance_s=10)
    assert not webhooks.verify(secret, {**headers, "Webhook-Id": "evt_2"}, body, now=now)
    assert not webhooks.verify(secret, {**headers, "Webhook-Timestamp": "soon"}, body, now=now)
    missing = {k: v for k, v in headers.items() if k != "Webhook-Signature"}
    assert not webhooks.verify(secret, missing, body, now=now)
    v2 = {**headers, "Webhook-Signature": headers["Webhook-Signature"].replace("v1,", "v2,")}
    assert not webhooks.verify(secret, v2, body, now=now)


def test_verify_accepts_any_of_several_signatures() -> None:
    secret, old = webhooks.new_secret(), webhooks.new_secret()
    body = b"{}"
    now = 1_700_000_000
    sigs = f"{webhooks.sign(old, 'evt_1', now, body)} {webhooks.sign(secret, 'evt_1', now, body)}"
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(now), "webhook-signature": sigs}
    assert webhooks.verify(secret, headers, body, now=now)
    assert webhooks.verify(old, headers, body, now=now)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", ""])
def test_bad_secret_is_config_error(secret: str) -> None:
    with pytest.raises(ConfigError) as info:
        webhooks.sign(secret, "evt_1", 0, b"")
    assert info.value.param == "REELFORGE_WEBHOOK_SECRET"


def test_video_event_shape() -> None:
    event = webhooks.video_event("video.completed", "video_abc", created_at=123)
    assert event["id"].startswith("evt_")
    int(event["id"].removeprefix("evt_"), 16)
    assert event == {
        "id": event["id"],
        "object": "event",
        "type": "video.completed",
        "created_at": 123,
        "data": {"id": "video_abc"},
    }
    other = webhooks.video_event("video.failed", "video_abc")
    assert other["id"] != event["id"]
    assert abs(other["created_at"] - time.time()) < 5


# Delivery.


def test_deliver_is_verifiable(receiver: Receiver) -> None:
    secret = webhooks.new_secret()
    event = webhooks.video_event("video.completed", "video_abc")
    sleep = FakeSleep()
    assert webhooks.deliver(receiver.url, secret, event, sleep=sleep)
    assert sleep.calls == []
    [req] = receiver.requests
    assert req.path == "/hooks/reelforge"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["webhook-id"] == event["id"]
    assert abs(int(req.headers["webhook-timestamp"]) - time.time()) < 5
    assert req.headers["webhook-signature"].startswith("v1,")
    assert webhooks.verify(secret, req.headers, req.body)
    assert json.loads(req.body) == event
    assert b" " not in req.body  # compact JSON
    assert not webhooks.verify(secret, req.headers, req.body + b" ")
    assert not webhooks.verify(webhooks.new_secret(), req.headers, req.body)
    stale = int(req.headers["webhook-timestamp"]) + 3600
    assert not webhooks.verify(secret, req.headers, req.body, now=stale)


def test_deliver_retries_5xx(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    secret = webhooks.new_secret()
    event = webhooks.video_event("video.failed", "video_abc")
    receiver.statuses = [500, 503]
    sleep = FakeSleep()
    with caplog.at_level(logging.INFO, logger="reelforge.webhooks"):
        assert webhooks.deliver(receiver.url, secret, event, first_backoff_s=0.5, sleep=sleep)
    assert len(receiver.requests) == 3
    assert {r.headers["webhook-id"] for r in receiver.requests} == {event["id"]}
    for req in receiver.requests:
        assert webhooks.verify(secret, req.headers, req.body)
    assert len(sleep.calls) == 2
    assert 0.5 <= sleep.calls[0] <= 0.55
    assert 1.0 <= sleep.calls[1] <= 1.1
    assert "500" in caplog.text and "503" in caplog.text
    assert secret not in caplog.text
    assert secret.removeprefix("whsec_") not in caplog.text


def test_deliver_jitter_is_deterministic_per_event(receiver: Receiver) -> None:
    secret = webhooks.new_secret()
    event = webhooks.video_event("video.completed", "video_abc")
    first, second = FakeSleep(), FakeSleep()
    receiver.statuses = [500, 500]
    assert webhooks.deliver(receiver.url, secret, event, sleep=first)
    receiver.statuses = [500, 500]
    assert webhooks.deliver(receiver.url, secret, event, sleep=second)
    assert first.calls == second.calls


def test_deliver_retries_429(receiver: Receiver) -> None:
    receiver.statuses = [429]
    sleep = FakeSleep()
    event = webhooks.video_event("video.completed", "v")
    assert webhooks.deliver(receiver.url, webhooks.new_secret(), event, sleep=sleep)
    assert len(receiver.requests) == 2
    assert len(sleep.calls) == 1


def test_deliver_gives_up_on_4xx(receiver: Receiver) -> None:
    receiver.statuses = [400]
    sleep = FakeSleep()
    event = webhooks.video_event("video.completed", "v")
    assert not webhooks.deliver(receiver.url, webhooks.new_secret(), event, sleep=sleep)
    assert len(receiver.requests) == 1
    assert sleep.calls == []


def test_deliver_gives_up_after_attempts(receiver: Receiver) -> None:
    receiver.statuses = [502] * 10
    sleep = FakeSleep()
    event = webhooks.video_event("video.completed", "v")
    assert not webhooks.deliver(receiver.url, webhooks.new_secret(), event, attempts=4, sleep=sleep)
    assert len(receiver.requests) == 4
    assert len(sleep.calls) == 3
    assert sleep.calls == sorted(sleep.calls)


def test_deliver_retries_timeouts(receiver: Receiver) -> None:
    receiver.delays = [1.0]
    sleep = FakeSleep()
    event = webhooks.video_event("video.completed", "v")
    assert webhooks.deliver(receiver.url, webhooks.new_secret(), event, timeout_s=0.2, sleep=sleep)
    assert len(receiver.requests) == 2
    assert len(sleep.calls) == 1


def test_deliver_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = webhooks.new_secret()
    sleep = FakeSleep()
    event = webhooks.video_event("video.completed", "v")
    url = f"http://127.0.0.1:{port}/hook"
    with caplog.at_level(logging.WARNING, logger="reelforge.webhooks"):
        assert not webhooks.deliver(url, secret, event, attempts=3, sleep=sleep)
    assert len(sleep.calls) == 2
    assert sleep.calls[0] < sleep.calls[1]
    assert caplog.text.count("ConnectError") == 3
    assert secret.removeprefix("whsec_") not in caplog.text


def test_deliver_logs_no_url_credentials(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://user:hunter2@127.0.0.1:{port}/hook?token=sekrit"
    event = webhooks.video_event("video.completed", "v")
    with caplog.at_level(logging.WARNING, logger="reelforge.webhooks"):
        assert not webhooks.deliver(url, webhooks.new_secret(), event, attempts=1)
    assert "hunter2" not in caplog.text and "sekrit" not in caplog.text
    assert f"127.0.0.1:{port}/hook" in caplog.text


def test_deliver_bad_url_gives_up() -> None:
    sleep = FakeSleep()
    event = webhooks.video_event("video.completed", "v")
    assert not webhooks.deliver(
        "ftp://example.invalid/x", webhooks.new_secret(), event, sleep=sleep
    )
    assert sleep.calls == []
