// Modal dialogs (<dialog>: focus stays inside, Escape closes, focus returns after).
import { post } from "../api.js";
import { h, toast } from "../dom.js";
import { field, formErrorLine, onSubmit } from "../forms.js";
import { go } from "../main.js";

let nextId = 0;

export function openDialog(title, ...content) {
  const titleId = `dialog-title-${++nextId}`;
  const opener = document.activeElement;
  const dialog = h(
    "dialog",
    { class: "sheet", "aria-labelledby": titleId },
    h(
      "div",
      { class: "sheet-head" },
      h("h2", { id: titleId }, title),
      h("button", { type: "button", class: "close", "aria-label": "Close", onclick: () => dialog.close() }, "×"),
    ),
    ...content,
  );
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener instanceof HTMLElement) opener.focus({ preventScroll: true });
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

export const REPORT_REASONS = [
  ["likeness", "This is me / my likeness"],
  ["copyright", "Copyright"],
  ["harmful", "Harmful"],
  ["harassment", "Harassment"],
  ["spam", "Spam"],
  ["other", "Other"],
];

/** Report a post, comment, profile or video (target_id: video id, comment id, handle,
 * video id; a video: a cameo owner's report of a video that casts them, drafts included).
 * `onSent` runs once the report is filed. */
export function openReport(targetType, targetId, what, { onSent } = {}) {
  const reason = h(
    "select",
    { name: "reason", required: true },
    REPORT_REASONS.map(([value, label]) => h("option", { value }, label)),
  );
  const details = h("textarea", { name: "details", rows: 3, maxlength: 2000 });
  const form = h(
    "form",
    {},
    field("Reason", reason),
    field("Details (optional)", details, { hint: "What should a moderator know?" }),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Send report"),
  );
  const dialog = openDialog(`Report ${what}`, form);
  onSubmit(form, async (data) => {
    await post("/reports", {
      target_type: targetType,
      target_id: targetId,
      reason: data.get("reason"),
      details: data.get("details"),
    });
    dialog.close();
    toast("Report sent. A moderator will look at it.");
    if (onSent) await onSent();
  });
  reason.focus();
}

/** Remix a post: a prompt for what changes; the remix is a new draft with its progress. */
export function openRemix(item) {
  const prompt = h("textarea", { name: "prompt", rows: 3, required: true, maxlength: 2000 });
  const form = h(
    "form",
    {},
    field("Remix prompt", prompt, { hint: `Remixing @${item.creator.handle}'s post` }),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Make remix"),
  );
  const dialog = openDialog("Remix", form);
  onSubmit(form, async (data) => {
    const video = await post(`/posts/${item.id}/remix`, { prompt: data.get("prompt") });
    dialog.close();
    go(`/create?video=${encodeURIComponent(video.id)}`);
  });
  prompt.focus();
}
