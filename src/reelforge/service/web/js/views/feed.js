// The vertical feed: one post per screen, CSS scroll-snap, ↑/↓ (and j/k) between posts,
// autoplay muted while a post is on screen, tap or the sound button to unmute. Each
// post's watch time is recorded when it leaves the screen.
import { get } from "../api.js";
import { h } from "../dom.js";
import { postItem } from "./post_item.js";

const PAGE_SIZE = 10;
const VISIBLE = 0.6; // share of a post on screen for it to play
const SETTLE_MS = 300; // a key's scroll is checked this long after it is issued

/** For You or Following. */
export function feedView(kind) {
  return async (root) => {
    const title = kind === "for-you" ? "For You" : "Following";
    const tabs = h(
      "nav",
      { class: "feed-tabs", "aria-label": "Feeds" },
      h("a", { href: "/", "aria-current": kind === "for-you" ? "page" : null }, "For You"),
      h("a", { href: "/following", "aria-current": kind === "following" ? "page" : null }, "Following"),
    );
    root.append(h("h1", { class: "visually-hidden", tabindex: "-1" }, title), tabs);
    const feed = new Feed(root, `/feed/${kind}`, title);
    await feed.loadMore();
    if (!feed.count) {
      const empty =
        kind === "following"
          ? "Nobody you follow has posted yet."
          : "Nothing to show yet: create a clip and post it.";
      feed.list.append(h("p", { class: "empty" }, empty, " ", h("a", { href: "/create" }, "Create")));
    }
    return () => feed.close();
  };
}

/** One post at /p/{id}, as a one-item feed, with its remixes below. */
export async function postView(root, [postId]) {
  const item = await get(`/posts/${postId}`);
  root.append(h("h1", { class: "visually-hidden", tabindex: "-1" }, `Post by @${item.creator.handle}`));
  const feed = new Feed(root, null, "Post");
  feed.add([item]);
  const remixes = await get(`/posts/${postId}/remixes`).catch(() => ({ data: [] }));
  if (remixes.data.length) {
    root.append(
      h(
        "section",
        { class: "remixes", "aria-label": "Remixes" },
        h("h2", {}, `Remixes (${remixes.data.length})`),
        h(
          "ul",
          {},
          remixes.data.map((remix) =>
            h(
              "li",
              {},
              h("a", { href: `/p/${remix.id}` }, `@${remix.creator.handle}: `, remix.caption || remix.prompt),
            ),
          ),
        ),
      ),
    );
  }
  return () => feed.close();
}

class Feed {
  constructor(root, path, label) {
    this.path = path;
    this.cursor = null;
    this.done = path === null;
    this.loading = false;
    this.count = 0;
    this.items = [];
    this.wanted = null; // the post a key aims at until the feed rests there
    this.aimTimer = null;
    this.list = h("section", { class: "feed", "aria-label": `${label} feed` });
    root.append(this.list);
    this.observer = new IntersectionObserver((entries) => this.onVisibility(entries), {
      root: this.list,
      threshold: [0, VISIBLE],
    });
    this.onKey = (event) => this.key(event);
    document.addEventListener("keydown", this.onKey);
    this.onHide = () => this.flushAll();
    window.addEventListener("pagehide", this.onHide);
  }

  async loadMore() {
    if (this.done || this.loading) return;
    this.loading = true;
    try {
      const after = this.cursor ? `&cursor=${encodeURIComponent(this.cursor)}` : "";
      const page = await get(`${this.path}?limit=${PAGE_SIZE}${after}`);
      this.cursor = page.next_cursor;
      this.done = !page.next_cursor;
      this.add(page.data);
    } finally {
      this.loading = false;
    }
  }

  add(posts) {
    for (const post of posts) {
      const item = postItem(post, { onRemove: (el) => this.remove(el) });
      this.items.push(item);
      this.list.append(item.el);
      this.observer.observe(item.el);
      this.count += 1;
    }
  }

  remove(element) {
    const item = this.items.find((it) => it.el === element);
    if (!item) return;
    item.leave();
    this.observer.unobserve(element);
    element.remove();
    this.items = this.items.filter((it) => it !== item);
  }

  onVisibility(entries) {
    for (const entry of entries) {
      const item = this.items.find((it) => it.el === entry.target);
      if (!item) continue;
      if (entry.intersectionRatio >= VISIBLE) {
        item.enter();
        this.current = item;
        // Near the end, fetch the next page so the swipe never hits a wall.
        if (this.items.indexOf(item) >= this.items.length - 3) this.loadMore();
      } else {
        item.leave();
      }
    }
  }

  key(event) {
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, dialog, [contenteditable]")) return;
    const step = { ArrowDown: 1, j: 1, ArrowUp: -1, k: -1 }[event.key];
    if (!step || !this.items.length) return;
    event.preventDefault();
    const from = this.wanted ?? this.restingAt();
    this.goTo(Math.min(this.items.length - 1, Math.max(0, from + step)), 3);
  }

  /** The post the feed rests on, from its scroll position (the observer's last report
   * can lag a key pressed right after a scroll ends). */
  restingAt() {
    return Math.round(this.list.scrollTop / Math.max(1, this.list.clientHeight));
  }

  /** Scroll to post `index` and hold that aim until the feed rests there: Chromium can
   * snap back to the post it last rested on when a post's content changes while the
   * scroll settles, so the scroll is issued again (at most `tries` times). */
  goTo(index, tries) {
    this.wanted = index;
    const next = this.items[index];
    next.el.scrollIntoView({ block: "start" });
    next.el.focus({ preventScroll: true });
    clearTimeout(this.aimTimer);
    this.aimTimer = setTimeout(() => {
      if (this.wanted !== index) return;
      if (this.restingAt() !== index && tries > 1 && this.items[index]) this.goTo(index, tries - 1);
      else this.wanted = null;
    }, SETTLE_MS);
  }

  flushAll() {
    for (const item of this.items) item.leave();
  }

  close() {
    clearTimeout(this.aimTimer);
    this.flushAll();
    this.observer.disconnect();
    document.removeEventListener("keydown", this.onKey);
    window.removeEventListener("pagehide", this.onHide);
  }
}
