"""Drafts and posts, their media, reactions, comments, remix chains and the daily quota,
through the real /api/ routes (tests/app/conftest.py: real sign-up, real clips)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from tests.app.conftest import AppUnderTest, Browser

from reelforge.db.models import Comment, Like, Notification, Post, Video, View
from reelforge.jobs.worker import MEDIA, Worker, media_key
from reelforge.social.posts import COMMENTS_PER_MINUTE

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def post(person: Browser, video_id: str, **choice: Any) -> dict[str, Any]:
    response = person.post(f"/api/videos/{video_id}/post", json=choice)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    problem: dict[str, Any] = response.json()["error"]
    return problem


def run_worker(site: AppUnderTest, video_id: str) -> None:
    """Generate the queued video now, with the real worker (make_app has none running)."""
    state = site.state
    worker = Worker(state.deployment, state.queue)
    assert worker.claim(video_id)
    worker.process(video_id)


def notifications(site: AppUnderTest, user_id: str, type_: str) -> list[Notification]:
    with site.state.factory() as db:
        return list(
            db.scalars(
                select(Notification).where(
                    Notification.user_id == user_id, Notification.type == type_
                )
            )
        )


def test_a_clip_made_in_the_app_becomes_a_post_and_a_remix_chain_two_deep(
    site: AppUnderTest,
) -> None:
    alice, bob, carol = site.sign_up("alice"), site.sign_up("bob"), site.sign_up("carol")
    unknown = alice.post("/api/videos", json={"prompt": "a dog runs", "cameos": ["@nobody1"]})
    assert error(unknown, 400)["param"] == "cameos"

    assert error(alice.post("/api/videos", json={"prompt": "a cat", "cameos": ["@bob"]}), 403)
    cat = {"handle": "bobs_cat", "display_name": "Tom"}
    assert bob.post("/api/cameos/characters", json=cat).status_code == 200
    assert bob.patch("/api/cameos/bobs_cat", json={"access": "everyone"}).status_code == 200
    made = alice.post("/api/videos", json={"prompt": "a red ball bounces", "cameos": ["@bobs_cat"]})
    assert made.status_code == 200, made.text
    draft = made.json()
    assert (draft["status"], draft["posted"], draft["video_url"]) == ("queued", False, None)
    assert "@bobs_cat" in draft["prompt"]
    assert [v["id"] for v in alice.get("/api/drafts").json()["data"]] == [draft["id"]]
    assert bob.get(f"/api/videos/{draft['id']}").status_code == 404
    error(alice.post(f"/api/videos/{draft['id']}/post", json={}), 409)

    run_worker(site, draft["id"])
    done = alice.get(f"/api/videos/{draft['id']}").json()
    assert done["status"] == "completed" and done["video_url"]
    assert alice.get(done["video_url"]).status_code == 200  # the creator plays the draft
    assert carol.get(done["video_url"]).status_code == 404  # a draft is nobody else's,
    assert bob.get(done["video_url"]).status_code == 200  # but its cameo's owner may watch it

    original = post(alice, draft["id"], caption="bouncing")
    remix = bob.post(f"/api/posts/{original['id']}/remix", json={"prompt": "a blue ball bounces"})
    assert remix.status_code == 200, remix.text
    assert remix.json()["remix_of"] == original["id"]
    assert bob.get(f"/api/videos/{remix.json()['id']}").json()["posted"] is False
    run_worker(site, remix.json()["id"])
    first = post(bob, remix.json()["id"], caption="mine is blue")
    assert first["remix"]["parent"] == {"id": original["id"], "handle": "alice", "removed": False}
    assert first["remix"]["root"]["id"] == original["id"] and first["remix"]["depth"] == 1
    assert alice.get(f"/api/posts/{original['id']}").json()["counts"]["remixes"] == 1
    assert [n.video_id for n in notifications(site, alice.user_id, "remix")] == [first["id"]]

    again = carol.post(f"/api/posts/{first['id']}/remix", json={"prompt": "a green ball"})
    run_worker(site, again.json()["id"])
    second = post(carol, again.json()["id"])
    assert second["remix"]["parent"]["id"] == first["id"]
    assert second["remix"]["root"] == {"id": original["id"], "handle": "alice", "removed": False}
    assert second["remix"]["depth"] == 2
    remixes = carol.get(f"/api/posts/{original['id']}/remixes").json()["data"]
    assert [p["id"] for p in remixes] == [first["id"]]

    badge = carol.get(f"/api/posts/{first['id']}/provenance").json()
    assert badge["c2pa_valid"] and badge["watermark_found"]
    assert (badge["creator"], badge["parent_video_id"]) == ("bob", original["id"])

    assert alice.delete(f"/api/videos/{original['id']}").status_code == 200
    chain = carol.get(f"/api/posts/{second['id']}").json()["remix"]
    assert chain["root"] == {"id": original["id"], "handle": None, "removed": True}
    assert carol.get(f"/api/posts/{first['id']}").json()["remix"]["parent"]["removed"]


def test_another_persons_draft_is_a_404_on_every_route(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    video_id = site.finished_video(alice)
    anonymous, moderator = site.anonymous(), site.sign_up("mod", role="moderator")
    for who in (bob, anonymous, moderator):
        for path in ("", "/video", "/thumbnail", "/download", "/provenance", "/comments"):
            assert who.get(f"/api/posts/{video_id}{path}").status_code == 404, path
        assert who.get(f"/api/posts/{video_id}/remixes").status_code == 404
    assert bob.get(f"/api/videos/{video_id}").status_code == 404
    for path, body in (
        (f"/api/videos/{video_id}/post", {}),
        (f"/api/posts/{video_id}/unpost", None),
        (f"/api/posts/{video_id}/like", None),
        (f"/api/posts/{video_id}/view", {"watched_ms": 10}),
        (f"/api/posts/{video_id}/see-less", None),
        (f"/api/posts/{video_id}/comments", {"body": "hi"}),
        (f"/api/posts/{video_id}/remix", {"prompt": "mine now"}),
    ):
        assert error(bob.post(path, json=body), 404)["param"] == "video_id", path
    assert bob.delete(f"/api/videos/{video_id}").status_code == 404
    assert bob.delete(f"/api/posts/{video_id}/like").status_code == 404
    # Its owner sees the draft and plays its media, but it is no post yet.
    assert alice.get(f"/api/videos/{video_id}").json()["posted"] is False
    assert alice.get(f"/api/posts/{video_id}/thumbnail").status_code == 200
    assert alice.get(f"/api/posts/{video_id}").status_code == 404


def test_post_unpost_repost_and_delete(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    video_id = site.finished_video(alice, "a cat plays the piano")
    out = post(alice, video_id, caption=SCRIPT, allow_download=False)
    assert out["caption"] == SCRIPT and out["prompt"] == "a cat plays the piano"
    assert out["creator"]["handle"] == "alice" and out["download_url"] is None
    with site.state.factory() as db:
        row = db.get(Post, video_id)
        assert row is not None and row.embedding is not None and len(row.embedding) == 384 * 4
    assert alice.get("/api/drafts").json()["data"] == []
    assert bob.get(f"/api/posts/{video_id}").json()["caption"] == SCRIPT
    assert [p["id"] for p in bob.get("/api/users/alice/posts").json()["data"]] == [video_id]
    bob.post(f"/api/posts/{video_id}/like")

    unposted = alice.post(f"/api/posts/{video_id}/unpost")
    assert unposted.status_code == 200 and unposted.json()["posted"] is False
    assert [v["id"] for v in alice.get("/api/drafts").json()["data"]] == [video_id]
    assert bob.get(f"/api/posts/{video_id}").status_code == 404
    assert bob.get("/api/users/alice/posts").json()["data"] == []
    again = post(alice, video_id, caption="second try")
    assert again["caption"] == "second try" and again["counts"]["likes"] == 1

    bob.post(f"/api/posts/{video_id}/comments", json={"body": "nice"})
    bob.post(f"/api/posts/{video_id}/view", json={"watched_ms": 500})
    assert alice.delete(f"/api/videos/{video_id}").json() == {"id": video_id, "deleted": True}
    assert alice.get(f"/api/videos/{video_id}").status_code == 404
    assert bob.get(f"/api/posts/{video_id}").status_code == 404
    with site.state.factory() as db:
        for table in (Post, Like, Comment, View):
            assert db.scalar(select(func.count()).select_from(table)) == 0, table
        assert db.get(Video, video_id) is None
    for variant in MEDIA:
        assert not site.state.storage.exists(media_key(video_id, variant))


def test_toggles_refuse_remix_download_and_comments(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    closed = site.finished_video(alice)
    post(alice, closed, allow_remix=False, allow_download=False, comments_on=False)
    problem = error(bob.post(f"/api/posts/{closed}/remix", json={"prompt": "x"}), 403)
    assert (problem["code"], problem["param"]) == ("remix_off", "video_id")
    assert error(bob.get(f"/api/posts/{closed}/download"), 403)["code"] == "download_off"
    comment = bob.post(f"/api/posts/{closed}/comments", json={"body": "hello"})
    assert error(comment, 403)["code"] == "comments_off"
    assert alice.get(f"/api/posts/{closed}/download").status_code == 200  # hers, always

    opened = site.finished_video(alice)
    out = post(alice, opened)
    download = bob.get(out["download_url"])
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.content == site.sample["video"].read_bytes()
    remix = bob.post(f"/api/posts/{opened}/remix", json={"prompt": "x"})
    assert remix.status_code == 200, remix.text
    assert (remix.json()["remix_of"], remix.json()["status"]) == (opened, "queued")


def test_the_video_answers_byte_ranges_so_players_can_seek(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    video_id = site.finished_video(alice)
    post(alice, video_id)
    viewer = site.anonymous()
    whole = site.sample["video"].read_bytes()
    part = viewer.get(f"/api/posts/{video_id}/video", headers={"range": "bytes=100-299"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-299/{len(whole)}"
    assert part.content == whole[100:300]
    full = viewer.get(f"/api/posts/{video_id}/video")
    assert full.headers["content-type"] == "video/mp4" and full.content == whole
    assert full.headers["accept-ranges"] == "bytes"
    thumbnail = viewer.get(f"/api/posts/{video_id}/thumbnail")
    assert thumbnail.headers["content-type"] == "image/webp"


def test_provenance_of_a_real_clip_verifies(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    video_id = site.finished_video(alice)
    post(alice, video_id)
    badge = site.anonymous().get(f"/api/posts/{video_id}/provenance")
    assert badge.status_code == 200, badge.text
    body = badge.json()
    assert body["c2pa_valid"] is True and body["watermark_found"] is True
    assert body["model"] == "sim"  # the engine the manifest names
    assert "C2PA manifest valid" in body["summary"]


def test_likes_and_views_count_each_person_once(site: AppUnderTest) -> None:
    alice, bob, carol = site.sign_up("alice"), site.sign_up("bob"), site.sign_up("carol")
    video_id = site.finished_video(alice)
    post(alice, video_id)
    for _ in range(2):
        liked = bob.post(f"/api/posts/{video_id}/like").json()
    assert liked["counts"]["likes"] == 1 and liked["liked_by_me"] is True
    assert carol.post(f"/api/posts/{video_id}/like").json()["counts"]["likes"] == 2
    assert len(notifications(site, alice.user_id, "like")) == 2
    for _ in range(2):
        unliked = bob.delete(f"/api/posts/{video_id}/like").json()
    assert unliked["counts"]["likes"] == 1 and unliked["liked_by_me"] is False

    first = bob.post(f"/api/posts/{video_id}/view", json={"watched_ms": 1000}).json()
    assert (first["watched_ms"], first["completed"]) == (1000, False)
    for _ in range(2):
        bob.post(f"/api/posts/{video_id}/view", json={"watched_ms": 2000, "completed": True})
    carol.post(f"/api/posts/{video_id}/view", json={"watched_ms": 10})
    assert (
        error(bob.post(f"/api/posts/{video_id}/view", json={"watched_ms": -1}), 400)["param"]
        == "watched_ms"
    )
    with site.state.factory() as db:
        row = db.get(Post, video_id)
        view = db.get(View, (bob.user_id, video_id))
        assert row is not None and view is not None
        assert (row.view_count, row.completed_count, view.watched_ms) == (2, 1, 5000)
    assert bob.post(f"/api/posts/{video_id}/see-less").status_code == 200
    assert bob.post(f"/api/posts/{video_id}/see-less").status_code == 200


def test_comments_nest_one_level_and_keep_text_as_written(site: AppUnderTest) -> None:
    alice, bob, carol = site.sign_up("alice"), site.sign_up("bob"), site.sign_up("carol")
    video_id, other = site.finished_video(alice), site.finished_video(alice)
    post(alice, video_id)
    post(alice, other)
    top = bob.post(f"/api/posts/{video_id}/comments", json={"body": SCRIPT}).json()
    assert top["body"] == SCRIPT and top["author"]["handle"] == "bob"
    reply = carol.post(
        f"/api/posts/{video_id}/comments", json={"body": "agreed", "parent_id": top["id"]}
    ).json()
    second = carol.post(f"/api/posts/{video_id}/comments", json={"body": "second"}).json()
    for parent in (reply["id"], "comment_missing", None):
        body = {"body": "deeper", "parent_id": parent} if parent else {"body": ""}
        problem = error(carol.post(f"/api/posts/{video_id}/comments", json=body), 400)
        assert problem["param"] == ("parent_id" if parent else "body")
    elsewhere = bob.post(f"/api/posts/{other}/comments", json={"body": "x"}).json()
    wrong_post = {"body": "x", "parent_id": elsewhere["id"]}
    assert error(bob.post(f"/api/posts/{video_id}/comments", json=wrong_post), 400)

    listed = site.anonymous().get(f"/api/posts/{video_id}/comments").json()
    assert [c["id"] for c in listed["data"]] == [top["id"], second["id"]]
    assert [r["body"] for r in listed["data"][0]["replies"]] == ["agreed"]
    assert listed["data"][0]["body"] == SCRIPT
    page = bob.get(f"/api/posts/{video_id}/comments", params={"limit": 1}).json()
    rest = bob.get(f"/api/posts/{video_id}/comments", params={"cursor": page["next_cursor"]}).json()
    assert [c["id"] for c in page["data"] + rest["data"]] == [top["id"], second["id"]]
    assert [n.comment_id for n in notifications(site, alice.user_id, "comment")].count(
        reply["id"]
    ) == 1
    assert [n.comment_id for n in notifications(site, bob.user_id, "reply")] == [reply["id"]]
    assert bob.get(f"/api/posts/{video_id}").json()["counts"]["comments"] == 3

    assert carol.delete(f"/api/comments/{top['id']}").status_code == 404  # not hers
    assert alice.delete(f"/api/comments/{top['id']}").status_code == 200  # her post
    listed = bob.get(f"/api/posts/{video_id}/comments").json()
    assert [c["id"] for c in listed["data"]] == [second["id"]]
    assert bob.get(f"/api/posts/{video_id}").json()["counts"]["comments"] == 1


def test_comments_are_rate_limited(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    video_id = site.finished_video(alice)
    post(alice, video_id)
    for n in range(COMMENTS_PER_MINUTE):
        sent = bob.post(f"/api/posts/{video_id}/comments", json={"body": f"spam {n}"})
        assert sent.status_code == 200, sent.text
    flood = bob.post(f"/api/posts/{video_id}/comments", json={"body": "one more"})
    assert error(flood, 429)["code"] == "rate_limit_exceeded"
    assert alice.post(f"/api/posts/{video_id}/comments", json={"body": "mine"}).status_code == 200


def test_blocking_either_way_hides_posts_and_profiles(site: AppUnderTest) -> None:
    alice, bob, carol = site.sign_up("alice"), site.sign_up("bob"), site.sign_up("carol")
    video_id = site.finished_video(alice)
    post(alice, video_id)
    comment = carol.post(f"/api/posts/{video_id}/comments", json={"body": "hi"})
    assert comment.status_code == 200
    assert bob.post("/api/users/alice/block").status_code == 200
    for who in (bob, alice):
        other = "alice" if who is bob else "bob"
        assert who.get(f"/api/users/{other}/posts").status_code == 404
    assert bob.get(f"/api/posts/{video_id}").status_code == 404
    assert bob.post(f"/api/posts/{video_id}/like").status_code == 404
    assert bob.get(f"/api/posts/{video_id}/video").status_code == 404
    assert carol.get(f"/api/posts/{video_id}").status_code == 200
    # Carol blocks Dave: his comment leaves her view of a thread, not Bob's.
    bob_post = site.finished_video(bob)
    post(bob, bob_post)
    carol.post(f"/api/posts/{bob_post}/comments", json={"body": "carol's"})
    site.sign_up("dave").post(f"/api/posts/{bob_post}/comments", json={"body": "dave's"})
    carol.post("/api/users/dave/block")
    for who, shown in ((carol, ["carol's"]), (bob, ["carol's", "dave's"])):
        thread = who.get(f"/api/posts/{bob_post}/comments").json()["data"]
        assert [c["body"] for c in thread] == shown


def test_profile_posts_newest_first_with_a_cursor(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    ids = [site.finished_video(alice, f"clip {n}") for n in range(3)]
    for n, video_id in enumerate(ids):
        post(alice, video_id)
        with site.state.factory() as db:  # distinct seconds, oldest first
            row = db.get(Post, video_id)
            assert row is not None
            row.posted_at = 1_700_000_000 + n
            db.commit()
    first = bob.get("/api/users/alice/posts", params={"limit": 2}).json()
    rest = bob.get("/api/users/alice/posts", params={"cursor": first["next_cursor"]}).json()
    assert [p["id"] for p in first["data"] + rest["data"]] == ids[::-1]
    assert rest["next_cursor"] is None
    assert error(bob.get("/api/users/nobody_here/posts"), 404)["param"] == "handle"
    bad = bob.get("/api/users/alice/posts", params={"cursor": "video_nope"})
    assert error(bad, 400)["param"] == "cursor"


def test_the_daily_quota_refuses_more_clips(make_app: Any) -> None:
    site = make_app(daily_generation_quota=2)
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    for n in range(2):
        assert alice.post("/api/videos", json={"prompt": f"a ball {n}"}).status_code == 200
    problem = error(alice.post("/api/videos", json={"prompt": "one more"}), 429)
    assert (problem["code"], problem["param"]) == ("quota_exceeded", "prompt")
    source = site.finished_video(bob)
    post(bob, source)
    assert error(alice.post(f"/api/posts/{source}/remix", json={"prompt": "x"}), 429)
    assert bob.post("/api/videos", json={"prompt": "my own"}).status_code == 200


def test_api_videos_are_drafts_and_v1_still_deletes_a_post(site: AppUnderTest) -> None:
    alice = site.sign_up("alice")
    auth = {"authorization": f"Bearer {site.api_key('alice')}"}
    client = site.anonymous()
    made = client.post("/v1/videos", headers=auth, json={"prompt": "a kite flies"})
    assert made.status_code == 200, made.text
    assert [v["id"] for v in alice.get("/api/drafts").json()["data"]] == [made.json()["id"]]
    posted = site.finished_video(alice)
    post(alice, posted)
    site.sign_up("bob").post(f"/api/posts/{posted}/like")
    assert client.delete(f"/v1/videos/{posted}", headers=auth).status_code == 200
    assert alice.get(f"/api/posts/{posted}").status_code == 404


def test_a_clip_may_start_from_an_image_sent_as_a_data_url(site: AppUnderTest) -> None:
    import base64
    import io

    from PIL import Image

    alice = site.sign_up("alice")
    png = io.BytesIO()
    Image.new("RGB", (72, 128), (200, 40, 40)).save(png, "PNG")
    url = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    made = alice.post("/api/videos", json={"prompt": "a red room", "input_reference": url})
    assert made.status_code == 200, made.text
    with site.state.factory() as db:
        video = db.get(Video, made.json()["id"])
        assert video is not None and video.input_reference_key
        assert site.state.storage.exists(video.input_reference_key)
    for bad in ("https://example.com/cat.png", "data:image/png;base64,@@@"):
        problem = error(
            alice.post("/api/videos", json={"prompt": "x", "input_reference": bad}), 400
        )
        assert problem["param"] == "input_reference"
    not_an_image = "data:image/png;base64," + base64.b64encode(b"hello").decode()
    problem = error(
        alice.post("/api/videos", json={"prompt": "x", "input_reference": not_an_image}), 422
    )
    assert problem["param"] == "input_reference"
