"""The optional external moderation endpoint, against a real HTTP server on localhost."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from reelforge.safety import (
    InMemoryAuditLog,
    ModerationUnavailable,
    PolicyConfig,
    PolicyEngine,
    raise_for_decision,
)

FLAGGED_WORD = "zorblax"  # harmless to our classifier; the fake endpoint flags it
SLOW_WORD = "molasses"  # the fake endpoint answers after 2 s


class _Moderator(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        text = body["input"]
        if SLOW_WORD in text:
            time.sleep(2.0)
        if "malformed" in text:
            payload: dict[str, Any] = {"nothing": "here"}
        else:
            flagged = FLAGGED_WORD in text
            payload = {
                "id": "modr-1",
                "model": body.get("model", "omni-moderation-latest"),
                "results": [
                    {
                        "flagged": flagged,
                        "categories": {"violence": flagged, "violence/graphic": flagged},
                        "category_scores": {
                            "violence": 0.97 if flagged else 0.01,
                            "violence/graphic": 0.91 if flagged else 0.0,
                        },
                    }
                ],
            }
        data = json.dumps(payload).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def moderator_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Moderator)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here any more


def test_flagged_by_the_endpoint_is_blocked(moderator_url: str) -> None:
    engine = PolicyEngine(
        PolicyConfig(
            moderation_url=moderator_url,
            moderation_api_key="sk-test",
            moderation_model="omni-moderation-latest",
        )
    )
    decision = engine.check_request(
        f"a {FLAGGED_WORD} in a field", requester="alice", speech=["hello"]
    )
    assert not decision.allowed and decision.category == "violence/graphic"
    assert decision.scores["moderation:violence/graphic"] == pytest.approx(0.91)
    assert any(f.kind == "moderation" and f.blocking for f in decision.matched)
    last = _Moderator.requests[-1]
    assert last["path"] == "/v1/moderations"
    assert last["auth"] == "Bearer sk-test"
    assert last["body"] == {
        "input": f"a {FLAGGED_WORD} in a field\nhello",
        "model": "omni-moderation-latest",
    }

    fine = engine.check_request("a cat in a field", requester="alice")
    assert fine.allowed and fine.scores["moderation:violence/graphic"] == 0.0
    engine.close()


def test_url_ending_in_v1_is_accepted(moderator_url: str) -> None:
    engine = PolicyEngine(PolicyConfig(moderation_url=moderator_url + "/v1/"))
    assert not engine.check_request(f"a {FLAGGED_WORD}", requester="alice").allowed
    assert _Moderator.requests[-1]["path"] == "/v1/moderations"


def test_endpoint_down_fails_closed_by_default() -> None:
    audit = InMemoryAuditLog()
    engine = PolicyEngine(PolicyConfig(moderation_url=_closed_port_url()), audit=audit)
    decision = engine.check_request("a cat in a field", requester="alice")
    assert not decision.allowed and decision.category == "moderation_unavailable"
    assert audit.records[-1].category == "moderation_unavailable"
    with pytest.raises(ModerationUnavailable) as caught:
        raise_for_decision(decision)
    assert caught.value.status == 503 and caught.value.code == "moderation_unavailable"


def test_endpoint_down_fails_open_when_configured() -> None:
    engine = PolicyEngine(
        PolicyConfig(moderation_url=_closed_port_url(), moderation_fail_closed=False)
    )
    decision = engine.check_request("a cat in a field", requester="alice")
    assert decision.allowed
    assert any(f.category == "moderation_unavailable" and not f.blocking for f in decision.matched)
    # The local checks still run.
    assert not engine.check_request("a naked woman posing on a bed", requester="alice").allowed


def test_slow_or_malformed_endpoint_counts_as_down(moderator_url: str) -> None:
    engine = PolicyEngine(PolicyConfig(moderation_url=moderator_url, moderation_timeout_s=0.3))
    started = time.perf_counter()
    slow = engine.check_request(f"a {SLOW_WORD} river", requester="alice")
    assert time.perf_counter() - started < 1.5
    assert slow.category == "moderation_unavailable"
    malformed = engine.check_request("a malformed answer", requester="alice")
    assert malformed.category == "moderation_unavailable"


def test_local_block_takes_precedence_over_an_unavailable_endpoint() -> None:
    engine = PolicyEngine(PolicyConfig(moderation_url=_closed_port_url()))
    decision = engine.check_request("a graphic video of a man being beheaded", requester="a")
    assert decision.category == "violence/graphic"
