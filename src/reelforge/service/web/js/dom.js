// Building the page's elements. Text a person wrote (captions, prompts, comments, bios,
// names) only ever goes in as a text node: this module has no innerHTML anywhere, so a
// `<script>` in a comment is shown as those characters and never parsed as markup.

const SVG = "http://www.w3.org/2000/svg";

/** h("a", {href: "/x", class: "c", onclick: f}, "text", child) -> an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "props") {
      Object.assign(el, value); // properties such as muted or checked, not attributes
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "class") {
      el.setAttribute("class", value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Icons as SVG paths drawn with strokes: local, no icon font, no emoji font needed.
const ICONS = {
  heart: "M12 20s-7.5-4.6-9.3-9.3A4.9 4.9 0 0 1 12 6.6a4.9 4.9 0 0 1 9.3 4.1C19.5 15.4 12 20 12 20z",
  comment: "M4 5h16v11H9l-5 4z",
  remix: "M4 11a8 8 0 0 1 14-4.6M19 3v4h-4M20 13a8 8 0 0 1-14 4.6M5 21v-4h4",
  download: "M12 4v11M7 10l5 5 5-5M5 20h14",
  share: "M10 14a4 4 0 0 0 5.7 0l3-3A4 4 0 0 0 13 5.3l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3A4 4 0 0 0 11 18.7l1-1",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  sound: "M4 9h4l5-4v14l-5-4H4zM16 9a4 4 0 0 1 0 6M18.5 6.5a7.5 7.5 0 0 1 0 11",
  muted: "M4 9h4l5-4v14l-5-4H4zM16 9l5 6M21 9l-5 6",
  why: "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 11v6M12 7.5v.01",
};

export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", `icon icon-${name}`);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

export function timeAgo(epochSeconds) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - epochSeconds));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

let toastTimer = 0;
/** A short message read out by screen readers (the toast is an aria-live region). */
export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove("shown"), 4000);
}
