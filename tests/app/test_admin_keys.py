"""/api/admin/keys through the real app: an admin lists, creates, revokes and rotates API
keys; a revoked key is refused on the very next request, on /v1 and on /api; everyone
but an admin is refused, a browser without its CSRF token too; every change is audited."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.app.conftest import AppUnderTest, Browser


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    problem: dict[str, Any] = response.json()["error"]
    return problem


def with_key(client: TestClient, key: str) -> tuple[int, int]:
    """The status of one /v1 call and one /api call made with `key`."""
    auth = {"authorization": f"Bearer {key}"}
    return (
        client.get("/v1/videos", headers=auth).status_code,
        client.get("/api/me/settings", headers=auth).status_code,
    )


def key_id_of(admin: Browser, user: str) -> str:
    listed = admin.get("/api/admin/keys", params={"user": user}).json()["data"]
    assert len(listed) == 1, listed
    return str(listed[0]["id"])


def audit(admin: Browser) -> list[tuple[str, str, str]]:
    rows = admin.get("/api/moderation/audit").json()["data"]
    return [(a["action"], a["target_type"], a["target_id"]) for a in rows]


def test_create_revoke_and_the_key_is_refused_at_once(site: AppUnderTest) -> None:
    admin = site.sign_up("root", role="admin")
    site.sign_up("bob")
    client = site.anonymous()

    made = admin.post("/api/admin/keys", json={"user": "bob"})
    assert made.status_code == 200, made.text
    issued = made.json()
    key, key_id = issued["key"], issued["api_key"]["id"]
    assert key.startswith(issued["api_key"]["prefix"]) and issued["api_key"]["user"] == "bob"
    assert issued["api_key"]["revoked"] is False and issued["replaces"] is None
    assert with_key(client, key) == (200, 200)

    revoked = admin.post(f"/api/admin/keys/{key_id}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert with_key(client, key) == (401, 401)
    assert (
        error(client.get("/v1/videos", headers={"authorization": f"Bearer {key}"}), 401)["code"]
        == "invalid_api_key"
    )

    again = admin.post(f"/api/admin/keys/{key_id}/revoke")  # twice is fine: same answer
    assert again.status_code == 200 and again.json() == revoked.json()
    assert with_key(client, key) == (401, 401)
    assert audit(admin) == [
        ("key_revoke", "api_key", key_id),
        ("key_create", "api_key", key_id),
    ]  # the second revoke changed nothing and is not audited

    assert admin.get("/api/admin/keys", params={"user": "bob"}).json()["data"] == []
    listed = admin.get("/api/admin/keys", params={"user": "bob", "all": "true"}).json()["data"]
    assert [(k["id"], k["revoked"]) for k in listed] == [(key_id, True)]
    assert all("key" not in k and "key_hash" not in k for k in listed)


def test_rotate_replaces_the_key_in_one_step(site: AppUnderTest) -> None:
    admin = site.sign_up("root", role="admin")
    old_key = site.api_key("carol")
    other_key = site.api_key("dave")
    client = site.anonymous()
    old_id = key_id_of(admin, "carol")

    rotated = admin.post(f"/api/admin/keys/{old_id}/rotate")
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["replaces"]["id"] == old_id and body["replaces"]["revoked"] is True
    assert body["api_key"]["user"] == "carol" and body["api_key"]["id"] != old_id
    assert body["key"] != old_key
    assert with_key(client, old_key) == (401, 401)
    assert with_key(client, body["key"]) == (200, 200)
    assert with_key(client, other_key) == (200, 200)  # nobody else's key is touched

    live = admin.get("/api/admin/keys").json()["data"]
    assert {(k["user"], k["id"]) for k in live} == {
        ("carol", body["api_key"]["id"]),
        ("dave", key_id_of(admin, "dave")),
    }
    assert audit(admin)[0] == ("key_rotate", "api_key", old_id)

    refused = error(admin.post(f"/api/admin/keys/{old_id}/rotate"), 409)
    assert refused["param"] == "key_id" and refused["code"] == "key_revoked"
    assert len(admin.get("/api/admin/keys", params={"user": "carol"}).json()["data"]) == 1


def test_bad_requests_name_the_field_and_change_nothing(site: AppUnderTest) -> None:
    admin = site.sign_up("root", role="admin")
    key = site.api_key("erin")
    assert error(admin.post("/api/admin/keys/key_nope/revoke"), 404)["param"] == "key_id"
    assert error(admin.post("/api/admin/keys/key_nope/rotate"), 404)["param"] == "key_id"
    assert error(admin.post("/api/admin/keys", json={"user": "nobody"}), 404)["param"] == "user"
    assert "user" in str(error(admin.post("/api/admin/keys", json={"usr": "erin"}), 400))
    assert error(admin.get("/api/admin/keys", params={"user": "nobody"}), 404)["param"] == "user"
    assert with_key(site.anonymous(), key) == (200, 200)
    assert len(admin.get("/api/admin/keys", params={"all": "true"}).json()["data"]) == 1
    assert audit(admin) == []


def test_only_admins_and_browsers_need_their_csrf_token(site: AppUnderTest) -> None:
    admin = site.sign_up("root", role="admin")
    moderator = site.sign_up("mod", role="moderator")
    user = site.sign_up("frank")
    key = site.api_key("frank")
    key_id = key_id_of(admin, "frank")
    anonymous = site.anonymous()

    assert error(anonymous.get("/api/admin/keys"), 401)
    assert error(anonymous.post(f"/api/admin/keys/{key_id}/revoke"), 401)
    for person in (moderator, user):
        assert error(person.get("/api/admin/keys"), 403)["code"] == "not_an_admin"
        assert error(person.post(f"/api/admin/keys/{key_id}/revoke"), 403)
        assert error(person.post("/api/admin/keys", json={"user": "frank"}), 403)
    as_user_key = {"authorization": f"Bearer {key}"}
    assert error(anonymous.post(f"/api/admin/keys/{key_id}/rotate", headers=as_user_key), 403)

    no_csrf = admin.client.post(f"/api/admin/keys/{key_id}/revoke")  # the cookie alone
    assert error(no_csrf, 403)["param"] == "csrf_token"
    assert with_key(anonymous, key) == (200, 200)

    # An admin's own API key needs no CSRF token (no cookie is involved).
    admin_key = site.api_key("root")
    by_key = anonymous.post(
        f"/api/admin/keys/{key_id}/revoke", headers={"authorization": f"Bearer {admin_key}"}
    )
    assert by_key.status_code == 200, by_key.text
    assert with_key(anonymous, key) == (401, 401)
