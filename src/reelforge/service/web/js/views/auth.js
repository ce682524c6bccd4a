// Sign up and log in. The server sets the HttpOnly session cookie; the page then reads
// the CSRF token from GET /api/session.
import { post } from "../api.js";
import { h } from "../dom.js";
import { field, formErrorLine, onSubmit } from "../forms.js";
import { go, refreshSession } from "../main.js";

function nextPath(query) {
  const next = query.get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/"; // never another host
}

export async function loginView(root, _params, query) {
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title", tabindex: "-1" }, "Log in"),
    field("Handle", h("input", { name: "handle", autocomplete: "username", required: true, maxlength: 30 })),
    field("Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Log in"),
    h("p", {}, "New here? ", h("a", { href: "/signup" }, "Sign up")),
  );
  root.append(form);
  onSubmit(form, async (data) => {
    await post("/login", { handle: data.get("handle"), password: data.get("password") });
    await refreshSession();
    go(nextPath(query), { replace: true });
  });
  form.querySelector("input").focus();
}

export async function signupView(root, _params, query) {
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "signup-title" },
    h("h1", { id: "signup-title", tabindex: "-1" }, "Sign up"),
    field(
      "Handle",
      h("input", { name: "handle", autocomplete: "username", required: true, maxlength: 30 }),
      { hint: "3 to 30 of a-z, 0-9 and _" },
    ),
    field("Display name", h("input", { name: "display_name", autocomplete: "name", maxlength: 80 })),
    field(
      "Password",
      h("input", { name: "password", type: "password", autocomplete: "new-password", required: true }),
      { hint: "At least 10 characters" },
    ),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Create account"),
    h("p", {}, "Have an account? ", h("a", { href: "/login" }, "Log in")),
  );
  root.append(form);
  onSubmit(form, async (data) => {
    await post("/signup", {
      handle: data.get("handle"),
      password: data.get("password"),
      display_name: data.get("display_name"),
    });
    await refreshSession();
    go(nextPath(query), { replace: true });
  });
  form.querySelector("input").focus();
}
