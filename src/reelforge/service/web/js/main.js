// The page's router and its frame: who is signed in, the navigation with the live unread
// badge (Server-Sent Events from /api/notifications/stream), and one view at a time.
import { get, post, setCsrf } from "./api.js";
import { h, icon } from "./dom.js";
import { loginView, signupView } from "./views/auth.js";
import { cameosView } from "./views/cameos.js";
import { createView } from "./views/create.js";
import { draftsView } from "./views/drafts.js";
import { feedView, postView } from "./views/feed.js";
import { moderationView } from "./views/moderation.js";
import { notificationsView } from "./views/notifications.js";
import { profileView } from "./views/profile.js";
import { settingsView } from "./views/settings.js";

export const session = { user: null };

// [path pattern, view, needs a signed-in person]; web_routes.PAGE_PATHS lists the same.
const ROUTES = [
  [/^\/(feed)?$/, feedView("for-you"), true],
  [/^\/following$/, feedView("following"), true],
  [/^\/create$/, createView, true],
  [/^\/drafts$/, draftsView, true],
  [/^\/notifications$/, notificationsView, true],
  [/^\/settings$/, settingsView, true],
  [/^\/cameos$/, cameosView, true],
  [/^\/moderation$/, moderationView, true],
  [/^\/login$/, loginView, false],
  [/^\/signup$/, signupView, false],
  [/^\/u\/([a-z0-9_]{1,30})$/, profileView, false],
  [/^\/p\/([A-Za-z0-9_]{1,64})$/, postView, false],
];

const root = document.getElementById("view");
let teardown = null;
let firstRender = true;

export function go(path, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"]({}, "", path);
  render();
}

async function render() {
  if (teardown) teardown();
  teardown = null;
  const path = location.pathname;
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  markCurrent(path);
  root.replaceChildren();
  if (!route) {
    root.append(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "/" }, "Go to the feed")));
    return;
  }
  const [pattern, view, needsPerson] = route;
  if (needsPerson && !session.user) {
    go(`/login?next=${encodeURIComponent(path + location.search)}`, { replace: true });
    return;
  }
  const params = path.match(pattern).slice(1);
  const query = new URLSearchParams(location.search);
  try {
    teardown = (await view(root, params, query)) || null;
  } catch (error) {
    root.append(h("p", { class: "error", role: "alert" }, error.message));
  }
  // After a navigation, screen readers start at the new view's heading.
  if (!firstRender) (root.querySelector("h1") || root).focus({ preventScroll: true });
  firstRender = false;
}

export async function refreshSession() {
  const current = await get("/session");
  session.user = current.user;
  setCsrf(current.csrf_token);
  drawNav();
  startLiveBadge();
}

function drawNav() {
  const nav = document.getElementById("nav");
  const user = session.user;
  const links = user
    ? [
        h("a", { href: "/", dataset: { section: "feed" } }, "Home"),
        h("a", { href: "/create" }, "Create"),
        h("a", { href: "/drafts" }, "Drafts"),
        h(
          "a",
          { href: "/notifications", id: "nav-inbox" },
          "Inbox",
          h("span", { id: "badge", class: "badge", hidden: true }),
        ),
        h("a", { href: `/u/${user.handle}` }, "Profile"),
        // On phones these are on one's own profile page instead (profile.js).
        h("a", { href: "/cameos", class: "wide-only" }, "Cameos"),
        h("a", { href: "/settings", class: "wide-only" }, "Settings"),
        user.role !== "user" ? h("a", { href: "/moderation", class: "wide-only" }, "Moderation") : null,
        h("button", { type: "button", class: "link wide-only", onclick: logOut }, "Log out"),
      ]
    : [h("a", { href: "/login" }, "Log in"), h("a", { href: "/signup" }, "Sign up")];
  nav.replaceChildren(
    h("a", { href: "/", class: "brand" }, icon("remix"), "reelforge"),
    ...links.filter(Boolean),
  );
  markCurrent(location.pathname);
}

function markCurrent(path) {
  for (const link of document.querySelectorAll("#nav a")) {
    const here = link.getAttribute("href");
    const current =
      here === path || (here === "/" && ["/", "/feed", "/following"].includes(path));
    if (current && !link.classList.contains("brand")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

export async function logOut() {
  await post("/logout").catch(() => null);
  stopLiveBadge();
  await refreshSession();
  go("/login");
}

// Live unread badge ---------------------------------------------------------------------

let stream = null;

/** The unread count in the nav (from the stream, and from views that mark read). */
export function setBadge(unread) {
  const badge = document.getElementById("badge");
  if (!badge) return;
  badge.hidden = !unread;
  badge.textContent = String(unread);
  const link = document.getElementById("nav-inbox");
  link.setAttribute("aria-label", unread ? `Inbox, ${unread} unread` : "Inbox");
}

function startLiveBadge() {
  stopLiveBadge();
  if (!session.user) return;
  // The stream sends `unread` ({"unread": n}) first and after each batch, and one
  // `notification` event per new notification (service/api/notifications.py). The browser
  // reconnects on its own, resuming after the last notification id it got.
  stream = new EventSource("/api/notifications/stream");
  stream.addEventListener("unread", (event) => setBadge(JSON.parse(event.data).unread));
  stream.addEventListener("notification", (event) => {
    window.dispatchEvent(new CustomEvent("rf:notification", { detail: JSON.parse(event.data) }));
  });
}

function stopLiveBadge() {
  if (stream) stream.close();
  stream = null;
}

// Links inside the app change the view without reloading the page.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.origin !== location.origin || link.hasAttribute("download") || link.target) return;
  if (!ROUTES.some(([pattern]) => pattern.test(link.pathname))) return;
  event.preventDefault();
  go(link.pathname + link.search);
});
window.addEventListener("popstate", render);

refreshSession()
  .catch(() => drawNav())
  .then(render);
