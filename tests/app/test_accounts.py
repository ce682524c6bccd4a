"""Accounts, profiles, settings and the social graph through the real app (docs/APP.md):
sign-up, login with its lockout and rate limits, sessions and CSRF, profiles and avatars,
settings, follow / block / hide, and `reelforge users create`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from tests.app.conftest import PASSWORD, AppUnderTest, app_settings

from reelforge.db.models import Follow, HiddenCreator, Notification, Post, User
from reelforge.service.app import create_app


def error(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def user_row(site: AppUnderTest, handle: str) -> User:
    with site.state.factory() as db:
        user = db.scalar(select(User).where(User.name == handle))
        assert user is not None
        return user


def png(width: int = 300, height: int = 200, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


# Sign-up, login, sessions -----------------------------------------------------------


def test_sign_up_signs_in_with_an_httponly_lax_cookie(site: AppUnderTest) -> None:
    client = site.anonymous()
    response = client.post(
        "/api/signup", json={"handle": "alice", "password": PASSWORD, "display_name": "Alice"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["handle"] == "alice" and body["user"]["display_name"] == "Alice"
    assert body["user"]["role"] == "user" and body["csrf_token"]
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("rf_session=") and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain-HTTP localhost: a browser would drop a Secure one
    session = client.get("/api/session").json()
    assert session == body


def test_cookies_are_secure_off_localhost(site: AppUnderTest) -> None:
    client = TestClient(site.app, base_url="https://reelforge.example")
    response = client.post("/api/signup", json={"handle": "alice", "password": PASSWORD})
    assert response.status_code == 201
    assert "secure" in response.headers["set-cookie"].lower()


def test_password_is_stored_as_an_argon2id_hash(site: AppUnderTest) -> None:
    site.sign_up("alice")
    stored = user_row(site, "alice").password_hash
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_an_unknown_handle_costs_the_same_verification_as_a_known_one() -> None:
    """The dummy hash checked for unknown handles has the hasher's current parameters (so
    its verification costs what a real one does) and matches no password."""
    from reelforge.service.auth import _hasher, verify_password
    from reelforge.social.accounts import DUMMY_HASH

    assert not _hasher.check_needs_rehash(DUMMY_HASH)
    assert not verify_password(DUMMY_HASH, PASSWORD)


def test_bad_sign_ups_name_the_field(site: AppUnderTest) -> None:
    client = site.anonymous()
    site.sign_up("alice")
    cases = [
        ({"handle": "alice", "password": PASSWORD}, 409, "handle"),
        ({"handle": "Alice Smith", "password": PASSWORD}, 400, "handle"),
        ({"handle": "al", "password": PASSWORD}, 400, "handle"),
        ({"handle": "bob", "password": "short"}, 400, "password"),
        ({"handle": "bob", "password": PASSWORD, "role": "admin"}, 400, "role"),
        ({"password": PASSWORD}, 400, "handle"),
    ]
    for body, status, param in cases:
        response = client.post("/api/signup", json=body)
        assert (response.status_code, error(response)["param"]) == (status, param), body
    assert client.get("/api/session").json() == {"user": None, "csrf_token": None}


def test_log_out_and_in_again(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    assert alice.post("/api/logout").json() == {"user": None, "csrf_token": None}
    assert alice.get("/api/session").json()["user"] is None
    assert alice.patch("/api/me", json={"bio": "x"}).status_code == 401
    response = alice.client.post("/api/login", json={"handle": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["user"]["id"] == alice.user_id
    alice.csrf = response.json()["csrf_token"]
    assert alice.patch("/api/me", json={"bio": "back"}).json()["bio"] == "back"


def test_wrong_handle_and_wrong_password_read_the_same(site: AppUnderTest) -> None:
    site.sign_up("alice")
    client = site.anonymous()
    wrong_password = client.post("/api/login", json={"handle": "alice", "password": "nope" * 3})
    no_such_person = client.post("/api/login", json={"handle": "zed", "password": PASSWORD})
    assert wrong_password.status_code == no_such_person.status_code == 401
    assert error(wrong_password) == error(no_such_person)
    assert error(wrong_password)["message"] == "wrong handle or password"


def test_five_wrong_passwords_lock_the_account_for_15_minutes(site: AppUnderTest) -> None:
    site.sign_up("alice")
    client = site.anonymous()
    for _ in range(5):
        response = client.post("/api/login", json={"handle": "alice", "password": "guess" * 3})
        assert response.status_code == 401
    locked = client.post("/api/login", json={"handle": "alice", "password": PASSWORD})
    assert locked.status_code == 429 and error(locked)["code"] == "account_locked"
    assert 890 <= int(locked.headers["retry-after"]) <= 900
    with site.state.factory() as db:  # fifteen minutes pass
        user = db.scalar(select(User).where(User.name == "alice"))
        assert user is not None
        user.locked_until -= 900
        db.commit()
    assert client.post("/api/login", json={"handle": "alice", "password": PASSWORD}).is_success
    assert user_row(site, "alice").failed_logins == 0


def test_a_success_resets_the_count_of_failures(site: AppUnderTest) -> None:
    site.sign_up("alice")
    client = site.anonymous()
    for attempt in [*["wrong"] * 4, "right", *["wrong"] * 4, "right"]:
        password = PASSWORD if attempt == "right" else "guess" * 3
        response = client.post("/api/login", json={"handle": "alice", "password": password})
        assert response.status_code == (200 if attempt == "right" else 401)


def test_a_suspended_person_cannot_log_in(site: AppUnderTest) -> None:
    site.sign_up("alice")
    with site.state.factory() as db:
        user = db.scalar(select(User).where(User.name == "alice"))
        assert user is not None
        user.suspended = True
        db.commit()
    client = site.anonymous()
    response = client.post("/api/login", json={"handle": "alice", "password": PASSWORD})
    assert response.status_code == 403 and error(response)["code"] == "suspended"
    wrong = client.post("/api/login", json={"handle": "alice", "password": "guess" * 3})
    assert wrong.status_code == 401  # a guesser learns nothing


def test_sign_ups_are_limited_to_10_an_hour_per_address(site: AppUnderTest) -> None:
    client = site.anonymous()
    for i in range(10):
        response = client.post("/api/signup", json={"handle": f"person{i}", "password": PASSWORD})
        assert response.status_code == 201
    response = client.post("/api/signup", json={"handle": "person10", "password": PASSWORD})
    assert response.status_code == 429 and error(response)["code"] == "rate_limit_exceeded"
    assert 300 <= int(response.headers["retry-after"]) <= 360  # one more every 6 minutes


def test_logins_are_limited_per_address(make_app: Callable[..., AppUnderTest]) -> None:
    site = make_app(login_per_minute=3)
    site.sign_up("alice")
    client = site.anonymous()
    for _ in range(3):
        assert client.post("/api/login", json={"handle": "alice", "password": PASSWORD}).is_success
    response = client.post("/api/login", json={"handle": "alice", "password": PASSWORD})
    assert response.status_code == 429 and error(response)["code"] == "rate_limit_exceeded"


# CSRF -------------------------------------------------------------------------------


def test_a_cookie_request_without_the_csrf_token_is_refused(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    for headers in ({"x-csrf-token": ""}, {"x-csrf-token": "not-the-token"}):
        alice.csrf = None
        response = alice.patch("/api/me", json={"bio": "forged"}, headers=headers)
        assert response.status_code == 403 and error(response)["code"] == "csrf_failed"
    assert user_row(site, "alice").bio == ""


def test_an_api_key_needs_no_csrf_token(site: AppUnderTest) -> None:
    site.sign_up("alice")
    key = site.api_key("alice")
    client = site.anonymous()
    response = client.patch(
        "/api/me", json={"bio": "from my app"}, headers={"authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200 and response.json()["bio"] == "from my app"


# Profiles ---------------------------------------------------------------------------


def test_profile_text_is_returned_as_written(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    script = "<script>alert(1)</script>"
    edited = alice.patch("/api/me", json={"display_name": "<b>Al</b> & co", "bio": script})
    assert edited.status_code == 200
    profile = site.anonymous().get("/api/users/alice").json()
    assert profile["bio"] == script and profile["display_name"] == "<b>Al</b> & co"
    only_bio = alice.patch("/api/me", json={"bio": "cats"}).json()
    assert only_bio["display_name"] == "<b>Al</b> & co"  # left out: unchanged


def test_bad_profile_edits_name_the_field(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    for body, param in [({"bio": "x" * 501}, "bio"), ({"handle": "eve"}, "handle")]:
        response = alice.patch("/api/me", json=body)
        assert response.status_code == 400 and error(response)["param"] == param
    missing = alice.get("/api/users/nobody")
    assert missing.status_code == 404 and error(missing)["param"] == "handle"


def test_profile_counts_posts_that_are_up(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    videos = [site.finished_video(alice, f"a cat number {i}") for i in range(3)]
    with site.state.factory() as db:
        db.add(Post(video_id=videos[0], user_id=alice.user_id))
        db.add(Post(video_id=videos[1], user_id=alice.user_id, removed=True))
        db.add(Post(video_id=videos[2], user_id=alice.user_id, posted=False))
        db.commit()
    assert alice.get("/api/users/alice").json()["posts"] == 1


def test_avatar_is_reencoded_to_a_256_px_webp(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    assert alice.get("/api/users/alice/avatar").status_code == 404
    response = alice.post("/api/me/avatar", files={"avatar": ("me.png", png(), "image/png")})
    assert response.status_code == 200, response.text
    assert response.json()["avatar_url"] == "/api/users/alice/avatar"
    served = site.anonymous().get("/api/users/alice/avatar")
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
    image = Image.open(io.BytesIO(served.content))
    assert (image.format, image.size) == ("WEBP", (256, 256))
    red, green, blue = image.convert("RGB").getpixel((128, 128))  # type: ignore[misc]
    assert red > 150 and green < 80 and blue < 80
    again = site.anonymous().get(
        "/api/users/alice/avatar", headers={"if-none-match": served.headers["etag"]}
    )
    assert again.status_code == 304


def test_a_new_avatar_replaces_the_old_file(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    alice.post("/api/me/avatar", files={"avatar": ("a.png", png(), "image/png")})
    first = user_row(site, "alice").avatar_key
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 900), (20, 20, 220)).save(jpeg, "JPEG")
    response = alice.post("/api/me/avatar", files={"avatar": ("b.jpg", jpeg.getvalue(), "x/y")})
    assert response.status_code == 200
    second = user_row(site, "alice").avatar_key
    assert first and second and first != second
    assert second.startswith(f"avatars/{alice.user_id}-") and second.endswith(".webp")
    assert not site.state.storage.exists(first) and site.state.storage.exists(second)


def test_bad_avatars_name_the_field(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    cases = [
        (("notes.txt", b"hello, I am text", "text/plain"), 400),
        (("fake.png", png()[:40], "image/png"), 400),  # truncated
        (("anim.gif", gif.getvalue(), "image/gif"), 400),
        (("big.png", b"\x89PNG" + b"\0" * (5 * 1024 * 1024), "image/png"), 413),
    ]
    for upload, status in cases:
        response = alice.post("/api/me/avatar", files={"avatar": upload})
        assert response.status_code == status, upload[0]
        assert error(response)["param"] == "avatar"
    missing = alice.post("/api/me/avatar", data={"other": "x"})
    assert missing.status_code == 400 and error(missing)["param"] == "avatar"
    assert user_row(site, "alice").avatar_key is None


# Settings ---------------------------------------------------------------------------


def test_settings_round_trip(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    fresh = alice.get("/api/me/settings").json()
    assert fresh["steering"] == "" and all(fresh["notifications"].values())
    assert set(fresh["notifications"]) == {
        "like",
        "comment",
        "reply",
        "follow",
        "remix",
        "cameo",
        "report",
    }
    steering = "more cats & <cooking>, no sports"
    put = alice.put(
        "/api/me/settings",
        json={"steering": steering, "notifications": {"like": False, "follow": False}},
    )
    assert put.status_code == 200
    assert alice.get("/api/me/settings").json() == put.json()
    assert put.json()["steering"] == steering
    assert not put.json()["notifications"]["like"] and put.json()["notifications"]["comment"]
    assert user_row(site, "alice").muted_notifications == "like,follow"
    back_on = alice.put("/api/me/settings", json={"notifications": {"like": True}}).json()
    assert back_on["steering"] == steering  # left out: unchanged
    assert back_on["notifications"]["like"] and not back_on["notifications"]["follow"]


def test_unknown_notification_type_is_named(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    response = alice.put("/api/me/settings", json={"notifications": {"likes": False}})
    assert response.status_code == 400
    assert error(response)["param"] == "notifications.likes"
    too_long = alice.put("/api/me/settings", json={"steering": "x" * 501})
    assert too_long.status_code == 400 and error(too_long)["param"] == "steering"


# The social graph -------------------------------------------------------------------


def test_follow_and_unfollow(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    followed = alice.post("/api/users/bob/follow")
    assert followed.status_code == 200
    assert followed.json()["followed_by_me"] and followed.json()["followers"] == 1
    assert alice.post("/api/users/bob/follow").json()["followers"] == 1  # idempotent
    assert bob.get("/api/users/alice").json()["following"] == 1
    assert not bob.get("/api/users/bob").json()["followed_by_me"]  # not oneself
    unfollowed = alice.delete("/api/users/bob/follow").json()
    assert unfollowed["followers"] == 0 and not unfollowed["followed_by_me"]
    assert alice.delete("/api/users/bob/follow").status_code == 200
    alice.post("/api/users/bob/follow")
    with site.state.factory() as db:  # following again does not notify again
        kinds = db.scalars(select(Notification.type).where(Notification.user_id == bob.user_id))
        assert list(kinds) == ["follow"]


def test_following_oneself_or_nobody_is_refused(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    myself = alice.post("/api/users/alice/follow")
    assert myself.status_code == 400 and error(myself)["param"] == "handle"
    nobody = alice.post("/api/users/nobody/follow")
    assert nobody.status_code == 404 and error(nobody)["param"] == "handle"


def test_block_ends_follows_both_ways_and_stops_following(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    alice.post("/api/users/bob/follow")
    bob.post("/api/users/alice/follow")
    blocked = alice.post("/api/users/bob/block").json()
    assert blocked["blocked_by_me"] and blocked["followers"] == blocked["following"] == 0
    with site.state.factory() as db:
        assert db.scalars(select(Follow)).all() == []
    for who, handle in ((bob, "alice"), (alice, "bob")):
        response = who.post(f"/api/users/{handle}/follow")
        assert response.status_code == 403 and error(response)["code"] == "blocked"
    assert alice.post("/api/users/bob/block").status_code == 200  # idempotent
    assert not alice.delete("/api/users/bob/block").json()["blocked_by_me"]
    assert bob.post("/api/users/alice/follow").json()["followers"] == 1


def test_hide_a_creator(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    assert alice.post("/api/users/bob/hide").json()["hidden_by_me"]
    assert alice.post("/api/users/bob/hide").status_code == 200
    with site.state.factory() as db:
        rows = db.scalars(select(HiddenCreator)).all()
        assert [(r.user_id, r.creator_id) for r in rows] == [(alice.user_id, bob.user_id)]
    assert not alice.get("/api/users/bob").json()["followed_by_me"]
    assert not alice.delete("/api/users/bob/hide").json()["hidden_by_me"]
    assert alice.post("/api/users/alice/hide").status_code == 400


def test_graph_actions_need_a_signed_in_person(site: AppUnderTest) -> None:
    site.sign_up("bob")
    response = site.anonymous().post("/api/users/bob/follow")
    assert response.status_code == 401 and error(response)["code"] == "not_signed_in"


# The command line -------------------------------------------------------------------


def reelforge(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelforge.cli", *args],
        env={**os.environ, "REELFORGE_DATA_DIR": str(data_dir)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_creates_the_first_admin_who_can_then_log_in(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = reelforge(data, "users", "create", "boss", "--admin", "--password-stdin", stdin=PASSWORD)
    assert made.returncode == 0, made.stderr
    user_id = made.stdout.strip()
    assert user_id.startswith("user_")
    app = create_app(app_settings(data), run_worker=False)
    with TestClient(app, base_url="http://localhost") as client:
        response = client.post("/api/login", json={"handle": "boss", "password": PASSWORD})
        assert response.status_code == 200
        assert response.json()["user"] == {
            "id": user_id,
            "handle": "boss",
            "display_name": "boss",
            "avatar_url": None,
            "role": "admin",
        }
    demoted = reelforge(data, "users", "role", "boss", "moderator")
    assert demoted.returncode == 0, demoted.stderr


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    reelforge(data, "users", "create", "boss", "--password-stdin", stdin=PASSWORD)
    cases = [
        (("users", "create", "Boss!", "--password-stdin"), PASSWORD, "handle"),
        (("users", "create", "carol", "--password-stdin"), "short\n", "password"),
        (("users", "create", "boss", "--password-stdin"), PASSWORD, "taken"),
        (("users", "create", "carol"), "", "password"),  # no terminal to ask on
        (("users", "role", "boss", "owner"), "", "role"),
        (("users", "role", "nobody", "admin"), "", "nobody"),
    ]
    for args, stdin, word in cases:
        result = reelforge(data, *args, stdin=stdin)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and word in result.stderr, result.stderr
        assert result.stdout == ""
