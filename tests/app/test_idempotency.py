"""`Idempotency-Key` (service/idempotency.py): a retried POST makes one job.

In-process (the real app, Starlette's TestClient, SQLite). A server killed between a
create's commit and its answer is made by writing what that kill leaves: the video, and
its settled claim with no stored answer."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select, update
from tests.app.conftest import AppUnderTest

from reelforge.db.models import IdempotencyKey, Video
from reelforge.service.idempotency import KEEP_S, STALE_S, fingerprint


def _bearer(key: str, idem: str | None = None) -> dict[str, str]:
    headers = {"authorization": f"Bearer {key}"}
    if idem is not None:
        headers["idempotency-key"] = idem
    return headers


def _videos(site: AppUnderTest, user_key: str) -> list[str]:
    listed = site.anonymous().get("/v1/videos?limit=100", headers=_bearer(user_key))
    return [v["id"] for v in listed.json()["data"]]


def test_the_same_key_and_body_make_one_video(site: AppUnderTest) -> None:
    key = site.api_key("ada")
    client = site.anonymous()
    first = client.post("/v1/videos", json={"prompt": "a cat sings"}, headers=_bearer(key, "k1"))
    again = client.post("/v1/videos", json={"prompt": "a cat sings"}, headers=_bearer(key, "k1"))
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _videos(site, key) == [first.json()["id"]]
    # Without a key, or with another, a new video each time.
    other = client.post("/v1/videos", json={"prompt": "a cat sings"}, headers=_bearer(key, "k2"))
    plain = client.post("/v1/videos", json={"prompt": "a cat sings"}, headers=_bearer(key))
    assert len({first.json()["id"], other.json()["id"], plain.json()["id"]}) == 3


def test_a_multipart_retry_with_a_new_boundary_is_the_same_request(site: AppUnderTest) -> None:
    key = site.api_key("ada")
    client = site.anonymous()
    ids = []
    for boundary in ("aaaa1111", "bbbb2222"):
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n'
            f"a dog runs\r\n--{boundary}--\r\n"
        ).encode()
        made = client.post(
            "/v1/videos",
            content=body,
            headers={
                **_bearer(key, "multi"),
                "content-type": f"multipart/form-data; boundary={boundary}",
            },
        )
        assert made.status_code == 200, made.text
        ids.append(made.json()["id"])
    assert ids[0] == ids[1] and len(_videos(site, key)) == 1
    one = fingerprint("POST", "/v1/videos", "multipart/form-data; boundary=x1", b"--x1 a --x1--")
    two = fingerprint("POST", "/v1/videos", "multipart/form-data; boundary=y2", b"--y2 a --y2--")
    assert one == two


def test_the_same_key_with_another_request_is_a_409(site: AppUnderTest) -> None:
    key = site.api_key("ada")
    client = site.anonymous()
    client.post("/v1/videos", json={"prompt": "a cat sings"}, headers=_bearer(key, "k"))
    changed = client.post("/v1/videos", json={"prompt": "a dog sings"}, headers=_bearer(key, "k"))
    assert changed.status_code == 409
    error = changed.json()["error"]
    assert error["code"] == "idempotency_key_reused" and error["param"] == "Idempotency-Key"
    assert len(_videos(site, key)) == 1


def test_keys_are_per_user_and_checked(site: AppUnderTest) -> None:
    ada, bea = site.api_key("ada"), site.api_key("bea")
    client = site.anonymous()
    made = [
        client.post("/v1/videos", json={"prompt": "a cat"}, headers=_bearer(k, "shared")).json()
        for k in (ada, bea)
    ]
    assert made[0]["id"] != made[1]["id"]
    for bad in (b"", b"x" * 256, "clé".encode(), b"tab\there"):
        answer = client.post(
            "/v1/videos",
            json={"prompt": "a cat"},
            headers=[(b"authorization", f"Bearer {ada}".encode()), (b"idempotency-key", bad)],
        )
        assert answer.status_code == 400, bad
        assert answer.json()["error"]["param"] == "Idempotency-Key"


def test_a_failed_validation_is_replayed_and_a_rate_limit_is_not(
    make_app: object,
) -> None:
    site: AppUnderTest = make_app(rate_limit_per_minute=2)  # type: ignore[operator]
    key = site.api_key("ada")
    client = site.anonymous()
    bad = client.post("/v1/videos", json={"prompt": ""}, headers=_bearer(key, "v"))
    assert bad.status_code == 400
    again = client.post("/v1/videos", json={"prompt": ""}, headers=_bearer(key, "v"))
    assert again.status_code == 400 and again.headers["idempotent-replayed"] == "true"
    # A replay is not a request the limit counts; the limit (2 a minute) turns the third
    # one away: not stored, so a retry later runs.
    assert client.post("/v1/videos", json={"prompt": "a cat"}, headers=_bearer(key)).is_success
    limited = client.post("/v1/videos", json={"prompt": "a cat"}, headers=_bearer(key, "r"))
    assert limited.status_code == 429
    with site.state.factory() as db:
        assert db.get(IdempotencyKey, (_user_id(site, "ada"), "r")) is None


def _user_id(site: AppUnderTest, name: str) -> str:
    from reelforge.db.models import User

    with site.state.factory() as db:
        return db.scalars(select(User.id).where(User.name == name)).one()


def test_a_create_killed_before_its_answer_is_answered_with_its_video(
    site: AppUnderTest,
) -> None:
    """What a SIGKILL after the commit leaves: the video and a settled claim, no answer."""
    key = site.api_key("ada")
    client = site.anonymous()
    made = client.post("/v1/videos", json={"prompt": "a cat"}, headers=_bearer(key, "kill"))
    user_id = _user_id(site, "ada")
    with site.state.factory() as db:
        db.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == "kill")
            .values(status=None, body=None, content_type=None)
        )
        db.commit()
    retried = client.post("/v1/videos", json={"prompt": "a cat"}, headers=_bearer(key, "kill"))
    assert retried.status_code == 200 and retried.json()["id"] == made.json()["id"]
    assert retried.json()["object"] == "video" and retried.json()["prompt"] == "a cat"
    assert len(_videos(site, key)) == 1


def test_in_progress_then_stale_then_expired(site: AppUnderTest) -> None:
    key = site.api_key("ada")
    user_id = _user_id(site, "ada")
    client = site.anonymous()
    body = json.dumps({"prompt": "a cat"}).encode()
    digest = fingerprint("POST", "/v1/videos", "application/json", body)
    with site.state.factory() as db:  # a request still running elsewhere
        db.add(
            IdempotencyKey(
                user_id=user_id,
                key="busy",
                path="/v1/videos",
                fingerprint=digest,
                created_at=int(time.time()),
            )
        )
        db.commit()
    headers = {**_bearer(key, "busy"), "content-type": "application/json"}
    busy = client.post("/v1/videos", content=body, headers=headers)
    assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["code"] == "idempotency_key_in_progress"
    assert _videos(site, key) == []
    # That request died: once the claim is STALE_S old, a retry takes it over and runs.
    with site.state.factory() as db:
        db.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "busy")
            .values(created_at=int(time.time()) - STALE_S - 1)
        )
        db.commit()
    ran = client.post("/v1/videos", content=body, headers=headers)
    assert ran.status_code == 200 and len(_videos(site, key)) == 1
    # After 24 h the key is free again: a new video.
    with site.state.factory() as db:
        db.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "busy")
            .values(created_at=int(time.time()) - KEEP_S - 1)
        )
        db.commit()
    fresh = client.post("/v1/videos", content=body, headers=headers)
    assert fresh.status_code == 200 and fresh.json()["id"] != ran.json()["id"]


def test_the_apps_create_and_remix_are_idempotent_too(site: AppUnderTest) -> None:
    ada = site.sign_up("ada")
    first = ada.post(
        "/api/videos", json={"prompt": "a cat sings"}, headers={"idempotency-key": "app-1"}
    )
    again = ada.post(
        "/api/videos", json={"prompt": "a cat sings"}, headers={"idempotency-key": "app-1"}
    )
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["id"] == again.json()["id"]
    with site.state.factory() as db:
        count = len(db.scalars(select(Video.id).where(Video.user_id == ada.user_id)).all())
    assert count == 1


@pytest.mark.parametrize("route", ["/v1/videos", "/api/videos"])
def test_without_a_user_the_header_changes_nothing(site: AppUnderTest, route: str) -> None:
    answer = site.anonymous().post(
        route, json={"prompt": "a cat"}, headers={"idempotency-key": "x"}
    )
    assert answer.status_code == 401
