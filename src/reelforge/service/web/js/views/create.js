// Make a clip: prompt, length, size, an optional first frame, cameos; then its live progress (polled every 500 ms)
// and the finished draft with the Post form and its toggles.
import { get, post } from "../api.js";
import { h } from "../dom.js";
import { field, formErrorLine, onSubmit } from "../forms.js";
import { go } from "../main.js";

const POLL_MS = 500;
const SIZES = ["720x1280", "1280x720", "1024x1792", "1792x1024"];

export async function createView(root, _params, query) {
  root.append(h("h1", { tabindex: "-1" }, "Create"));
  const stage = h("div", { class: "stage" });
  const videoId = query.get("video");
  if (videoId) {
    root.append(stage);
    return followVideo(stage, videoId);
  }
  const form = createForm(stage);
  root.append(form, stage);
  let stop = null;
  onSubmit(form, async (data) => {
    const video = await post("/videos", {
      prompt: data.get("prompt"),
      seconds: data.get("seconds"),
      size: data.get("size"),
      cameos: parseHandles(data.get("cameos")),
      input_reference: await dataUrl(data.get("image")),
    });
    history.replaceState({}, "", `/create?video=${encodeURIComponent(video.id)}`);
    form.hidden = true;
    stop = followVideo(stage, video.id);
  });
  form.querySelector("textarea").focus();
  return () => stop && stop();
}

function createForm() {
  return h(
    "form",
    { class: "card", "aria-label": "New clip" },
    field("Prompt", h("textarea", { name: "prompt", rows: 4, required: true, maxlength: 2000 }), {
      hint: "What happens, who is in it, what they say",
    }),
    h(
      "div",
      { class: "row" },
      field(
        "Length",
        h("select", { name: "seconds" }, ["4", "8", "12"].map((s) => h("option", { value: s }, `${s} s`))),
      ),
      field("Size", h("select", { name: "size" }, SIZES.map((s) => h("option", { value: s }, s)))),
    ),
    field("Cameos", h("input", { name: "cameos", placeholder: "@alice @bob", autocomplete: "off" }), {
      hint: "Up to 2 by @handle (an @handle in the prompt casts one too): yours, or ones whose owners let you",
    }),
    field("First frame (optional)", h("input", { name: "image", type: "file", accept: "image/png,image/jpeg,image/webp" }), {
      hint: "The clip starts from this picture",
      param: "input_reference",
    }),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Generate"),
  );
}

/** A chosen image file as a data URL, or null when none was chosen. */
function dataUrl(file) {
  if (!(file instanceof File) || file.size === 0) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** "@alice, bob" -> ["alice", "bob"]; the server checks each handle. */
function parseHandles(text) {
  return String(text || "")
    .split(/[\s,]+/)
    .map((word) => word.replace(/^@/, ""))
    .filter(Boolean);
}

/** Poll the video until it is done, drawing its progress; then show the draft. */
function followVideo(stage, videoId) {
  const bar = h("progress", { max: 100, value: 0, id: "progress", "aria-label": "Generation progress" });
  const status = h("p", { class: "status", role: "status" }, "Queued…");
  stage.replaceChildren(h("div", { class: "card progress-card" }, h("label", { for: "progress" }, "Progress"), bar, status));
  let timer = 0;
  let stopped = false;
  const tick = async () => {
    let video;
    try {
      video = await get(`/videos/${videoId}`);
    } catch (error) {
      status.textContent = error.message;
      return;
    }
    if (stopped) return;
    bar.value = video.progress;
    if (video.status === "completed") {
      showDraft(stage, video);
    } else if (video.status === "failed") {
      status.textContent = `Failed: ${video.error || "unknown error"}`;
      status.classList.add("error");
    } else {
      status.textContent = `${video.status === "queued" ? "Queued" : "Generating"}… ${video.progress} %`;
      timer = setTimeout(tick, POLL_MS);
    }
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function showDraft(stage, video) {
  const player = h("video", {
    class: "draft-video",
    src: video.video_url,
    poster: video.thumbnail_url,
    controls: true,
    loop: true,
    playsinline: true,
    "aria-label": `Draft: ${video.prompt}`,
  });
  const summary = h("p", { class: "muted" }, `Draft · ${video.seconds} s · ${video.size} · ${video.model}`);
  const prompt = h("p", { class: "prompt" }, video.prompt);
  if (video.posted) {
    stage.replaceChildren(
      h("div", { class: "card" }, player, prompt, summary, h("p", {}, h("a", { href: `/p/${video.id}` }, "See the post"))),
    );
    return;
  }
  const check = (name, label) => field(label, h("input", { type: "checkbox", name, props: { checked: true } }));
  const form = h(
    "form",
    { class: "post-form", "aria-label": "Post this draft" },
    field("Caption", h("textarea", { name: "caption", rows: 2, maxlength: 500 })),
    check("allow_remix", "Allow remix"),
    check("allow_download", "Allow download"),
    check("comments_on", "Comments on"),
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Post"),
  );
  onSubmit(form, async (data) => {
    await post(`/videos/${video.id}/post`, {
      caption: data.get("caption"),
      allow_remix: data.has("allow_remix"),
      allow_download: data.has("allow_download"),
      comments_on: data.has("comments_on"),
    });
    go(`/p/${video.id}`);
  });
  stage.replaceChildren(h("div", { class: "card" }, h("h2", {}, "Your draft"), player, prompt, summary, form));
}
