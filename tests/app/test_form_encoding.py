"""Form fields that are not UTF-8 text are a 400 naming the field, on every route that reads
a form (issue 21): bytes of another encoding, a lone surrogate's UTF-8-like bytes, a
percent-escaped one, a `charset` that would turn ASCII into surrogates, and a surrogate
escaped inside the JSON of a `characters` field. Before, they became Latin-1 or U+FFFD
text, or a 500."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from tests.app.conftest import AppUnderTest

from reelforge.db.models import Video

BOUNDARY = "reelforgeboundary"
LONE_SURROGATE = b"\xed\xa0\x80"  # "\ud800" as UTF-8 would write it, if it could
LATIN_1 = b"caf\xe9"  # "café" in Latin-1


def multipart(fields: list[tuple[bytes, bytes]], files: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """A multipart/form-data body with exactly these bytes in its names and values."""
    body = b""
    for name, value in fields:
        body += (
            f"--{BOUNDARY}\r\n".encode()
            + b'Content-Disposition: form-data; name="'
            + name
            + b'"\r\n\r\n'
            + value
            + b"\r\n"
        )
    for field, content in files:
        body += (
            (
                f"--{BOUNDARY}\r\n"
                f'Content-Disposition: form-data; name="{field}"; filename="{field}.mp4"\r\n'
                "Content-Type: video/mp4\r\n\r\n"
            ).encode()
            + content
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


def form_headers(extra: dict[str, str] | None = None, charset: str = "") -> dict[str, str]:
    content_type = f"multipart/form-data; boundary={BOUNDARY}{charset}"
    return {"content-type": content_type, **(extra or {})}


def refused(response: Any, field: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error", error
    assert error["param"] == field and error["code"] == "invalid_text", error
    assert "UTF-8" in error["message"] or "surrogate" in error["message"]
    assert "Traceback" not in error["message"]


@pytest.mark.parametrize("bad", [LONE_SURROGATE, LATIN_1], ids=["lone-surrogate", "latin-1"])
def test_create_video_form_fields(site: AppUnderTest, bad: bytes) -> None:
    key = site.api_key("former")
    auth = {"authorization": f"Bearer {key}"}
    client = site.anonymous()

    for field in (b"prompt", b"seconds", b"model"):
        others = [] if field == b"prompt" else [(b"prompt", b"a cat sings")]
        body = multipart([*others, (field, b"x " + bad + b" y")])
        refused(client.post("/v1/videos", content=body, headers=form_headers(auth)), field.decode())
    # A field's name that is not UTF-8 is named as well as it can be (U+FFFD for the bytes).
    body = multipart([(b"prompt", b"a cat"), (b"size" + bad, b"720x1280")])
    response = client.post("/v1/videos", content=body, headers=form_headers(auth))
    param = response.json()["error"]["param"]
    assert response.status_code == 400 and param.startswith("size") and "\ufffd" in param
    # URL-encoded: raw bytes and %-escapes alike.
    url_form = {**auth, "content-type": "application/x-www-form-urlencoded"}
    escaped = "".join(f"%{b:02X}" for b in bad).encode()
    for prompt in (b"a+cat+" + bad, b"a+cat+" + escaped):
        response = client.post(
            "/v1/videos", content=b"seconds=4&prompt=" + prompt, headers=url_form
        )
        refused(response, "prompt")

    with site.state.factory() as db:
        assert db.query(Video).count() == 0  # nothing was made


def test_a_declared_charset_cannot_smuggle_a_surrogate(site: AppUnderTest) -> None:
    """UTF-7 writes "\\ud800" as the ASCII "+2AA-": the declared charset is not used, so
    the prompt is those five characters, stored as they are."""
    auth = {"authorization": f"Bearer {site.api_key('seven')}"}
    body = multipart([(b"prompt", b"a cat +2AA- sings")])
    made = site.anonymous().post(
        "/v1/videos", content=body, headers=form_headers(auth, "; charset=utf-7")
    )
    assert made.status_code == 200, made.text
    assert made.json()["prompt"] == "a cat +2AA- sings"


def test_characters_json_in_a_form_field(site: AppUnderTest) -> None:
    auth = {"authorization": f"Bearer {site.api_key('caster')}"}
    body = multipart([(b"prompt", b"a cat"), (b"characters", b'[{"id": "char_\\ud800"}]')])
    response = site.anonymous().post("/v1/videos", content=body, headers=form_headers(auth))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "characters[0].id" and error["code"] == "invalid_text"


def test_good_utf8_passes(site: AppUnderTest) -> None:
    auth = {"authorization": f"Bearer {site.api_key('plain')}"}
    prompt = "a cat sings 🎵 «ça va»"
    body = multipart([(b"prompt", prompt.encode()), (b"seconds", b"4")])
    made = site.anonymous().post("/v1/videos", content=body, headers=form_headers(auth))
    assert made.status_code == 200, made.text
    assert made.json()["prompt"] == prompt
    url_form = {**auth, "content-type": "application/x-www-form-urlencoded"}
    made = site.anonymous().post("/v1/videos", content=b"prompt=%C3%A7a+va", headers=url_form)
    assert made.status_code == 200 and made.json()["prompt"] == "ça va", made.text


@pytest.mark.parametrize("bad", [LONE_SURROGATE, LATIN_1], ids=["lone-surrogate", "latin-1"])
def test_every_other_form_route(site: AppUnderTest, bad: bytes) -> None:
    auth = {"authorization": f"Bearer {site.api_key('uploader')}"}
    client = site.anonymous()
    video = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64  # never reached: the form is refused

    # Characters: the name.
    body = multipart([(b"name", b"Ada " + bad)], [("video", video)])
    refused(client.post("/v1/videos/characters", content=body, headers=form_headers(auth)), "name")
    # Provenance: any text field, the file's name too.
    body = multipart([(b"note", bad)], [("file", video)])
    refused(client.post("/v1/provenance/verify", content=body, headers=form_headers(auth)), "note")

    # The app, signed in by cookie: the CSRF token read from the form...
    person = site.sign_up("ada")
    body = multipart([(b"csrf_token", bad), (b"challenge_id", b"c")], [("take", video)])
    response = person.client.post("/api/cameos/verify", content=body, headers=form_headers())
    refused(response, "csrf_token")
    # ... and the cameo take's challenge id (the token sent as the web page sends it).
    body = multipart([(b"challenge_id", b"chal_" + bad)], [("take", video)])
    response = person.post("/api/cameos/verify", content=body, headers=form_headers())
    refused(response, "challenge_id")
