"""The error handlers: a server-side error reaches the client as a bare "server failed"
unless its class says its message was written for clients."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from reelforge.errors import ConfigError, InvalidRequest, ReelforgeError
from reelforge.extras import NotInstalled
from reelforge.safety.decision import ModerationUnavailable
from reelforge.service import errors
from reelforge.service.errors import APIError


def _client(error: ReelforgeError) -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def _error(error: ReelforgeError) -> tuple[int, dict[str, object]]:
    response = _client(error).get("/boom")
    return response.status_code, response.json()["error"]


def test_a_private_server_error_hides_its_message() -> None:
    status, body = _error(ConfigError("cannot read /srv/secret/key.pem"))
    assert status == 500
    assert body == {
        "message": "the server failed to handle the request",
        "type": "server_error",
        "param": None,
        "code": "server_error",
    }


def test_public_server_errors_keep_their_status_message_and_code() -> None:
    status, body = _error(NotInstalled("dit is not available here", code="not_installed"))
    assert (status, body["code"], body["message"]) == (
        503,
        "not_installed",
        "dit is not available here",
    )
    reason = "The content check is unavailable right now; please try again later."
    status, body = _error(ModerationUnavailable(reason, policy_version="v"))
    assert (status, body["code"], body["message"], body["param"]) == (
        503,
        "moderation_unavailable",
        reason,
        "prompt",
    )


def test_a_client_error_keeps_its_field() -> None:
    status, body = _error(InvalidRequest("seconds: must be 4, 8 or 12", param="seconds"))
    assert (status, body["param"], body["type"]) == (400, "seconds", "invalid_request_error")


def test_a_router_error_is_one_of_the_family_with_its_status_and_headers() -> None:
    error = APIError(429, "slow down", code="rate_limit_exceeded", headers={"Retry-After": "3"})
    assert isinstance(error, ReelforgeError)
    response = _client(error).get("/boom")
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.json()["error"] == {
        "message": "slow down",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }
