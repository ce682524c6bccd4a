// One post in a feed: the clip, who made it, its caption, remix chain, provenance badge,
// "why this", and its actions (like, comments, remix, download, share, see less, hide
// creator, report).
import { api, del, get, post } from "../api.js";
import { h, icon, timeAgo, toast } from "../dom.js";
import { field, formErrorLine, onSubmit } from "../forms.js";
import { session } from "../main.js";
import { openDialog, openRemix, openReport } from "./dialogs.js";

let soundOn = false; // once a person unmutes, the next clips play with sound too

export function postItem(item, { onRemove }) {
  const video = h("video", {
    class: "clip",
    src: item.video_url,
    poster: item.thumbnail_url,
    loop: true,
    playsinline: true,
    preload: "metadata",
    "aria-label": `Clip: ${item.caption || item.prompt}`,
    props: { muted: true },
  });
  const soundButton = h("button", { type: "button", class: "sound", "aria-pressed": "false" });
  const el = h(
    "article",
    {
      class: "item",
      tabindex: "-1",
      "aria-label": `Post by @${item.creator.handle}`,
      dataset: { postId: item.id, creator: item.creator.handle },
    },
    video,
    soundButton,
    meta(item),
    actions(item, onRemove),
  );
  const watch = new WatchClock(item.id, video);
  const setSound = (on) => {
    soundOn = on;
    video.muted = !on;
    soundButton.replaceChildren(icon(on ? "sound" : "muted"));
    soundButton.setAttribute("aria-label", on ? "Mute" : "Unmute");
    soundButton.setAttribute("aria-pressed", String(on));
  };
  setSound(soundOn);
  video.addEventListener("click", () => setSound(video.muted));
  soundButton.addEventListener("click", () => setSound(video.muted));
  let provenanceLoaded = false;
  return {
    el,
    enter() {
      setSound(soundOn);
      video.play().catch(() => null); // autoplay may be refused; the poster stays
      if (!provenanceLoaded) {
        provenanceLoaded = true;
        loadProvenance(item, el.querySelector(".provenance"));
      }
    },
    leave() {
      if (!video.paused) video.pause();
      watch.flush();
    },
  };
}

/** Watch time of one post while it is on screen, sent as a view when it leaves. */
class WatchClock {
  constructor(postId, video) {
    this.postId = postId;
    this.ms = 0;
    this.since = null;
    this.completed = false;
    this.lastTime = 0;
    video.addEventListener("playing", () => (this.since = performance.now()));
    video.addEventListener("pause", () => this.stop());
    video.addEventListener("timeupdate", () => {
      // The clip loops: a jump back, or reaching the end, is a completed view.
      const t = video.currentTime;
      if (t + 0.25 < this.lastTime || (video.duration && t >= video.duration - 0.3)) {
        this.completed = true;
      }
      this.lastTime = t;
    });
  }

  stop() {
    if (this.since !== null) this.ms += performance.now() - this.since;
    this.since = null;
  }

  flush() {
    this.stop();
    if (this.ms < 1) return;
    const body = { watched_ms: Math.min(3_600_000, Math.round(this.ms)), completed: this.completed };
    this.ms = 0;
    this.completed = false;
    api("POST", `/posts/${this.postId}/view`, body, { keepalive: true }).catch(() => null);
  }
}

function meta(item) {
  return h(
    "div",
    { class: "meta" },
    h(
      "p",
      { class: "creator" },
      h("a", { href: `/u/${item.creator.handle}` }, `@${item.creator.handle}`),
      h("span", { class: "muted" }, ` · ${timeAgo(item.posted_at)}`),
    ),
    item.caption ? h("p", { class: "caption" }, item.caption) : null,
    chain(item),
    h("p", { class: "provenance", role: "status" }, "checking provenance…"),
    item.why ? whyPanel(item.why) : null,
  );
}

/** "remix of @x · depth 2"; a parent taken down reads "removed". */
function chain(item) {
  const parent = item.remix.parent;
  if (!parent) return null;
  const who = parent.removed
    ? h("span", { class: "removed" }, "removed")
    : h("a", { href: `/p/${parent.id}` }, `@${parent.handle}`);
  return h("p", { class: "chain" }, icon("remix"), "remix of ", who, ` · depth ${item.remix.depth}`);
}

function whyPanel(why) {
  const terms = why.terms.map((term) =>
    h(
      "li",
      {},
      h("span", { class: "term" }, term.name),
      ` ${term.value.toFixed(2)} × ${term.weight}`,
      term.detail ? h("span", { class: "muted" }, ` · ${term.detail}`) : null,
    ),
  );
  return h(
    "details",
    { class: "why" },
    h("summary", {}, icon("why"), "Why this?"),
    h("p", {}, why.text),
    h("p", { class: "muted" }, `${why.source} · score ${why.score.toFixed(2)}`),
    terms.length ? h("ul", {}, terms) : null,
  );
}

async function loadProvenance(item, line) {
  try {
    const p = await get(item.provenance_url);
    const mark = (ok) => (ok ? "✓" : "✗");
    const cameos = p.cameos?.length ? ` · cameo consent ✓ ${p.cameos.length}` : "";
    line.textContent = `C2PA ${mark(p.c2pa_valid)} · watermark ${mark(p.watermark_found)} · ${p.model || "model unknown"}${cameos}`;
    line.title = p.summary;
    line.classList.add(p.c2pa_valid && p.watermark_found ? "verified" : "unverified");
  } catch {
    line.textContent = "provenance could not be checked";
    line.classList.add("unverified");
  }
}

function actions(item, remove) {
  const like = h("button", { type: "button", class: "action like" });
  const drawLike = () => {
    like.replaceChildren(icon("heart"), h("span", {}, String(item.counts.likes)));
    like.setAttribute("aria-pressed", String(item.liked_by_me));
    like.setAttribute("aria-label", `Like (${item.counts.likes})`);
  };
  drawLike();
  like.addEventListener("click", async () => {
    try {
      const fresh = await (item.liked_by_me ? del : post)(`/posts/${item.id}/like`);
      item.liked_by_me = fresh.liked_by_me;
      item.counts = fresh.counts;
      drawLike();
    } catch (error) {
      toast(error.message);
    }
  });
  const comments = h(
    "button",
    { type: "button", class: "action", "aria-label": `Comments (${item.counts.comments})` },
    icon("comment"),
    h("span", {}, String(item.counts.comments)),
  );
  comments.addEventListener("click", () => openComments(item, comments));
  const remix = h(
    "button",
    {
      type: "button",
      class: "action",
      "aria-label": item.allow_remix ? `Remix (${item.counts.remixes})` : "Remixing is off",
      disabled: !item.allow_remix,
      onclick: () => openRemix(item),
    },
    icon("remix"),
    h("span", {}, String(item.counts.remixes)),
  );
  const download = item.download_url
    ? h("a", { class: "action", href: item.download_url, download: `${item.id}.mp4`, "aria-label": "Download" }, icon("download"))
    : null;
  const share = h(
    "button",
    { type: "button", class: "action", "aria-label": "Copy link", onclick: () => copyLink(item) },
    icon("share"),
  );
  return h("div", { class: "actions" }, like, comments, remix, download, share, moreMenu(item, remove));
}

function moreMenu(item, remove) {
  const mine = item.creator.id === session.user?.id;
  const menu = h(
    "details",
    { class: "more" },
    h("summary", { "aria-label": "More actions" }, icon("more")),
    h(
      "div",
      { class: "menu" },
      mine ? h("button", { type: "button", onclick: () => unpost(item, remove) }, "Unpost (back to drafts)") : null,
      mine ? null : h("button", { type: "button", onclick: () => seeLess(item) }, "See less like this"),
      mine ? null : h("button", { type: "button", onclick: () => hideCreator(item, remove) }, `Hide @${item.creator.handle}`),
      mine ? null : h("button", { type: "button", onclick: () => openReport("post", item.id, "post") }, "Report"),
    ),
  );
  menu.addEventListener("click", (event) => {
    if (event.target.closest(".menu button")) menu.open = false;
  });
  return menu;
}

async function copyLink(item) {
  const link = `${location.origin}/p/${item.id}`;
  try {
    await navigator.clipboard.writeText(link);
    toast(`Link copied: ${link}`);
  } catch {
    toast(link); // no clipboard permission: the link is shown to copy by hand
  }
}

async function unpost(item, remove) {
  try {
    await post(`/posts/${item.id}/unpost`);
    remove(document.querySelector(`.item[data-post-id="${item.id}"]`));
    toast("Unposted: the clip is a private draft again.");
  } catch (error) {
    toast(error.message);
  }
}

async function seeLess(item) {
  try {
    await post(`/posts/${item.id}/see-less`);
    toast("You will see less like this.");
  } catch (error) {
    toast(error.message);
  }
}

async function hideCreator(item, remove) {
  try {
    await post(`/users/${item.creator.handle}/hide`);
    for (const el of document.querySelectorAll(".item")) {
      if (el.dataset.creator === item.creator.handle) remove(el);
    }
    toast(`@${item.creator.handle} is hidden from your feeds.`);
  } catch (error) {
    toast(error.message);
  }
}

// Comments: one level of replies --------------------------------------------------------

function openComments(item, countButton) {
  const list = h("ul", { class: "comments", "aria-live": "polite" });
  const body = h("textarea", { name: "body", rows: 2, required: true, maxlength: 1000 });
  const replyLine = h("p", { class: "replying", hidden: true });
  let parentId = null;
  const setReply = (comment) => {
    parentId = comment ? comment.id : null;
    replyLine.hidden = !comment;
    replyLine.replaceChildren(
      comment ? `Replying to @${comment.author.handle} ` : "",
      comment ? h("button", { type: "button", class: "link", onclick: () => setReply(null) }, "Cancel reply") : "",
    );
    body.focus();
  };
  const form = h(
    "form",
    { class: "comment-form" },
    replyLine,
    field("Add a comment", body),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Send"),
  );
  const closed = !item.comments_on;
  openDialog("Comments", list, closed ? h("p", { class: "muted" }, "Comments are off for this post.") : form);
  const reload = async () => {
    const page = await get(`/posts/${item.id}/comments`);
    list.replaceChildren(...page.data.map((c) => commentRow(c, item, setReply, reload, true)));
    if (!page.data.length) list.append(h("li", { class: "muted" }, "No comments yet."));
  };
  onSubmit(form, async (data) => {
    await post(`/posts/${item.id}/comments`, { body: data.get("body"), parent_id: parentId });
    body.value = "";
    setReply(null);
    item.counts.comments += 1;
    countButton.querySelector("span").textContent = String(item.counts.comments);
    countButton.setAttribute("aria-label", `Comments (${item.counts.comments})`);
    await reload();
  });
  reload().catch((error) => list.append(h("li", { class: "error" }, error.message)));
  if (!closed) body.focus();
}

function commentRow(comment, item, setReply, reload, topLevel) {
  const mine = comment.author.id === session.user?.id;
  const canDelete = mine || (session.user && session.user.role !== "user");
  return h(
    "li",
    { class: "comment" },
    h(
      "p",
      { class: "who" },
      h("a", { href: `/u/${comment.author.handle}` }, `@${comment.author.handle}`),
      h("span", { class: "muted" }, ` · ${timeAgo(comment.created_at)}`),
    ),
    h("p", { class: "body" }, comment.body),
    h(
      "div",
      { class: "comment-actions" },
      topLevel && item.comments_on
        ? h("button", { type: "button", class: "link", onclick: () => setReply(comment) }, "Reply")
        : null,
      canDelete
        ? h(
            "button",
            {
              type: "button",
              class: "link",
              onclick: async () => {
                await del(`/comments/${comment.id}`).catch((e) => toast(e.message));
                await reload();
              },
            },
            "Delete",
          )
        : null,
      mine
        ? null
        : h("button", { type: "button", class: "link", onclick: () => openReport("comment", comment.id, "comment") }, "Report"),
    ),
    comment.replies.length
      ? h("ul", { class: "replies" }, comment.replies.map((r) => commentRow(r, item, setReply, reload, false)))
      : null,
  );
}
