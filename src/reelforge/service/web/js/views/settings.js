// Settings: the For You steering text (stored, shown, editable), which notifications to
// get, the profile and its avatar.
import { get, patch, post, put } from "../api.js";
import { h, toast } from "../dom.js";
import { field, formErrorLine, onSubmit } from "../forms.js";
import { refreshSession, session } from "../main.js";

const TYPE_LABELS = {
  like: "Likes",
  comment: "Comments",
  reply: "Replies",
  follow: "New followers",
  remix: "Remixes of your posts",
  cameo: "Your cameo used",
  report: "Report outcomes",
};

export async function settingsView(root) {
  const [settings, profile] = await Promise.all([get("/me/settings"), get(`/users/${session.user.handle}`)]);
  root.append(h("h1", { tabindex: "-1" }, "Settings"), steeringForm(settings), notificationsForm(settings), profileForm(profile), avatarForm());
}

function steeringForm(settings) {
  const current = h("p", { class: "steering-now" });
  const show = (text) =>
    current.replaceChildren(text ? `For You is steered by: “${text}”` : "For You is not steered: write what you want more or less of.");
  show(settings.steering);
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "steering-title" },
    h("h2", { id: "steering-title" }, "Steer For You"),
    current,
    field("Steering", h("textarea", { name: "steering", rows: 2, maxlength: 500, props: { value: settings.steering } }), {
      hint: "For example: more cats and cooking, no sports",
    }),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Save steering"),
  );
  onSubmit(form, async (data) => {
    const saved = await put("/me/settings", { steering: data.get("steering") });
    show(saved.steering);
    toast("Steering saved.");
  });
  return form;
}

function notificationsForm(settings) {
  const boxes = Object.entries(settings.notifications).map(([type, on]) =>
    field(TYPE_LABELS[type] || type, h("input", { type: "checkbox", name: type, props: { checked: on } })),
  );
  const form = h(
    "form",
    { class: "card" },
    h("fieldset", {}, h("legend", {}, "Notify me about"), boxes),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Save notifications"),
  );
  onSubmit(form, async (data) => {
    const chosen = Object.fromEntries(Object.keys(settings.notifications).map((type) => [type, data.has(type)]));
    await put("/me/settings", { notifications: chosen });
    toast("Notification settings saved.");
  });
  return form;
}

function profileForm(profile) {
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "profile-title" },
    h("h2", { id: "profile-title" }, "Profile"),
    field("Display name", h("input", { name: "display_name", maxlength: 80, props: { value: profile.display_name } })),
    field("Bio", h("textarea", { name: "bio", rows: 3, maxlength: 500, props: { value: profile.bio } })),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Save profile"),
  );
  onSubmit(form, async (data) => {
    await patch("/me", { display_name: data.get("display_name"), bio: data.get("bio") });
    toast("Profile saved.");
  });
  return form;
}

function avatarForm() {
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "avatar-title" },
    h("h2", { id: "avatar-title" }, "Avatar"),
    field("Image", h("input", { type: "file", name: "avatar", accept: "image/png,image/jpeg,image/webp", required: true }), {
      hint: "PNG, JPEG or WebP, at most 5 MB",
    }),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Upload avatar"),
  );
  onSubmit(form, async (data) => {
    const upload = new FormData();
    upload.append("avatar", data.get("avatar"));
    await post("/me/avatar", upload);
    await refreshSession();
    toast("Avatar updated.");
  });
  return form;
}
