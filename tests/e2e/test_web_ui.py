"""The web UI end to end: a real `reelforge serve` on a local port, driven by Playwright
through Debian's Chromium (headless) — the issue's "done when" walked by people in
browsers: two sign up, one makes a clip and posts it, the other finds it in For You with
its why, likes, comments, remixes and reports it, a moderator upholds, and it is gone;
a feed swiped by touch and keyboard; the provenance badge; a `<script>` comment shown as
text; /docs offline; no request to any other host; page weight and time to first video.

Clips come from the sim engine (4 s, 720x1280), made through the same API the UI uses.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.servers import free_port

sync_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    ViewportSize,
    expect,
    sync_playwright,
)

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (bin/setup installs it)"
)

PASSWORD = "correct horse battery"
PHONE: ViewportSize = {"width": 390, "height": 844}
GENERATE_S = 120  # a 4 s sim clip takes a few seconds; generous for a busy 2-core machine
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[str]

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "reelforge.cli", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("web-ui")
    port = free_port()
    env = {
        **os.environ,
        "REELFORGE_DATA_DIR": str(data),
        "REELFORGE_QUEUE_NAME": f"reelforge-web-{port}",
        "REELFORGE_RATE_LIMIT_PER_MINUTE": "6000",
        "REELFORGE_VERIFY_RATE_LIMIT_PER_MINUTE": "6000",
        "REELFORGE_SIGNUP_PER_HOUR": "1000",
        "REELFORGE_LOGIN_PER_MINUTE": "1000",
    }
    for name in ("REELFORGE_DATABASE_URL", "REELFORGE_QUEUE_URL", "REELFORGE_REDIS_URL"):
        env.pop(name, None)  # the embedded default: SQLite, one process
    log = (data / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "reelforge.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"server did not start: {(data / 'server.log').read_text()}")
        time.sleep(0.1)
    yield Server(url, env, process)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


# People through the API (to seed), and in browsers ------------------------------------


class ApiPerson:
    """Someone calling the API as the web UI does (the session cookie and the CSRF
    token): to seed posts and to check what the pages did."""

    def __init__(self, http: httpx.Client, handle: str) -> None:
        self.http, self.handle = http, handle
        self.csrf = http.get("/api/session").json()["csrf_token"]
        self.cookie = http.cookies["rf_session"]

    @classmethod
    def sign_up(cls, server: Server, handle: str) -> ApiPerson:
        http = httpx.Client(base_url=server.url, timeout=60)
        made = http.post("/api/signup", json={"handle": handle, "password": PASSWORD})
        assert made.status_code in (200, 201), made.text
        return cls(http, handle)

    @classmethod
    def of_browser(cls, server: Server, context: BrowserContext, handle: str) -> ApiPerson:
        cookie = next(c["value"] for c in context.cookies() if c["name"] == "rf_session")
        http = httpx.Client(base_url=server.url, cookies={"rf_session": cookie}, timeout=60)
        return cls(http, handle)

    def call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, path, headers={"x-csrf-token": self.csrf}, **kw)
        assert response.status_code < 400, f"{method} {path}: {response.text}"
        return response.json()

    def make_posts(self, prompts: list[str]) -> list[str]:
        """Clips generated by the server's worker, then posted; their ids, oldest first."""
        ids = [
            self.call("POST", "/api/videos", json={"prompt": p, "seconds": "4"})["id"]
            for p in prompts
        ]
        for video_id in ids:
            wait_completed(self, video_id)
        for video_id, prompt in zip(ids, prompts, strict=True):
            self.call("POST", f"/api/videos/{video_id}/post", json={"caption": prompt})
        return ids


def wait_completed(person: ApiPerson, video_id: str) -> None:
    deadline = time.monotonic() + GENERATE_S
    while time.monotonic() < deadline:
        status = person.call("GET", f"/api/videos/{video_id}")["status"]
        if status == "completed":
            return
        assert status != "failed"
        time.sleep(0.2)
    raise AssertionError(f"{video_id} did not finish in {GENERATE_S} s")


@dataclass
class HostLog:
    """Every request a page made, by host; anything not this server's is refused."""

    allowed: str
    seen: dict[str, int] = field(default_factory=dict)

    def route(self, route: Route) -> None:
        host = urlsplit(route.request.url).netloc or urlsplit(route.request.url).scheme
        self.seen[host] = self.seen.get(host, 0) + 1
        if host in (self.allowed, "data", "blob"):
            route.continue_()
        else:
            route.abort()

    @property
    def foreign(self) -> list[str]:
        return sorted(set(self.seen) - {self.allowed, "data", "blob"})


@pytest.fixture(scope="module")
def playwright_() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright_: Playwright) -> Iterator[Browser]:
    chromium = playwright_.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def hosts(server: Server) -> HostLog:
    return HostLog(urlsplit(server.url).netloc)


@pytest.fixture
def new_phone(browser: Browser, hosts: HostLog) -> Iterator[Any]:
    """new_phone(): a fresh phone-sized, touch-enabled browser context (its own cookies)."""
    made: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
        context.route("**/*", hosts.route)
        context.set_default_timeout(15_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def signed_in_page(context: BrowserContext, server: Server, person: ApiPerson) -> Page:
    context.add_cookies([{"name": "rf_session", "value": person.cookie, "url": server.url}])
    return context.new_page()


def sign_up_in_browser(context: BrowserContext, server: Server, handle: str) -> Page:
    page = context.new_page()
    page.goto(f"{server.url}/signup")
    page.get_by_label("Handle").fill(handle)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(nav(page, "Profile")).to_be_visible()
    expect(page).to_have_url(f"{server.url}/")
    return page


def nav(page: Page, name: str | re.Pattern[str]) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


def item(page: Page, post_id: str) -> Any:
    return page.locator(f'article.item[data-post-id="{post_id}"]')


def record_progress(page: Page) -> None:
    """From now on the page itself keeps every value its progress bar shows, so a slow
    test loop cannot miss one (call before Generate)."""
    page.evaluate(
        """() => {
          window.__progress = [];
          new MutationObserver(() => {
            const bar = document.querySelector('#progress');
            if (bar && window.__progress.at(-1) !== bar.value) window.__progress.push(bar.value);
          }).observe(document.body, { subtree: true, childList: true, attributes: true });
        }"""
    )


def wait_for_draft(page: Page) -> list[int]:
    """Wait until the draft shows; the values the progress bar showed since
    record_progress (empty if it was not called)."""
    deadline = time.monotonic() + GENERATE_S
    draft = page.get_by_role("heading", name="Your draft")
    while not draft.is_visible():
        assert time.monotonic() < deadline, "the draft never showed"
        failed = page.locator(".status.error")
        assert not failed.count(), failed.inner_text()
        time.sleep(0.1)
    return [int(v) for v in page.evaluate("() => window.__progress ?? []")]


# The story of one post ---------------------------------------------------------------

XSS = '<script>window.__xss = 1</script><img src="/x" onerror="window.__xss = 2">'


def test_post_react_notify_remix_report_and_take_down(server, new_phone, hosts):
    alice = sign_up_in_browser(new_phone(), server, "alice")
    bob = sign_up_in_browser(new_phone(), server, "bob")

    # 1. Alice makes a clip and watches its progress, then posts it.
    nav(alice, "Create").click()
    alice.get_by_label("Prompt").fill("a red ball bounces on a wooden floor")
    alice.get_by_label("Length").select_option("4")
    alice.get_by_label("Size").select_option("720x1280")
    record_progress(alice)
    alice.get_by_role("button", name="Generate").click()
    progress = wait_for_draft(alice)
    assert progress == sorted(progress) and any(0 < v < 100 for v in progress), progress
    alice.get_by_label("Caption").fill("bouncy <b>ball</b>")
    alice.get_by_role("button", name="Post", exact=True).click()
    expect(alice).to_have_url(re.compile(r"/p/video_\w+$"))
    post_id = alice.url.rsplit("/", 1)[1]

    # 2. Bob follows Alice (her profile), then finds the post in For You with its why.
    bob.goto(f"{server.url}/u/alice")
    bob.get_by_role("button", name="Follow").click()
    expect(bob.get_by_role("button", name="Unfollow")).to_be_visible()
    nav(bob, "Home").click()
    post = item(bob, post_id)
    expect(post).to_be_visible()
    expect(post.locator(".caption")).to_have_text("bouncy <b>ball</b>")  # as written
    post.get_by_text("Why this?").click()
    expect(post.locator(".why .term")).to_have_text(  # no steering term: Bob wrote none
        ["freshness", "engagement", "interests", "trust"]
    )
    assert post.locator(".why p").first.inner_text().strip()
    # The provenance badge verifies the served file.
    badge = post.locator(".provenance")
    expect(badge).to_have_text("C2PA ✓ · watermark ✓ · sim", timeout=90_000)
    expect(badge).to_have_class(re.compile("verified"))

    # 3. Alice waits on her notifications page; it must update without a reload.
    nav(alice, re.compile("^Inbox")).click()
    alice.get_by_role("button", name="Mark all read").click()  # Bob's follow
    expect(alice.locator("#badge")).to_be_hidden()
    alice.evaluate("() => { window.__sameDocument = true; }")

    # 4. Bob likes and comments (a comment that is markup must stay text).
    post.get_by_role("button", name="Like (0)").click()
    expect(post.get_by_role("button", name="Like (1)")).to_have_attribute("aria-pressed", "true")
    post.get_by_role("button", name="Comments (0)").click()
    dialog = bob.get_by_role("dialog", name="Comments")
    dialog.get_by_label("Add a comment").fill(XSS)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.locator(".comment .body")).to_have_text(XSS)
    assert dialog.locator("script, img").count() == 0
    assert bob.evaluate("() => window.__xss") is None
    dialog.get_by_role("button", name="Close").click()

    # 5. Alice got both, live: the badge and the list, in the same document.
    expect(alice.locator("#badge")).to_have_text("2")
    expect(alice.locator('.notification.unread[data-type="like"]')).to_have_count(1)
    expect(alice.locator('.notification.unread[data-type="comment"]')).to_have_count(1)
    assert alice.evaluate("() => window.__sameDocument") is True
    assert alice.evaluate("() => window.__xss") is None

    # 6. Bob remixes; the chain shows on his post and on Alice's side.
    post.get_by_role("button", name="Remix (0)").click()
    bob.get_by_label("Remix prompt").fill("the same ball, at night")
    bob.get_by_role("button", name="Make remix").click()
    expect(bob).to_have_url(re.compile(r"/create\?video=video_\w+$"))
    wait_for_draft(bob)
    bob.get_by_label("Caption").fill("night version")
    bob.get_by_role("button", name="Post", exact=True).click()
    expect(bob).to_have_url(re.compile(r"/p/video_\w+$"))
    remix_id = bob.url.rsplit("/", 1)[1]
    expect(bob.locator(".chain")).to_have_text("remix of @alice · depth 1")
    expect(alice.locator('.notification[data-type="remix"]')).to_have_count(1)
    alice.goto(f"{server.url}/p/{post_id}")
    expect(alice.get_by_role("link", name=re.compile("@bob: night version"))).to_be_visible()
    alice.goto(f"{server.url}/p/{remix_id}")
    expect(alice.locator(".chain")).to_have_text("remix of @alice · depth 1")

    # 7. Bob reports the original; it is in his Following feed until a moderator upholds.
    bob.goto(f"{server.url}/following")
    expect(item(bob, post_id)).to_have_count(1)
    mine = item(bob, post_id)
    mine.get_by_label("More actions").click()
    mine.get_by_role("button", name="Report").click()
    report = bob.get_by_role("dialog", name="Report post")
    report.get_by_label("Reason").select_option("harmful")
    report.get_by_label("Details (optional)").fill("frightening")
    report.get_by_role("button", name="Send report").click()
    expect(bob.locator("#toast")).to_contain_text("Report sent")

    server.cli("users", "create", "mod", "--moderator", "--password-stdin", stdin=PASSWORD + "\n")
    moderator = new_phone().new_page()
    moderator.goto(f"{server.url}/login?next=/moderation")
    moderator.get_by_label("Handle").fill("mod")
    moderator.get_by_label("Password").fill(PASSWORD)
    moderator.get_by_role("button", name="Log in").click()
    expect(moderator).to_have_url(f"{server.url}/moderation")
    moderator.get_by_role("button", name=f"harmful: post {post_id}").click()
    expect(moderator.locator(".report-detail .details")).to_have_text("frightening")
    moderator.get_by_label("Note").fill("taken down")
    moderator.get_by_role("button", name="Uphold (take down)").click()
    expect(moderator.locator(".report-detail")).to_contain_text("upheld")
    expect(moderator.locator(".audit tbody tr")).to_have_count(1)

    # 8. Gone from both people's feeds and from Alice's profile; the remix says "removed".
    for page in (alice, bob):
        for feed in ("/", "/following"):
            page.goto(f"{server.url}{feed}")
            expect(page.locator(".feed .item, .feed .empty").first).to_be_visible()
            expect(item(page, post_id)).to_have_count(0)
    alice.goto(f"{server.url}/u/alice")
    expect(alice.get_by_role("heading", name="Posts")).to_be_visible()
    expect(alice.locator(f'a[href="/p/{post_id}"]')).to_have_count(0)
    bob.goto(f"{server.url}/p/{remix_id}")
    expect(bob.locator(".chain .removed")).to_have_text("removed")
    assert hosts.foreign == []


# A feed of several, by touch and keyboard ---------------------------------------------


@pytest.fixture(scope="module")
def seeded(server: Server) -> dict[str, Any]:
    """Three creators with two posts each, and a viewer following them all."""
    prompts = {
        "cleo": ["a dog runs on the beach", "a cat sleeps on a sofa"],
        "dev": ["a car drives down a street", "a bird flies over a lake"],
        "eve": ["a guitar plays on a stage", "an apple falls from a tree"],
    }
    creators = {handle: ApiPerson.sign_up(server, handle) for handle in prompts}
    posts = {handle: creators[handle].make_posts(p) for handle, p in prompts.items()}
    viewer = ApiPerson.sign_up(server, "viewer")
    for handle in prompts:
        viewer.call("POST", f"/api/users/{handle}/follow")
    return {"creators": creators, "posts": posts, "viewer": viewer}


def feed_index(page: Page) -> int:
    return int(
        page.evaluate(
            "() => { const f = document.querySelector('.feed');"
            " return Math.round(f.scrollTop / f.clientHeight); }"
        )
    )


STATE_JS = """() => {
    const f = document.querySelector('.feed');
    return {scrollTop: f.scrollTop, height: f.clientHeight,
            paused: [...f.querySelectorAll('video')].map(v => v.paused),
            ready: [...f.querySelectorAll('video')].map(v => v.readyState)};
}"""


def settle_at(page: Page, index: int) -> None:
    """Wait until the feed rests on post `index` and that post (only) is playing."""
    try:
        _settle_at(page, index)
    except sync_api.TimeoutError:
        raise AssertionError(f"not at post {index}: {page.evaluate(STATE_JS)}") from None


def _settle_at(page: Page, index: int) -> None:
    page.wait_for_function(
        """(i) => {
            const f = document.querySelector('.feed');
            const items = [...f.querySelectorAll('.item')];
            if (Math.abs(f.scrollTop - i * f.clientHeight) > 2) return false;
            return items.every((el, k) => el.querySelector('video').paused === (k !== i));
        }""",
        arg=index,
        timeout=15_000,
    )


def swipe_up(cdp: Any, x: int = 180, from_y: int = 600, to_y: int = 150) -> None:
    """A finger drawn up the screen: real touch events, which the browser turns into a
    scroll (CDP's synthesized scroll gesture does not scroll in headless Chromium)."""
    steps = 10
    touch = "Input.dispatchTouchEvent"
    cdp.send(touch, {"type": "touchStart", "touchPoints": [{"x": x, "y": from_y}]})
    for k in range(1, steps + 1):
        y = from_y + (to_y - from_y) * k / steps
        cdp.send(touch, {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send(touch, {"type": "touchEnd", "touchPoints": []})


def test_swipe_five_posts_by_touch_and_keyboard(server, seeded, new_phone):
    page = signed_in_page(new_phone(), server, seeded["viewer"])
    page.goto(f"{server.url}/following")
    expect(page.locator(".feed .item")).to_have_count(6)
    settle_at(page, 0)
    first = page.locator(".feed .item").first.get_attribute("data-post-id")
    # A view is recorded only for watch time: let the first clip play before leaving it
    # (on a loaded machine the swipe can otherwise come before playback starts).
    page.wait_for_function(
        "() => { const v = document.querySelector('.feed .item video');"
        " return v && !v.paused && v.currentTime > 0.1; }",
        timeout=30_000,
    )
    cdp = page.context.new_cdp_session(page)
    for n in range(1, 6):  # five swipes up, one post each (scroll-snap-stop: always)
        swipe_up(cdp)
        settle_at(page, n)
    for key, index in (("ArrowUp", 4), ("k", 3), ("ArrowUp", 2), ("ArrowDown", 3), ("j", 4)):
        page.keyboard.press(key)
        settle_at(page, index)
    assert feed_index(page) == 4
    # Leaving a post records its view (watch time) for the ranker.
    viewer = seeded["viewer"]
    deadline = time.monotonic() + 10
    while viewer.call("GET", f"/api/posts/{first}")["counts"]["views"] < 1:
        assert time.monotonic() < deadline, "no view was recorded"
        time.sleep(0.2)


# Forms, settings, drafts; by keyboard alone ---------------------------------------------


def test_errors_beside_their_field_settings_kept_and_drafts(server, new_phone):
    page = new_phone().new_page()
    page.goto(f"{server.url}/signup")
    # By keyboard alone: the handle has focus, Tab moves on in order, Enter submits.
    expect(page.get_by_label("Handle")).to_be_focused()  # the page has drawn its form
    page.keyboard.type("Not A Handle")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    handle = page.get_by_label("Handle")
    expect(page.locator("#" + handle.get_attribute("id") + "-error")).to_contain_text("handle")
    expect(handle).to_have_attribute("aria-invalid", "true")
    expect(handle).to_be_focused()
    handle.fill("fay")
    page.keyboard.press("Enter")
    expect(nav(page, "Profile")).to_be_visible()

    # The steering text and notification types are stored, shown, and kept.
    page.goto(f"{server.url}/settings")
    page.get_by_label("Steering").fill("more cats and cooking, no sports")
    page.get_by_role("button", name="Save steering").click()
    expect(page.locator(".steering-now")).to_have_text(
        "For You is steered by: “more cats and cooking, no sports”"
    )
    page.get_by_label("Likes").uncheck()
    page.get_by_role("button", name="Save notifications").click()
    expect(page.locator("#toast")).to_contain_text("Notification settings saved")
    page.get_by_label("Bio").fill("<b>cooking</b> & cats")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#toast")).to_contain_text("Profile saved")
    page.reload()
    expect(page.get_by_label("Steering")).to_have_value("more cats and cooking, no sports")
    expect(page.get_by_label("Likes")).not_to_be_checked()
    expect(page.get_by_label("Comments")).to_be_checked()
    page.goto(f"{server.url}/u/fay")
    expect(page.locator(".bio")).to_have_text("<b>cooking</b> & cats")

    # A post unposted from its own menu is a draft again; deleting it asks first.
    fay = ApiPerson.of_browser(server, page.context, "fay")
    (post_id,) = fay.make_posts(["a kettle boils in a kitchen"])
    page.goto(f"{server.url}/p/{post_id}")
    page.get_by_label("More actions").click()
    page.get_by_role("button", name="Unpost (back to drafts)").click()
    expect(page.locator("#toast")).to_contain_text("Unposted")
    nav(page, "Drafts").click()
    expect(page.locator(".draft .prompt")).to_have_text(["a kettle boils in a kitchen"])
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete draft: a kettle boils in a kitchen").click()
    expect(page.locator(".drafts .empty")).to_be_visible()
    assert fay.http.get(f"/api/videos/{post_id}").status_code == 404

    # A first frame that is not an image is refused beside its field; nothing is made.
    nav(page, "Create").click()
    page.get_by_label("Prompt").fill("a kite over a hill")
    page.get_by_label("First frame (optional)").set_input_files(
        files=[{"name": "frame.png", "mimeType": "image/png", "buffer": b"not a picture"}]
    )
    page.get_by_role("button", name="Generate").click()
    frame = page.get_by_label("First frame (optional)")
    expect(page.locator("#" + frame.get_attribute("id") + "-error")).to_contain_text(
        "input_reference"
    )
    assert fay.http.get("/api/drafts").json()["data"] == []


# The pages themselves: offline docs, hosts, weight, screenshots -----------------------


def test_docs_render_offline(server, new_phone, hosts):
    page = new_phone().new_page()
    page.goto(f"{server.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("reelforge")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert hosts.foreign == []
    served = httpx.get(f"{server.url}/docs")
    assert "cdn" not in served.text.lower()


def test_pages_send_strict_headers_and_deep_links_answer_the_app(server):
    for path in ("/", "/p/video_x", "/u/alice", "/create", "/moderation"):
        response = httpx.get(f"{server.url}{path}")
        assert response.status_code == 200 and 'src="/static/js/main.js"' in response.text
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    static = httpx.get(f"{server.url}/static/js/main.js")
    assert static.headers["cache-control"] == "no-cache" and static.headers["etag"]
    again = httpx.get(
        f"{server.url}/static/js/main.js", headers={"if-none-match": static.headers["etag"]}
    )
    assert again.status_code == 304
    missing = httpx.get(f"{server.url}/no/such/page")
    assert missing.status_code == 404 and missing.json()["error"]["message"]


def test_page_weight_and_time_to_first_video(server, seeded, new_phone, hosts):
    """The For You page for a new viewer: bytes over the wire by kind, and the time from
    navigation to the first video's `playing` (README, "The app")."""
    viewer = ApiPerson.sign_up(server, "weigher")
    page = signed_in_page(new_phone(), server, viewer)
    page.add_init_script(
        "window.__firstPlayingMs = null; document.addEventListener('playing', () => {"
        " if (window.__firstPlayingMs === null) window.__firstPlayingMs = performance.now();"
        " }, true);"
    )
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    kinds: dict[str, str] = {}
    finished: dict[str, float] = {}
    streamed: dict[str, float] = {}
    cdp.on(
        "Network.requestWillBeSent",
        lambda e: kinds.__setitem__(e["requestId"], e.get("type", "Other")),
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: finished.__setitem__(e["requestId"], e["encodedDataLength"]),
    )
    cdp.on(
        "Network.dataReceived",
        lambda e: streamed.__setitem__(
            e["requestId"], streamed.get(e["requestId"], 0) + e["encodedDataLength"]
        ),
    )
    page.goto(f"{server.url}/")
    page.wait_for_function("() => window.__firstPlayingMs !== null", timeout=30_000)
    first_video_ms = float(page.evaluate("() => window.__firstPlayingMs"))
    page.wait_for_timeout(1000)
    by_kind: dict[str, float] = {}
    for request_id, kind in kinds.items():
        size = finished.get(request_id, streamed.get(request_id, 0))
        group = {"Document": "shell", "Script": "shell", "Stylesheet": "shell"}.get(
            kind, kind.lower()
        )
        by_kind[group] = by_kind.get(group, 0) + size
    total_kb = sum(by_kind.values()) / 1024
    shell_kb = by_kind.get("shell", 0) / 1024
    print(
        f"\nfeed page: {total_kb:.0f} KiB transferred ("
        + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sorted(by_kind.items()))
        + f"); first video playing after {first_video_ms:.0f} ms"
    )
    assert shell_kb < 150, by_kind  # the whole app: HTML, CSS and every module
    assert first_video_ms < 10_000
    assert hosts.foreign == []


def test_screenshots(server, seeded, new_phone, tmp_path):
    """The feed, create page, profile and notifications at a phone's size. Saved under
    tmp; REELFORGE_UPDATE_SCREENSHOTS=1 writes them to docs/img (README links them)."""
    viewer = ApiPerson.sign_up(server, "sam")  # new here: For You has everything unseen
    cleo = seeded["creators"]["cleo"]
    newest = seeded["posts"]["cleo"][-1]
    viewer.call("POST", "/api/users/cleo/follow")
    viewer.call("POST", f"/api/posts/{newest}/like")
    viewer.call("POST", f"/api/posts/{newest}/comments", json={"body": "so cosy!"})
    shots: dict[str, Path] = {}

    page = signed_in_page(new_phone(), server, viewer)
    page.goto(f"{server.url}/")
    shown = page.locator(".feed .item").first
    expect(shown).to_be_visible()
    page.wait_for_function("() => !document.querySelector('.feed video').paused")
    expect(shown.locator(".provenance")).to_have_class(re.compile("verified"), timeout=90_000)
    shown.get_by_text("Why this?").click()
    shots["feed"] = tmp_path / "app-feed.png"
    page.screenshot(path=shots["feed"])

    page.goto(f"{server.url}/create")
    page.get_by_label("Prompt").fill('A girl says "Nice!" as two orange balls bounce in a gym')
    page.get_by_label("Cameos").fill("@cleo")
    shots["create"] = tmp_path / "app-create.png"
    page.screenshot(path=shots["create"])

    page.goto(f"{server.url}/u/cleo")
    expect(page.locator(".grid img")).to_have_count(2)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.grid img')].every(i => i.complete)"
    )
    shots["profile"] = tmp_path / "app-profile.png"
    page.screenshot(path=shots["profile"])

    inbox = signed_in_page(new_phone(), server, cleo)
    inbox.goto(f"{server.url}/notifications")
    # Follows from the viewer and Sam, Sam's like and comment.
    expect(inbox.locator(".notification")).to_have_count(4)
    shots["notifications"] = tmp_path / "app-notifications.png"
    inbox.screenshot(path=shots["notifications"])

    for name, path in shots.items():
        assert path.stat().st_size > 10_000, name
        if os.environ.get("REELFORGE_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / path.name)
