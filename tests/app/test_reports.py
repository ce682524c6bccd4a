"""Reports and moderation through the real /api/ routes: filing, the thread, the queue,
upholding (the target is taken down everywhere), dismissing, and the audit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tests.app.conftest import AppUnderTest, Browser

from reelforge.db.models import ModerationAudit, Notification, Post, User, Video
from reelforge.social.reports import REPORTS_PER_HOUR


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    problem: dict[str, Any] = response.json()["error"]
    return problem


def posted(site: AppUnderTest, person: Browser, **choice: Any) -> str:
    video_id = site.finished_video(person)
    response = person.post(f"/api/videos/{video_id}/post", json=choice)
    assert response.status_code == 200, response.text
    return video_id


def report(person: Browser, target_type: str, target_id: str, **extra: Any) -> Any:
    body = {"target_type": target_type, "target_id": target_id, "reason": "harmful", **extra}
    return person.post("/api/reports", json=body)


def notes(site: AppUnderTest, user_id: str) -> list[Notification]:
    with site.state.factory() as db:
        return list(
            db.scalars(
                select(Notification)
                .where(Notification.user_id == user_id, Notification.type == "report")
                .order_by(Notification.id)
            )
        )


def test_a_report_is_discussed_upheld_and_the_post_is_gone_everywhere(
    site: AppUnderTest,
) -> None:
    alice, bob, carol = site.sign_up("alice"), site.sign_up("bob"), site.sign_up("carol")
    moderator = site.sign_up("mod", role="moderator")
    video_id = posted(site, alice)
    remix = site.finished_video(carol)  # Carol's remix of Alice's post
    with site.state.factory() as db:
        row = db.get(Video, remix)
        assert row is not None
        row.remixed_from_video_id = video_id
        db.commit()
    carol.post(f"/api/videos/{remix}/post", json={})

    # 1. Filing: the target must exist and be someone else's; one open report each.
    filed = report(bob, "post", video_id, reason="likeness", details="this is me <b>!</b>")
    assert filed.status_code == 200, filed.text
    opened = filed.json()
    assert (opened["status"], opened["reporter"]["handle"]) == ("open", "bob")
    assert opened["details"] == "this is me <b>!</b>"
    assert error(report(bob, "post", video_id), 409)["code"] == "duplicate_report"
    assert error(report(bob, "post", "video_nope"), 404)["param"] == "target_id"
    assert error(report(alice, "post", video_id), 400)["code"] == "own_content"
    bad_reason = report(bob, "post", video_id, reason="boring")
    assert error(bad_reason, 400)["param"] == "reason"

    # 2. Who sees it, and the thread.
    report_id = opened["id"]
    assert carol.get(f"/api/reports/{report_id}").status_code == 404
    assert [r["id"] for r in bob.get("/api/reports").json()["data"]] == [report_id]
    assert carol.get("/api/reports").json()["data"] == []
    queue = moderator.get("/api/reports", params={"status": "open"}).json()["data"]
    assert [r["id"] for r in queue] == [report_id]
    asked = moderator.post(f"/api/reports/{report_id}/messages", json={"body": "Is it you?"})
    assert asked.status_code == 200, asked.text
    answered = bob.post(f"/api/reports/{report_id}/messages", json={"body": "<i>yes</i>"})
    thread = answered.json()["messages"]
    assert [(m["author"]["handle"], m["body"]) for m in thread] == [
        ("mod", "Is it you?"),
        ("bob", "<i>yes</i>"),
    ]
    assert (
        carol.post(f"/api/reports/{report_id}/messages", json={"body": "me too"}).status_code == 404
    )
    assert [n.report_id for n in notes(site, bob.user_id)] == [report_id]
    assert [n.report_id for n in notes(site, moderator.user_id)] == [report_id]

    # 3. Upheld: gone from the post, its media, the profile and the remix's chain.
    resolved = moderator.post(
        f"/api/reports/{report_id}/resolve", json={"outcome": "upheld", "note": "her face"}
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "upheld" and resolved.json()["resolved_at"]
    for who in (bob, carol, alice, site.anonymous()):
        assert who.get(f"/api/posts/{video_id}").status_code == 404
        assert who.get(f"/api/posts/{video_id}/video").status_code == 404
        assert who.get("/api/users/alice/posts").json()["data"] == []
    assert moderator.get(f"/api/posts/{video_id}").status_code == 200  # to judge it
    chain = bob.get(f"/api/posts/{remix}").json()["remix"]
    assert chain["parent"] == {"id": video_id, "handle": None, "removed": True}
    again = alice.post(f"/api/videos/{video_id}/post", json={})
    assert error(again, 409)["code"] == "removed"
    assert (
        error(
            moderator.post(f"/api/reports/{report_id}/resolve", json={"outcome": "dismissed"}), 409
        )["code"]
        == "already_resolved"
    )

    outcome = notes(site, bob.user_id)[-1]
    assert "upheld" in outcome.text and outcome.report_id == report_id
    assert [n.report_id for n in notes(site, alice.user_id)] == [report_id]
    audit = moderator.get("/api/moderation/audit").json()["data"]
    assert [(a["moderator"], a["action"], a["target_id"], a["note"]) for a in audit] == [
        ("mod", "uphold", video_id, "her face")
    ]
    queue = moderator.get("/api/reports").json()["data"]
    assert [r["status"] for r in queue] == ["upheld"]


def test_moderator_routes_refuse_everyone_else(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    video_id = posted(site, alice)
    report_id = report(bob, "post", video_id).json()["id"]
    for who in (alice, bob):
        refused = who.post(f"/api/reports/{report_id}/resolve", json={"outcome": "upheld"})
        assert error(refused, 403)["code"] == "not_a_moderator"
        assert error(who.get("/api/moderation/audit"), 403)["code"] == "not_a_moderator"
    assert alice.get(f"/api/posts/{video_id}").status_code == 200
    assert site.anonymous().get("/api/reports").status_code == 401


def test_a_dismissed_report_changes_nothing_but_is_audited(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    admin = site.sign_up("root", role="admin")
    video_id = posted(site, alice)
    report_id = report(bob, "post", video_id, reason="spam").json()["id"]
    done = admin.post(f"/api/reports/{report_id}/resolve", json={"outcome": "dismissed"})
    assert done.json()["status"] == "dismissed"
    assert bob.get(f"/api/posts/{video_id}").status_code == 200
    assert "dismissed" in notes(site, bob.user_id)[-1].text
    assert notes(site, alice.user_id) == []
    with site.state.factory() as db:
        assert [a.action for a in db.scalars(select(ModerationAudit))] == ["dismiss"]
    assert report(bob, "post", video_id).status_code == 200  # a new report may be filed


def test_an_upheld_comment_report_removes_the_comment(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    moderator = site.sign_up("mod", role="moderator")
    video_id = posted(site, alice)
    rude = bob.post(f"/api/posts/{video_id}/comments", json={"body": "rude"}).json()
    bob.post(f"/api/posts/{video_id}/comments", json={"body": "kind"})
    report_id = report(alice, "comment", rude["id"], reason="harassment").json()["id"]
    moderator.post(f"/api/reports/{report_id}/resolve", json={"outcome": "upheld"})
    thread = alice.get(f"/api/posts/{video_id}/comments").json()["data"]
    assert [c["body"] for c in thread] == ["kind"]
    assert alice.get(f"/api/posts/{video_id}").json()["counts"]["comments"] == 1
    assert "taken down" in notes(site, bob.user_id)[-1].text
    assert error(report(alice, "comment", rude["id"]), 404)["param"] == "target_id"


def test_an_upheld_profile_report_suspends_and_removes_every_post(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    moderator = site.sign_up("mod", role="moderator")
    videos = [posted(site, alice), posted(site, alice)]
    report_id = report(bob, "profile", "alice", reason="harassment").json()["id"]
    assert error(report(bob, "profile", "nobody_here"), 404)["param"] == "target_id"
    moderator.post(f"/api/reports/{report_id}/resolve", json={"outcome": "upheld"})
    with site.state.factory() as db:
        user = db.get(User, alice.user_id)
        assert user is not None and user.suspended
        assert all(p.removed for p in db.scalars(select(Post).where(Post.video_id.in_(videos))))
    assert alice.get("/api/drafts").status_code == 401  # her session no longer works
    assert bob.get("/api/users/alice/posts").status_code == 404
    for video_id in videos:
        assert bob.get(f"/api/posts/{video_id}").status_code == 404


def test_reports_are_rate_limited(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    video_id = posted(site, alice)
    comments = [
        alice.post(f"/api/posts/{video_id}/comments", json={"body": f"c{n}"}).json()["id"]
        for n in range(REPORTS_PER_HOUR + 1)
    ]
    for comment_id in comments[:REPORTS_PER_HOUR]:
        assert report(bob, "comment", comment_id).status_code == 200
    flood = report(bob, "comment", comments[-1])
    assert error(flood, 429)["code"] == "rate_limit_exceeded"
    assert report(site.sign_up("carol"), "comment", comments[-1]).status_code == 200


def test_the_queue_pages_open_reports_first(site: AppUnderTest) -> None:
    alice, bob = site.sign_up("alice"), site.sign_up("bob")
    moderator = site.sign_up("mod", role="moderator")
    first, second, third = (posted(site, alice) for _ in range(3))
    ids = [report(bob, "post", v).json()["id"] for v in (first, second, third)]
    moderator.post(f"/api/reports/{ids[2]}/resolve", json={"outcome": "dismissed"})
    page = moderator.get("/api/reports", params={"limit": 2}).json()
    rest = moderator.get("/api/reports", params={"cursor": page["next_cursor"]}).json()
    assert [r["id"] for r in page["data"] + rest["data"]] == [ids[1], ids[0], ids[2]]
    assert (
        error(moderator.get("/api/reports", params={"status": "closed"}), 400)["param"] == "status"
    )
