"""The cameos page's webhook field in a real browser, against a real `reelforge serve`: the
owner saves an address, sees the secret once, sends a test event that a real receiver on
127.0.0.1 gets signed with that secret, and sees a bad address refused beside the field.
A character cameo stands in for a verified one (the same settings form, no camera)."""

from __future__ import annotations

import shutil

import pytest
from tests.app.test_cameo_webhooks import Receiver, receiver
from tests.e2e.test_cameo_onboarding import Person, Server, server

sync_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect, sync_playwright  # noqa: E402

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (bin/setup installs it)"
)

DELIVERED = "Test event delivered: the receiver answered HTTP 200"

# The fixtures this file shares: a real server, and a real webhook receiver.
server, receiver = server, receiver


def test_the_owner_sets_a_webhook_sees_its_secret_once_and_sends_a_test_event(
    server: Server, receiver: Receiver
) -> None:
    owner = Person(server, "wendy")
    owner.post("/api/cameos/characters", {"handle": "wendys_owl", "display_name": "Hoot"})

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context()
        context.set_default_timeout(20_000)
        context.add_cookies([{"name": "rf_session", "value": owner.cookie, "url": server.url}])
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(f"{server.url}/cameos")
        card = page.locator('section.cameo[data-handle="wendys_owl"]')

        # 1. A bad address: refused, the reason beside the field.
        card.get_by_label("Webhook URL").fill("ftp://example.com/hook")
        card.get_by_role("button", name="Save settings").click()
        expect(card.locator('[data-error-for="webhook_url"]')).to_contain_text("http://")

        # 2. A good one: saved, its secret shown once.
        card.get_by_label("Webhook URL").fill(receiver.url)
        card.get_by_role("button", name="Save settings").click()
        expect(page.locator("#toast")).to_have_text("Cameo settings saved.")
        expect(card.locator(".webhook-secret")).to_contain_text("shown once")
        secret = card.get_by_label("Webhook secret").input_value()
        assert secret.startswith("whsec_")

        # 3. The test event, signed with the secret the page showed.
        card.get_by_role("button", name="Send test event").click()
        expect(card.locator(".webhook-result")).to_contain_text(DELIVERED)
        got = receiver.quiet_then(1)[0]
        assert got.event["type"] == "cameo.test" and got.signed_by(secret)

        # 4. Read back: the address, and no secret.
        page.reload()
        card = page.locator('section.cameo[data-handle="wendys_owl"]')
        expect(card.get_by_label("Webhook URL")).to_have_value(receiver.url)
        expect(card.get_by_role("button", name="New secret")).to_be_visible()
        assert card.get_by_label("Webhook secret").count() == 0
        assert owner.get("/api/cameos/wendys_owl")["webhook_secret_set"] is True

        # 5. A new secret, shown once, signs from then on.
        card.get_by_role("button", name="New secret").click()
        expect(card.locator(".webhook-secret")).to_contain_text("shown once")
        rotated = card.get_by_label("Webhook secret").input_value()
        assert rotated.startswith("whsec_") and rotated != secret
        card.get_by_role("button", name="Send test event").click()
        expect(card.locator(".webhook-result")).to_contain_text(DELIVERED)
        latest = receiver.quiet_then(2)[1]
        assert latest.signed_by(rotated) and not latest.signed_by(secret)
        browser.close()
