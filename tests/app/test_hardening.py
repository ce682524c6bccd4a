"""Hostile JSON bodies get a 400 naming where the problem is, never a 500 (issue 21):
nesting a thousand levels deep, and lone surrogates in any string, on the OpenAI-
compatible routes and the app's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.app.conftest import AppUnderTest

from reelforge.service.hardening import MAX_JSON_DEPTH, json_depth, unencodable


def test_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[{{{"}]}') == 3
    assert json_depth(b'"[[[[" ') == 0
    assert json_depth(b'{"a": "quote \\" then [[["}') == 1
    assert json_depth(b"[" * 5000 + b"]" * 5000) == 5000


def test_unencodable_names_the_path() -> None:
    assert unencodable({"prompt": "fine", "characters": [{"id": "ok"}]}) is None
    assert unencodable({"prompt": "a \ud800 b"}) == "prompt"
    assert unencodable({"characters": [{"id": "x"}, {"id": "\udfff"}]}) == "characters[1].id"
    assert unencodable(["\ud83d"]) == "[0]"


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "Traceback" not in error["message"]
    return error


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_deep_json_is_a_400_on_every_kind_of_route(site: AppUnderTest, depth: int) -> None:
    key = site.api_key("deep")
    body = '{"prompt": ' + "[" * depth + "]" * depth + "}"
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    client = site.anonymous()
    error = _error(client.post("/v1/videos", content=body, headers=headers))
    # The list inside the object: one level more.
    assert error["code"] == "json_too_deep" and f"nests {depth + 1} levels" in error["message"]
    # The app's routes too (before authentication: nothing is parsed for anyone).
    signup = client.post("/api/signup", content=body, headers={"content-type": "application/json"})
    assert _error(signup)["code"] == "json_too_deep"
    # The same client goes on.
    assert client.get("/healthz").status_code == 200


def test_lone_surrogates_are_a_400_naming_the_field(site: AppUnderTest) -> None:
    key = site.api_key("surrogate")
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    # json.dumps escapes the lone surrogate as \ud800, as a hostile client would send it.
    cases = {
        "/v1/videos": {"prompt": "a cat \ud800 sings"},
        "/v1/videos/video_x/remix": {"prompt": "\udc00"},
        "/v1/videos/edits": {"prompt": "ok", "video": {"id": "video_\ud800"}},
    }
    params = {"/v1/videos": "prompt", "/v1/videos/video_x/remix": "prompt"}
    params["/v1/videos/edits"] = "video.id"
    for path, payload in cases.items():
        body = json.dumps(payload)
        assert "\\ud" in body or "\\udc" in body
        error = _error(site.anonymous().post(path, content=body, headers=headers))
        assert error["param"] == params[path] and error["code"] == "invalid_text", error
    person = site.sign_up("ada")
    settings = json.dumps({"steering": "more \ud800 cats"})
    error = _error(
        person.put(
            "/api/me/settings", content=settings, headers={"content-type": "application/json"}
        )
    )
    assert error["param"] == "steering"
    # Nothing was made.
    listed = site.anonymous().get("/v1/videos", headers={"authorization": f"Bearer {key}"})
    assert listed.json()["data"] == []


def test_ordinary_json_passes_untouched(site: AppUnderTest) -> None:
    key = site.api_key("plain")
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    made = site.anonymous().post(
        "/v1/videos", content=json.dumps({"prompt": "a cat sings 🎵 «ça va»"}), headers=headers
    )
    assert made.status_code == 200, made.text
    assert made.json()["prompt"] == "a cat sings 🎵 «ça va»"
    # Malformed JSON is the route's to describe, as before.
    broken = site.anonymous().post("/v1/videos", content=b'{"prompt": ', headers=headers)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
