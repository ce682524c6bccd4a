// Labelled fields, and API errors shown next to the field the server named (`param`).
import { h } from "./dom.js";

let nextId = 0;

/** A labelled field: <label>, the control, a hint and an error line it is described by. */
export function field(labelText, control, { hint = null, param = null } = {}) {
  const id = control.id || `f${++nextId}`;
  control.id = id;
  const name = param || control.getAttribute("name"); // the API's name for the field
  const errorLine = h("p", { class: "error", id: `${id}-error`, dataset: { errorFor: name } });
  const describedBy = [`${id}-error`];
  let hintLine = null;
  if (hint) {
    hintLine = h("p", { class: "hint", id: `${id}-hint` }, hint);
    describedBy.unshift(`${id}-hint`);
  }
  control.setAttribute("aria-describedby", describedBy.join(" "));
  const label = h("label", { for: id }, labelText);
  if (control.type === "checkbox") {
    return h("div", { class: "field check" }, control, label, hintLine, errorLine);
  }
  return h("div", { class: "field" }, label, control, hintLine, errorLine);
}

/** The line for errors that name no field of this form. */
export function formErrorLine() {
  return h("p", { class: "error form-error", role: "alert", dataset: { errorFor: "_form" } });
}

export function clearErrors(form) {
  for (const line of form.querySelectorAll(".error")) line.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/** Show `error` beside its field (or the form's own line) and move focus there. */
export function showError(form, error) {
  clearErrors(form);
  const param = error.param || "";
  const named = [...form.querySelectorAll("[data-error-for]")].find(
    (line) => line.dataset.errorFor === param,
  );
  const line = named || form.querySelector('[data-error-for="_form"]');
  if (line) line.textContent = error.message;
  const control = named && form.elements.namedItem(param);
  if (control instanceof HTMLElement) {
    control.setAttribute("aria-invalid", "true");
    control.focus();
  }
}

/** Run `work` for a submitted form: buttons disabled meanwhile, errors shown in place. */
export function onSubmit(form, work) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const buttons = form.querySelectorAll("button");
    for (const b of buttons) b.disabled = true;
    try {
      await work(new FormData(form));
    } catch (error) {
      showError(form, error);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  });
  return form;
}
