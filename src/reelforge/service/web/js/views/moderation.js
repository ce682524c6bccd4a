// The moderation queue: open reports, each with its thread between reporter and
// moderators, uphold or dismiss with a note; and the audit of every moderator action.
import { get, post } from "../api.js";
import { append, h, timeAgo } from "../dom.js";
import { field, formErrorLine, onSubmit } from "../forms.js";
import { session } from "../main.js";

export async function moderationView(root) {
  const moderator = session.user.role !== "user";
  root.append(h("h1", { tabindex: "-1" }, moderator ? "Moderation" : "Your reports"));
  const queue = h("ul", { class: "reports", "aria-label": "Reports" });
  const detail = h("section", { class: "report-detail", "aria-live": "polite" });
  const audit = h("section", { class: "audit" });
  append(root, [queue, detail, moderator ? audit : null]);
  const reload = async () => {
    const page = await get(moderator ? "/reports?status=open" : "/reports");
    queue.replaceChildren(...page.data.map((r) => reportRow(r, () => openReport(detail, r.id, moderator, reload))));
    if (!page.data.length) queue.append(h("li", { class: "empty" }, "No open reports."));
    if (moderator) await drawAudit(audit);
  };
  await reload();
}

function reportRow(report, open) {
  return h(
    "li",
    { class: "report-row" },
    h(
      "button",
      { type: "button", class: "link", onclick: open },
      `${report.reason}: ${report.target_type} ${report.target_id}`,
    ),
    h("span", { class: "muted" }, ` · by @${report.reporter.handle} · ${timeAgo(report.created_at)} · ${report.status}`),
  );
}

function targetLink(report) {
  if (report.target_type === "post") return h("a", { href: `/p/${report.target_id}` }, "the post");
  if (report.target_type === "video") return h("span", {}, `video ${report.target_id}`);
  if (report.target_type === "profile") return h("a", { href: `/u/${report.target_id}` }, `@${report.target_id}`);
  return h("span", {}, `comment ${report.target_id}`);
}

async function openReport(detail, reportId, moderator, reloadQueue) {
  const report = await get(`/reports/${reportId}`);
  const thread = h(
    "ol",
    { class: "thread" },
    report.messages.map((m) =>
      h("li", {}, h("strong", {}, `@${m.author.handle}`), h("span", { class: "muted" }, ` · ${timeAgo(m.created_at)}`), h("p", {}, m.body)),
    ),
  );
  const message = h(
    "form",
    { class: "message-form" },
    field("Message", h("textarea", { name: "body", rows: 2, required: true, maxlength: 2000 })),
    formErrorLine(),
    h("button", { type: "submit" }, "Send message"),
  );
  onSubmit(message, async (data) => {
    await post(`/reports/${reportId}/messages`, { body: data.get("body") });
    await openReport(detail, reportId, moderator, reloadQueue);
  });
  const resolve = h(
    "form",
    { class: "resolve-form" },
    field("Note", h("textarea", { name: "note", rows: 2, maxlength: 2000 })),
    formErrorLine(),
    h(
      "div",
      { class: "row" },
      h("button", { type: "submit", class: "danger", name: "outcome", value: "upheld" }, "Uphold (take down)"),
      h("button", { type: "submit", name: "outcome", value: "dismissed" }, "Dismiss"),
    ),
  );
  resolve.addEventListener("submit", async (event) => {
    event.preventDefault();
    const outcome = event.submitter ? event.submitter.value : "dismissed";
    const data = new FormData(resolve);
    try {
      await post(`/reports/${reportId}/resolve`, { outcome, note: data.get("note") });
      await openReport(detail, reportId, moderator, reloadQueue);
      await reloadQueue();
    } catch (error) {
      resolve.querySelector(".form-error").textContent = error.message;
    }
  });
  detail.replaceChildren();
  append(detail, [
    h("h2", { tabindex: "-1" }, `Report: ${report.reason}`),
    h("p", {}, `On `, targetLink(report), ` · by @${report.reporter.handle} · ${report.status}`),
    report.target_summary ? h("p", { class: "target-summary" }, report.target_summary) : null,
    report.target_type === "video" && report.target_summary !== "deleted"
      ? h("video", { class: "review-clip", src: `/api/posts/${encodeURIComponent(report.target_id)}/video`, controls: true, playsinline: true })
      : null,
    report.details ? h("p", { class: "details" }, report.details) : null,
    h("h3", {}, "Thread"),
    thread,
    message,
    moderator && report.status === "open" ? resolve : null,
  ]);
  detail.querySelector("h2").focus();
}

async function drawAudit(audit) {
  const page = await get("/moderation/audit?limit=50");
  const rows = page.data.map((a) =>
    h(
      "tr",
      {},
      h("td", {}, timeAgo(a.created_at)),
      h("td", {}, `@${a.moderator}`),
      h("td", {}, a.action),
      h("td", {}, `${a.target_type} ${a.target_id}`),
      h("td", {}, a.note),
    ),
  );
  audit.replaceChildren(
    h("h2", {}, "Audit"),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, ["When", "Moderator", "Action", "Target", "Note"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows),
    ),
  );
}
