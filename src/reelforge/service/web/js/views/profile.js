// A profile: avatar, name, bio, counts, follow / block / hide / report, and the posts grid.
import { del, get, post } from "../api.js";
import { h, toast } from "../dom.js";
import { logOut, session } from "../main.js";
import { openReport } from "./dialogs.js";

export async function profileView(root, [handle]) {
  const profile = await get(`/users/${handle}`);
  const header = h("header", { class: "profile" });
  const draw = (p) => header.replaceChildren(...profileHeader(p, draw));
  draw(profile);
  const grid = h("ul", { class: "grid", "aria-label": `Posts by @${handle}` });
  root.append(header, h("h2", {}, "Posts"), grid);
  const page = await get(`/users/${handle}/posts?limit=30`);
  grid.append(...page.data.map(gridCell));
  if (!page.data.length) grid.append(h("li", { class: "empty" }, "No posts yet."));
}

function avatar(profile) {
  if (profile.avatar_url) return h("img", { class: "avatar", src: profile.avatar_url, alt: `@${profile.handle}'s avatar`, width: 96, height: 96 });
  const initial = (profile.display_name || profile.handle).slice(0, 1).toUpperCase();
  return h("div", { class: "avatar placeholder", "aria-hidden": "true" }, initial);
}

function profileHeader(p, redraw) {
  const me = session.user && session.user.id === p.id;
  const toggle = (verb, on, label, offLabel) =>
    h(
      "button",
      {
        type: "button",
        "aria-pressed": String(on),
        class: on ? "" : verb === "follow" ? "primary" : "",
        onclick: async () => {
          try {
            redraw(await (on ? del : post)(`/users/${p.handle}/${verb}`));
          } catch (error) {
            toast(error.message);
          }
        },
      },
      on ? offLabel : label,
    );
  const buttons = me
    ? [
        h("a", { class: "button", href: "/cameos" }, "Cameos"),
        h("a", { class: "button", href: "/settings" }, "Settings"),
        session.user.role !== "user" ? h("a", { class: "button", href: "/moderation" }, "Moderation") : null,
        h("button", { type: "button", onclick: logOut }, "Log out"),
      ]
    : session.user
      ? [
          toggle("follow", p.followed_by_me, "Follow", "Unfollow"),
          toggle("block", p.blocked_by_me, "Block", "Unblock"),
          toggle("hide", p.hidden_by_me, "Hide from feeds", "Unhide"),
          h("button", { type: "button", onclick: () => openReport("profile", p.handle, "profile") }, "Report"),
        ]
      : [];
  return [
    avatar(p),
    h(
      "div",
      { class: "profile-text" },
      h("h1", { tabindex: "-1" }, p.display_name || p.handle),
      h("p", { class: "muted" }, `@${p.handle}${p.role !== "user" ? ` · ${p.role}` : ""}`),
      p.bio ? h("p", { class: "bio" }, p.bio) : null,
      h(
        "p",
        { class: "counts" },
        h("span", {}, h("strong", {}, String(p.posts)), " posts"),
        h("span", {}, h("strong", {}, String(p.followers)), " followers"),
        h("span", {}, h("strong", {}, String(p.following)), " following"),
      ),
      h("div", { class: "row" }, buttons),
    ),
  ];
}

function gridCell(item) {
  return h(
    "li",
    {},
    h(
      "a",
      { href: `/p/${item.id}`, "aria-label": item.caption || item.prompt },
      h("img", { src: item.thumbnail_url, alt: "", loading: "lazy", width: 180, height: 320 }),
      h("span", { class: "cell-likes", "aria-hidden": "true" }, `♥ ${item.counts.likes}`),
    ),
  );
}
