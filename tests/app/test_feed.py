"""The feeds through the real routes: For You's order follows its terms, its filters, the
exploration share, the per-creator cap, the cursor; Following's order and filters.

Posts are made directly as rows (Video + Post with a real MiniLM embedding), so a test
controls ages and counters exactly; viewers sign up through the real route."""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from tests.app.conftest import AppUnderTest, Browser
from tests.dit import benchmark_module

from reelforge.db.models import (
    Block,
    Follow,
    HiddenCreator,
    Like,
    Post,
    Report,
    SeeLess,
    User,
    Video,
    View,
)
from reelforge.social import feed
from reelforge.social.embedding import encode, post_text, to_blob


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    feed.reset_caches()
    yield
    feed.reset_caches()


def add(site: AppUnderTest, *rows: Any) -> None:
    with site.state.factory() as db:
        db.add_all(rows)
        db.commit()


def creator(site: AppUnderTest, handle: str, days_old: float = 100) -> str:
    user_id = f"user_{secrets.token_hex(8)}"
    add(site, User(id=user_id, name=handle, created_at=int(time.time() - days_old * 86400)))
    return user_id


def post(
    site: AppUnderTest,
    user_id: str,
    text: str,
    *,
    age_h: float = 1.0,
    likes: int = 0,
    comments: int = 0,
    remixes: int = 0,
    completed: int = 0,
    views: int = 0,
    posted: bool = True,
    removed: bool = False,
    posted_at: int | None = None,
) -> str:
    video_id = f"video_{secrets.token_hex(12)}"
    video = Video(
        id=video_id,
        user_id=user_id,
        status="completed",
        progress=100,
        model="sora-2",
        engine="sim",
        prompt=text,
        size="720x1280",
        seconds="4",
        seed=1,
        sequence=time.time_ns(),
    )
    row = Post(
        video_id=video_id,
        user_id=user_id,
        caption=text,
        posted=posted,
        removed=removed,
        posted_at=int(time.time() - age_h * 3600) if posted_at is None else posted_at,
        like_count=likes,
        comment_count=comments,
        remix_count=remixes,
        completed_count=completed,
        view_count=views,
        embedding=to_blob(encode([post_text(text, text)])[0]),
    )
    add(site, video)
    add(site, row)
    return video_id


def for_you(client: Any, **params: Any) -> dict[str, Any]:
    response = client.get("/api/feed/for-you", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    for item in body["data"]:
        why = item["why"]
        assert why["text"] and why["source"] in ("ranked", "exploration")
        assert [t["name"] for t in why["terms"]][:4] == [
            "freshness",
            "engagement",
            "interests",
            "trust",
        ]
        assert all(t["detail"] for t in why["terms"])
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]


def terms(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {term["name"]: term for term in item["why"]["terms"]}


# Order follows the terms ----------------------------------------------------------------


def test_a_fresh_post_beats_a_week_old_one(site: AppUnderTest) -> None:
    maker = creator(site, "maker")
    old = post(site, maker, "a red ball bounces on a wooden floor", age_h=7 * 24)
    new = post(site, maker, "a blue ball bounces on a wooden floor", age_h=1)
    body = for_you(site.anonymous())
    assert ids(body) == [new, old]
    first, second = body["data"]
    assert terms(first)["freshness"]["detail"] == "posted 1 h ago"
    assert terms(second)["freshness"]["detail"] == "posted 7 days ago"
    assert terms(first)["freshness"]["value"] == pytest.approx(0.5 ** (1 / 24), abs=0.01)
    assert first["why"]["score"] > second["why"]["score"]


def test_likes_raise_engagement(site: AppUnderTest) -> None:
    maker = creator(site, "maker")
    quiet = post(site, maker, "a kite flies over a beach", age_h=5)
    loved = post(site, maker, "a kite flies over a field", age_h=5, likes=30, remixes=2)
    body = for_you(site.anonymous())
    assert ids(body) == [loved, quiet]
    loved_terms, quiet_terms = terms(body["data"][0]), terms(body["data"][1])
    assert loved_terms["engagement"]["value"] > 0.5 > quiet_terms["engagement"]["value"] == 0
    assert loved_terms["engagement"]["detail"] == "30 likes, 0 comments, 2 remixes, 0 full views"
    assert "engagement" in body["data"][0]["why"]["text"]


def test_interests_follow_what_the_viewer_liked(site: AppUnderTest) -> None:
    viewer = site.sign_up("viewer")
    maker = creator(site, "maker")
    liked = post(site, maker, "a cat sleeps on a sofa", age_h=30)
    add(site, Like(user_id=viewer.user_id, video_id=liked))
    add(site, View(user_id=viewer.user_id, video_id=liked, completed=True))
    car = post(site, maker, "a red sports car drives down a highway", age_h=3)
    cat = post(site, maker, "a kitten chases a ball of yarn", age_h=3)
    body = for_you(viewer)
    assert ids(body) == [cat, car]  # the liked one is seen, so it is not offered again
    cat_interest, car_interest = terms(body["data"][0]), terms(body["data"][1])
    assert cat_interest["interests"]["value"] > car_interest["interests"]["value"] + 0.1
    assert cat_interest["interests"]["detail"] == "like 'a cat sleeps on a sofa', which you liked"
    # anonymously nobody's interests count
    anonymous = for_you(site.anonymous())
    assert {terms(item)["interests"]["value"] for item in anonymous["data"]} == {0.0}


def test_see_less_counts_against_similar_posts(site: AppUnderTest) -> None:
    keen, wary = site.sign_up("keen"), site.sign_up("wary")
    maker = creator(site, "maker")
    liked = post(site, creator(site, "other"), "animals play outside in the sun", age_h=40)
    less = post(site, creator(site, "third"), "a dog runs on a beach", age_h=40)
    for person in (keen, wary):
        add(site, Like(user_id=person.user_id, video_id=liked))
    add(site, SeeLess(user_id=wary.user_id, video_id=less))
    dog = post(site, maker, "a puppy plays in the sand by the sea")

    def interest(person: Browser) -> float:
        body = for_you(person)
        assert (less in ids(body)) is (person is keen)
        return float(next(terms(i) for i in body["data"] if i["id"] == dog)["interests"]["value"])

    assert interest(wary) < interest(keen) - 0.1


def test_steering_ranks_cooking_above_sports_and_says_why(
    site: AppUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = site.sign_up("viewer")
    saved = viewer.put("/api/me/settings", json={"steering": "more cooking, no sports"})
    assert saved.status_code == 200, saved.text
    with site.state.factory() as db:
        user = db.get(User, viewer.user_id)
        assert user is not None and user.steering_vectors is not None
        assert len(user.steering_vectors) == 2 * 384 * 4  # one per phrase, made on saving

    def no_encoder(texts: Any) -> Any:
        raise AssertionError("the feed ran the sentence encoder on a request")

    monkeypatch.setattr(feed, "encode", no_encoder)
    feed.reset_caches()
    maker = creator(site, "maker")
    # the sports post is fresher and busier: steering alone must turn the order round
    sports = post(site, maker, "football players score a goal in a stadium", age_h=1, likes=3)
    cooking = post(site, maker, "a chef cooks pasta in a kitchen", age_h=3)
    body = for_you(viewer)
    assert ids(body) == [cooking, sports]
    cooking_steer, sports_steer = terms(body["data"][0]), terms(body["data"][1])
    assert cooking_steer["steering"]["detail"] == "matches 'more cooking'"
    assert cooking_steer["steering"]["value"] > 0 > sports_steer["steering"]["value"]
    assert sports_steer["steering"]["detail"] == "against 'no sports'"
    assert "steering held it back (against 'no sports')" in body["data"][1]["why"]["text"]
    # without the steering text the busier, fresher sports post leads
    assert ids(for_you(site.anonymous())) == [sports, cooking]


@pytest.mark.parametrize(
    ("text", "positive", "negative"),
    [
        ("more cats and cooking, no sports", ["more cats", "cooking"], ["no sports"]),
        ("no sports or politics but more dogs", ["more dogs"], ["no sports", "politics"]),
        ("less news; fewer ads, trains", ["trains"], ["less news", "fewer ads"]),
        ("cats and no dogs", ["cats"], ["no dogs"]),
        ("stop showing me horror. Without gore", [], ["stop showing me horror", "Without gore"]),
        ("", [], []),
    ],
)
def test_steering_text_splits_into_positive_and_negative_phrases(
    text: str, positive: list[str], negative: list[str]
) -> None:
    assert feed.split_steering(text) == (positive, negative)


def test_upheld_reports_lower_a_creators_trust(site: AppUnderTest) -> None:
    honest = creator(site, "honest", days_old=40)
    reported = creator(site, "reported", days_old=40)
    fine = post(site, honest, "a sailboat on a calm lake")
    flagged = post(site, reported, "a sailboat on a calm sea")
    taken_down = post(site, reported, "an old post", removed=True)
    reporter = creator(site, "reporter")
    add(
        site,
        Report(
            id="report_1",
            reporter_id=reporter,
            target_type="post",
            target_id=taken_down,
            reason="harmful",
            status="upheld",
        ),
    )
    body = for_you(site.anonymous())
    by_id = {item["id"]: terms(item)["trust"] for item in body["data"]}
    assert by_id[fine]["detail"] == "account 40 days old, no upheld reports"
    assert by_id[flagged]["detail"] == "account 40 days old, 1 upheld report"
    assert by_id[flagged]["value"] == pytest.approx(by_id[fine]["value"] / 2, rel=1e-3)
    assert ids(body) == [fine, flagged]


# Filters --------------------------------------------------------------------------------

FILTERS = ["seen", "blocked", "blocked_me", "hidden", "see_less", "removed", "unposted", "own"]


@pytest.mark.parametrize("kind", FILTERS)
def test_for_you_leaves_out(site: AppUnderTest, kind: str) -> None:
    viewer = site.sign_up("viewer")
    other = creator(site, "other")
    shown = post(site, creator(site, "control"), "a bird sings on a branch", age_h=5)
    owner = viewer.user_id if kind == "own" else other
    hidden = post(
        site,
        owner,
        "a bird sings on a wire",
        likes=50,  # it would lead the page were it not filtered
        removed=kind == "removed",
        posted=kind != "unposted",
    )
    extra = {
        "seen": View(user_id=viewer.user_id, video_id=hidden, watched_ms=500),
        "blocked": Block(user_id=viewer.user_id, blocked_id=other),
        "blocked_me": Block(user_id=other, blocked_id=viewer.user_id),
        "hidden": HiddenCreator(user_id=viewer.user_id, creator_id=other),
        "see_less": SeeLess(user_id=viewer.user_id, video_id=hidden),
    }.get(kind)
    if extra is not None:
        add(site, extra)
    assert ids(for_you(viewer)) == [shown]
    if kind in ("removed", "unposted"):
        assert ids(for_you(site.anonymous())) == [shown]


def test_a_new_post_shows_at_once_and_a_taken_down_one_goes_at_once(site: AppUnderTest) -> None:
    maker = creator(site, "maker")
    first = post(site, maker, "a train crosses a bridge", age_h=2)
    anonymous = site.anonymous()
    assert ids(for_you(anonymous)) == [first]
    second = post(site, creator(site, "newcomer"), "a tram crosses a square", age_h=0)
    assert ids(for_you(anonymous)) == [second, first]  # the window saw a newer post
    with site.state.factory() as db:
        row = db.get(Post, first)
        assert row is not None
        row.removed = True
        db.commit()
    assert ids(for_you(anonymous)) == [second]  # the window is cached; the page is not


# The page -------------------------------------------------------------------------------


def test_exploration_fills_three_of_ten_slots_with_fresh_unseen_posts(
    site: AppUnderTest,
) -> None:
    popular = []
    for n in range(10):
        maker = creator(site, f"star{n}")
        popular += [
            post(site, maker, f"popular clip {n} {k}", age_h=10, likes=40, views=500)
            for k in range(2)
        ]
    fresh = [
        post(site, creator(site, f"new{n}"), f"brand new clip {n}", age_h=1, views=0)
        for n in range(6)
    ]
    body = for_you(site.anonymous())
    sources = [item["why"]["source"] for item in body["data"]]
    assert [i for i, s in enumerate(sources) if s == "exploration"] == [2, 5, 8]
    explored = [body["data"][i]["id"] for i in (2, 5, 8)]
    assert set(explored) <= set(fresh)
    assert {body["data"][i]["id"] for i in (0, 1, 3, 4, 6, 7, 9)} <= set(popular)
    assert body["data"][2]["why"]["text"].startswith("Exploration: a new post")
    # the same state gives the same page
    assert ids(for_you(site.anonymous())) == ids(body)


def test_at_most_two_items_of_one_creator_per_page(site: AppUnderTest) -> None:
    prolific = creator(site, "prolific")
    theirs = [post(site, prolific, f"prolific clip {n}", likes=100) for n in range(8)]
    others = [post(site, creator(site, f"other{n}"), f"quiet clip {n}") for n in range(10)]
    client = site.anonymous()
    first = for_you(client)
    counts = Counter(item["creator"]["handle"] for item in first["data"])
    assert counts["prolific"] == 2 and len(first["data"]) == 10
    served, cursor = ids(first), first["next_cursor"]
    while cursor:  # the tail is only the prolific creator's: pages of two, none skipped
        page = for_you(client, cursor=cursor)
        assert Counter(item["creator"]["handle"] for item in page["data"])["prolific"] <= 2
        served, cursor = served + ids(page), page["next_cursor"]
    assert sorted(served) == sorted(theirs + others)


def test_pages_never_repeat_or_skip_even_as_the_viewer_watches(site: AppUnderTest) -> None:
    viewer = site.sign_up("viewer")
    makers = [creator(site, f"maker{n}") for n in range(12)]
    everything = {
        post(site, makers[n % 12], f"clip number {n}", age_h=n / 2, likes=n % 7, views=n * 3)
        for n in range(45)
    }
    served: list[str] = []
    cursor = None
    for _ in range(20):
        body = for_you(viewer, **({"cursor": cursor} if cursor else {}))
        served += ids(body)
        if body["data"]:  # watching changes the seen filter between pages
            add(site, View(user_id=viewer.user_id, video_id=body["data"][0]["id"]))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert len(served) == len(set(served))
    assert set(served) == everything


def test_limit_and_cursor_are_checked(site: AppUnderTest) -> None:
    client = site.anonymous()
    for bad in ("not a cursor!", "AQID", "Ag" + "A" * 10):
        response = client.get("/api/feed/for-you", params={"cursor": bad})
        assert response.status_code == 400, bad
        assert response.json()["error"]["param"] == "cursor"
    for limit in (0, 31, "ten"):
        response = client.get("/api/feed/for-you", params={"limit": limit})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "limit"
    viewer = site.sign_up("viewer")
    response = viewer.get("/api/feed/following", params={"cursor": "@@@"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "cursor"
    assert client.get("/api/feed/following").status_code == 401


def test_anonymous_for_you_has_no_personal_terms(site: AppUnderTest) -> None:
    maker = creator(site, "maker")
    made = [post(site, maker, f"a lighthouse at night {n}") for n in range(3)]
    body = for_you(site.anonymous(), limit=2)
    assert len(body["data"]) == 2 and body["next_cursor"]
    item_terms = terms(body["data"][0])
    assert "steering" not in item_terms
    assert item_terms["interests"]["detail"] == "not signed in: no personal interests"
    rest = for_you(site.anonymous(), cursor=body["next_cursor"])
    assert set(ids(body) + ids(rest)) == set(made) and rest["next_cursor"] is None


# Following ------------------------------------------------------------------------------


def test_following_is_newest_first_from_followed_people_only(site: AppUnderTest) -> None:
    viewer = site.sign_up("viewer")
    alice, bob, carol = (creator(site, name) for name in ("alice", "bob", "carol"))
    add(
        site,
        Follow(follower_id=viewer.user_id, followee_id=alice),
        Follow(follower_id=viewer.user_id, followee_id=bob),
    )
    a_old = post(site, alice, "alice old", age_h=30)
    a_new = post(site, alice, "alice new", age_h=1)
    b_mid = post(site, bob, "bob mid", age_h=5)
    ten_hours_ago = int(time.time()) - 36_000
    same_time = [post(site, bob, f"bob twin {n}", posted_at=ten_hours_ago) for n in range(3)]
    post(site, carol, "carol, not followed", age_h=0)
    post(site, alice, "alice removed", removed=True)
    post(site, alice, "alice unposted", posted=False)
    expected = [a_new, b_mid, *sorted(same_time, reverse=True), a_old]
    pages, cursor = [], None
    while True:
        response = viewer.get(
            "/api/feed/following", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(ids(body))
        for item in body["data"]:
            assert item["why"]["source"] == "following"
            assert item["why"]["text"].startswith("From someone you follow")
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [i for page in pages for i in page] == expected
    assert [len(page) for page in pages] == [2, 2, 2]
    # blocking either way removes the person from Following
    add(site, Block(user_id=bob, blocked_id=viewer.user_id))
    body = viewer.get("/api/feed/following").json()
    assert ids(body) == [a_new, a_old]


def test_followed_creators_old_posts_are_for_you_candidates(
    site: AppUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = site.sign_up("viewer")
    friend = creator(site, "friend")
    add(site, Follow(follower_id=viewer.user_id, followee_id=friend))
    stranger = creator(site, "stranger")
    old = post(site, friend, "a friend's old clip", age_h=24 * 5)
    newer = [post(site, stranger, f"stranger clip {n}", age_h=n) for n in range(3)]
    monkeypatch.setattr(feed, "WINDOW_SIZE", 2)  # the friend's clip is outside the window
    seen = set(ids(for_you(viewer, limit=30)))
    assert old in seen and len(seen & set(newer)) == 2
    assert old not in set(ids(for_you(site.anonymous(), limit=30)))


def test_the_benchmark_runs_small() -> None:
    """benchmarks/feed.py --small end to end (PostgreSQL too when
    REELFORGE_TEST_DATABASE_URL is set): every page is full and every figure is there."""
    bench = benchmark_module("feed")
    results = bench.main(["--small", "--no-write", "--requests", "30", "--cold", "5"])
    assert results["size"]["posts"] == 10_000
    expected = (
        {"sqlite", "postgresql"} if os.environ.get("REELFORGE_TEST_DATABASE_URL") else {"sqlite"}
    )
    assert set(results["backends"]) == expected
    for by_feed in results["backends"].values():
        for name in ("for_you", "following"):
            for phase, numbers in by_feed[name].items():
                assert numbers["n"] == (30 if phase == "warm" else 5)
                assert 0 < numbers["p50_ms"] <= numbers["p99_ms"] <= numbers["max_ms"]
                assert numbers["mean_items"] >= 9.5, (name, phase, numbers)
