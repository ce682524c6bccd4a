// Notifications: the list, mark read; it redraws when the live stream says something new.
import { get, post } from "../api.js";
import { h, timeAgo } from "../dom.js";
import { setBadge } from "../main.js";

export async function notificationsView(root) {
  const markAll = h("button", { type: "button" }, "Mark all read");
  root.append(h("div", { class: "title-row" }, h("h1", { tabindex: "-1" }, "Notifications"), markAll));
  const list = h("ul", { class: "notifications", "aria-live": "polite" });
  root.append(list);
  const reload = async () => {
    const page = await get("/notifications?limit=50");
    list.replaceChildren(...page.data.map((n) => row(n, reload)));
    if (!page.data.length) list.append(h("li", { class: "empty" }, "Nothing yet."));
  };
  markAll.addEventListener("click", async () => {
    setBadge((await post("/notifications/read", { ids: null })).unread);
    await reload();
  });
  await reload();
  const onLive = () => reload();
  window.addEventListener("rf:notification", onLive);
  return () => window.removeEventListener("rf:notification", onLive);
}

function row(n, reload) {
  const target = n.video_id ? `/p/${n.video_id}` : n.report_id ? "/moderation" : n.actor ? `/u/${n.actor.handle}` : null;
  const markRead = async () => {
    if (n.read) return;
    const read = await post("/notifications/read", { ids: [n.id] }).catch(() => null);
    if (read) setBadge(read.unread);
  };
  const text = target ? h("a", { class: "text", href: target, onclick: markRead }, n.text) : h("span", { class: "text" }, n.text);
  return h(
    "li",
    { class: `notification ${n.read ? "read" : "unread"}`, dataset: { type: n.type } },
    h("p", { class: "head" }, h("span", { class: "kind" }, n.type), ` · ${timeAgo(n.created_at)}`),
    text,
    n.read
      ? null
      : h(
          "button",
          { type: "button", class: "link", "aria-label": `Mark read: ${n.text}`, onclick: async () => { await markRead(); await reload(); } },
          "Mark read",
        ),
  );
}
