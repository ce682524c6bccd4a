// Drafts: the clips a person made and has not posted (or unposted): private to them.
import { del, get } from "../api.js";
import { h, timeAgo, toast } from "../dom.js";

export async function draftsView(root) {
  root.append(h("h1", { tabindex: "-1" }, "Drafts"));
  const list = h("ul", { class: "drafts" });
  root.append(list);
  const reload = async () => {
    const page = await get("/drafts?limit=50");
    list.replaceChildren(...page.data.map((video) => draftRow(video, reload)));
    if (!page.data.length) list.append(h("li", { class: "empty" }, "No drafts yet. ", h("a", { href: "/create" }, "Create one")));
  };
  await reload();
}

function draftRow(video, reload) {
  const thumb = video.thumbnail_url
    ? h("img", { src: video.thumbnail_url, alt: "", width: 72, height: 128, loading: "lazy" })
    : h("div", { class: "thumb-placeholder", "aria-hidden": "true" });
  const state = video.status === "completed" ? "draft" : `${video.status} ${video.progress} %`;
  const remove = async () => {
    if (!confirm("Delete this clip for good?")) return;
    await del(`/videos/${video.id}`).catch((e) => toast(e.message));
    await reload();
  };
  return h(
    "li",
    { class: "draft" },
    thumb,
    h(
      "div",
      { class: "draft-text" },
      h("p", { class: "prompt" }, video.prompt),
      h("p", { class: "muted" }, `${state} · ${video.seconds} s · ${video.size} · ${timeAgo(video.created_at)}`),
      h(
        "div",
        { class: "row" },
        h("a", { class: "button", href: `/create?video=${video.id}`, "aria-label": `Open draft: ${video.prompt}` }, "Open"),
        h("button", { type: "button", class: "danger", onclick: remove, "aria-label": `Delete draft: ${video.prompt}` }, "Delete"),
      ),
    ),
  );
}
