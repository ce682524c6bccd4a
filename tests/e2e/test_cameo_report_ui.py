"""The cameos page's review of someone else's draft in a real browser, against a real
`reelforge serve`: a cameo's owner sees the draft that casts it, watches it (the draft
plays for them, and for nobody else), and reports it; the report reaches the moderators'
queue and the cameo's consent log. A character cameo stands in for a verified one (the
same list of videos, no camera)."""

from __future__ import annotations

import shutil
import time

import pytest
from tests.e2e.test_cameo_onboarding import Person, Server, server

sync_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (bin/setup installs it)"
)
MAKE_S = 240  # a 4 s sim clip takes ~20 s of CPU; generous for a busy 2-core machine

server = server  # the fixture this file shares: a real server, SQLite and PostgreSQL + Redis


def finished(person: Person, video_id: str) -> None:
    deadline = time.monotonic() + MAKE_S
    while (status := person.get(f"/api/videos/{video_id}")["status"]) in ("queued", "in_progress"):
        assert time.monotonic() < deadline, f"video {video_id} still {status}"
        time.sleep(0.5)
    assert status == "completed"


def test_the_owner_watches_and_reports_someone_elses_draft(server: Server) -> None:
    owner, caster, stranger = (Person(server, h) for h in ("olga", "pavel", "quinn"))
    owner.post("/api/cameos/characters", {"handle": "olgas_cat", "display_name": "Mitten"})
    assert owner.http.patch(
        "/api/cameos/olgas_cat", json={"access": "everyone"}, headers={"x-csrf-token": owner.csrf}
    ).is_success
    draft = caster.post(
        "/api/videos", {"prompt": "@olgas_cat knocks a cup off a table", "seconds": "4"}
    )["id"]
    finished(caster, draft)
    assert owner.http.get(f"/api/posts/{draft}/video").status_code == 200
    assert stranger.http.get(f"/api/posts/{draft}/video").status_code == 404

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context()
        context.set_default_timeout(20_000)
        context.add_cookies([{"name": "rf_session", "value": owner.cookie, "url": server.url}])
        page = context.new_page()
        page.goto(f"{server.url}/cameos")
        row = page.locator(f'section.cameo[data-handle="olgas_cat"] tr[data-video-id="{draft}"]')
        expect(row).to_contain_text("@pavel")
        expect(row).to_contain_text("knocks a cup off a table")

        # Watch: the draft plays in a dialog.
        row.get_by_role("button", name="Watch").click()
        dialog = page.get_by_role("dialog", name="@pavel's video")
        clip = dialog.locator("video.review-clip")
        page.wait_for_function(
            "v => v.readyState >= 1 && v.duration > 3", arg=clip.element_handle()
        )
        dialog.get_by_role("button", name="Close").click()

        # Report it: the reason defaults to "this is me"; the log shows the report.
        row.get_by_role("button", name="Report").click()
        report = page.get_by_role("dialog", name="Report @pavel's video")
        expect(report.get_by_label("Reason")).to_have_value("likeness")
        report.get_by_label("Details (optional)").fill("My cat never did this.")
        report.get_by_role("button", name="Send report").click()
        expect(page.locator("#toast")).to_have_text("Report sent. A moderator will look at it.")
        newest = page.locator('section.cameo[data-handle="olgas_cat"] .cameo-log tbody tr').first
        expect(newest.locator("td").nth(2)).to_have_text("report")
        expect(newest).to_contain_text("likeness")
        browser.close()

    mine = owner.get("/api/reports")["data"]
    assert [(r["target_type"], r["target_id"], r["reason"], r["details"]) for r in mine] == [
        ("video", draft, "likeness", "My cat never did this.")
    ]
    assert mine[0]["target_summary"] == 'by @pavel: "@olgas_cat knocks a cup off a table"'
    again = owner.http.post(
        "/api/reports",
        json={"target_type": "video", "target_id": draft, "reason": "likeness"},
        headers={"x-csrf-token": owner.csrf},
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_report"
