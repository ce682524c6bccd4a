// Cameos (docs/CAMEOS.md): verifying one's likeness with the camera and microphone (a
// challenge of digits to read and head turns, one recorded take, the server's checks each
// with its result), and the owner's controls: who may cast it, presets and preferences,
// approval before posting, a webhook told of every use (its secret shown once), grants,
// every video with it, the consent log, deletion.
import { del, get, patch, post, q } from "../api.js";
import { h, timeAgo, toast } from "../dom.js";
import { field, formErrorLine, onSubmit } from "../forms.js";
import { openDialog, openReport } from "./dialogs.js";

const MIN_TAKE_S = 5; // the server takes 5-15 s (service/api/cameos.py TAKE_SECONDS)
const MAX_TAKE_S = 15;
const TICK_MS = 100;

const ACCESS = [
  ["only_me", "Only me"],
  ["approved", "People I approve"],
  ["mutuals", "Mutuals"],
  ["everyone", "Everyone"],
];
const PRESETS = [
  ["no_appearance_changes", "No changes to my appearance"],
  ["no_embarrassing_or_romantic", "No embarrassing or romantic scenes"],
  ["no_political", "No political content"],
];
const TURN_WORDS = { left: "Turn your head to your left", right: "Turn your head to your right" };
const CHECK_NAMES = {
  readable: "Readable take",
  digits: "Digits spoken in order",
  head_turns: "Head turns in order",
  same_face: "One face throughout",
  lip_sync: "Mouth moves with the speech",
  face_quality: "Face large and lit enough",
};

export async function cameosView(root) {
  root.append(h("h1", { tabindex: "-1" }, "Cameos"));
  const controls = h("div", { class: "cameo-list" });
  const redraw = async () => {
    const mine = (await get("/cameos")).data;
    const full = await Promise.all(mine.map((c) => get(`/cameos/${q(c.handle)}`)));
    controls.replaceChildren(...full.map((cameo) => cameoCard(cameo, redraw)));
  };
  const verifier = verifyCard(redraw);
  root.append(verifier.card, controls, characterForm(redraw));
  await redraw();
  return verifier.stop;
}

// Verification ------------------------------------------------------------------------

function verifyCard(onVerified) {
  const body = h("div", { class: "verify-body" });
  const card = h(
    "section",
    { class: "card verify", "aria-labelledby": "verify-title" },
    h("h2", { id: "verify-title" }, "Verify your likeness"),
    h(
      "p",
      { class: "muted" },
      "Read six digits aloud and turn your head as asked, in one 5–15 s take. The checks run on this server; " +
        "the recording is kept only if they pass, and deleting your cameo deletes it.",
    ),
    body,
  );
  let stream = null;
  let recorder = null;
  let timer = 0;
  let leaving = false; // the page is being left: a take being recorded is dropped

  const stop = () => {
    clearInterval(timer);
    if (recorder && recorder.state !== "inactive") recorder.stop();
    recorder = null;
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
  };

  const start = () => {
    const button = h("button", { type: "button", class: "primary", onclick: () => challenge() }, "Get challenge");
    body.replaceChildren(button);
  };

  const challenge = async () => {
    const error = h("p", { class: "error", role: "alert" });
    body.replaceChildren(h("p", { role: "status" }, "Getting a challenge…"), error);
    let issued;
    try {
      issued = await post("/cameos/challenge");
    } catch (failure) {
      body.replaceChildren(error, h("button", { type: "button", onclick: () => challenge() }, "Try again"));
      error.textContent = failure.message;
      return;
    }
    try {
      // A fresh stream per challenge: the camera is released while results are shown.
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    } catch (failure) {
      body.replaceChildren(error);
      error.textContent = `The camera and microphone are needed: ${failure.message}`;
      return;
    }
    record(issued);
  };

  const record = (issued) => {
    const preview = h("video", {
      class: "verify-preview",
      props: { srcObject: stream, muted: true, autoplay: true, playsInline: true },
      "aria-label": "Camera preview",
    });
    const clock = h("p", { class: "verify-clock", role: "status" }, "Ready: press Record, then read and turn.");
    const recordButton = h("button", { type: "button", class: "primary" }, "Record");
    const stopButton = h("button", { type: "button", disabled: true }, "Stop");
    const expires = new Date(issued.expires_at * 1000).toLocaleTimeString();
    body.replaceChildren(
      h("p", {}, "Read these digits aloud, one by one:"),
      h("p", { class: "verify-digits", "aria-label": `Digits: ${issued.digits}` }, issued.digits),
      h("p", {}, "Meanwhile, in this order:"),
      h("ol", { class: "verify-turns" }, issued.turns.map((turn) => h("li", {}, TURN_WORDS[turn] || turn))),
      h("p", { class: "muted" }, `Record before ${expires}.`),
      preview,
      clock,
      h("div", { class: "row" }, recordButton, stopButton),
    );
    recordButton.addEventListener("click", () => {
      recordButton.disabled = true;
      const chunks = [];
      const type = ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"].find((t) => MediaRecorder.isTypeSupported(t));
      recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
      recorder.addEventListener("dataavailable", (event) => event.data.size && chunks.push(event.data));
      recorder.addEventListener("stop", () => {
        clearInterval(timer);
        if (leaving) return;
        const mime = (recorder && recorder.mimeType) || type || "video/webm";
        recorder = null;
        stop();
        upload(issued, new Blob(chunks, { type: mime.split(";")[0] }));
      });
      const began = performance.now();
      recorder.start(250);
      stopButton.onclick = () => recorder && recorder.stop();
      timer = setInterval(() => {
        const elapsed = (performance.now() - began) / 1000;
        stopButton.disabled = elapsed < MIN_TAKE_S;
        clock.textContent =
          elapsed < MIN_TAKE_S
            ? `Recording ${elapsed.toFixed(1)} s: keep going, Stop after ${MIN_TAKE_S} s`
            : `Recording ${elapsed.toFixed(1)} s: stops by itself in ${Math.max(0, MAX_TAKE_S - elapsed).toFixed(0)} s`;
        if (elapsed >= MAX_TAKE_S && recorder && recorder.state === "recording") recorder.stop();
      }, TICK_MS);
    });
  };

  const upload = async (issued, take) => {
    const status = h("p", { role: "status", class: "verify-status" }, `Uploading the take (${(take.size / 1e6).toFixed(1)} MB)…`);
    body.replaceChildren(status);
    const form = new FormData();
    form.append("challenge_id", issued.id);
    form.append("take", new File([take], take.type === "video/mp4" ? "take.mp4" : "take.webm", { type: take.type }));
    // The checks run while the request is open: say so once the bytes are likely sent.
    const later = setTimeout(() => (status.textContent = "Checking the take: digits, head turns, face, lip sync…"), 1500);
    let result;
    try {
      result = await post("/cameos/verify", form);
    } catch (failure) {
      clearTimeout(later);
      status.textContent = `The take was not accepted: ${failure.message}`;
      status.classList.add("error");
      body.append(tryAgain());
      return;
    } finally {
      clearTimeout(later);
    }
    showResult(result);
  };

  const tryAgain = () => h("button", { type: "button", class: "primary", onclick: () => challenge() }, "Try again");

  const showResult = (result) => {
    const rows = result.checks.map((check) =>
      h(
        "li",
        { class: `liveness-check ${check.passed ? "passed" : "failed"}`, dataset: { check: check.name } },
        h("span", { class: "check-mark", "aria-hidden": "true" }, check.passed ? "✓" : "✗"),
        h("strong", {}, CHECK_NAMES[check.name] || check.name),
        h("span", { class: "visually-hidden" }, check.passed ? " passed" : " failed"),
        h("span", { class: "check-detail" }, check.detail),
      ),
    );
    const verdict = result.passed
      ? h("p", { class: "verify-verdict passed", role: "status" }, `Verified: your cameo is @${result.cameo.handle}.`)
      : h("p", { class: "verify-verdict failed", role: "alert" }, "Not verified: see the failed checks, then try again with a new challenge.");
    body.replaceChildren(verdict, h("ul", { class: "checks", "aria-label": "Checks" }, rows));
    stop();
    if (result.passed) onVerified();
    else body.append(tryAgain());
  };

  start();
  const leave = () => {
    leaving = true;
    stop();
  };
  return { card, stop: leave };
}

// The owner's controls ----------------------------------------------------------------

function cameoCard(cameo, redraw) {
  const path = `/cameos/${q(cameo.handle)}`;
  const title = `cameo-${cameo.handle}`;
  const state = cameo.kind === "person" ? (cameo.verified ? "verified" : "not verified") : "character";
  const card = h(
    "section",
    { class: "card cameo", "aria-labelledby": title, dataset: { handle: cameo.handle } },
    h("h2", { id: title }, `@${cameo.handle}`),
    h("p", { class: "muted" }, `${cameo.display_name} · ${state}`),
    settingsForm(cameo, path),
    grantsPart(cameo, path, redraw),
  );
  const videos = h("div", { class: "cameo-videos" });
  const log = h("div", { class: "cameo-log" });
  card.append(videos, log, deletePart(cameo, path, card));
  drawVideos(videos, path, log);
  drawLog(log, path, cameo.handle);
  return card;
}

function settingsForm(cameo, path) {
  const webhook = webhookPart(cameo, path);
  const access = h(
    "select",
    { name: "access" },
    ACCESS.map(([value, label]) => h("option", { value, props: { selected: value === cameo.access } }, label)),
  );
  const form = h(
    "form",
    { class: "cameo-settings", "aria-label": `Settings of @${cameo.handle}` },
    field("Who may cast it", access, { hint: "Mutuals: people you follow who follow you back" }),
    field(
      "Approve before posting",
      h("input", { type: "checkbox", name: "approve_before_posting", props: { checked: cameo.approve_before_posting } }),
      { hint: "A video with it cannot be posted until you approve it" },
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Rules for every video with it"),
      PRESETS.map(([name, label]) => field(label, h("input", { type: "checkbox", name, props: { checked: cameo.presets[name] } }))),
    ),
    field("Preferences", h("textarea", { name: "preferences", rows: 2, maxlength: 2000, props: { value: cameo.preferences } }), {
      hint: "In your words, for example: no scenes with horses",
    }),
    field(
      "Webhook URL",
      h("input", {
        type: "url",
        name: "webhook_url",
        maxlength: 2000,
        placeholder: "https://example.com/hooks/cameo",
        autocomplete: "off",
        props: { value: cameo.webhook_url || "" },
      }),
      { hint: "Told of every use by someone else, as a signed POST (Standard Webhooks). Empty: none." },
    ),
    webhook.box,
    formErrorLine(),
    h("button", { type: "submit", class: "primary" }, "Save settings"),
  );
  let savedUrl = cameo.webhook_url || "";
  onSubmit(form, async (data) => {
    const changes = {
      access: data.get("access"),
      approve_before_posting: data.has("approve_before_posting"),
      preferences: data.get("preferences"),
    };
    for (const [name] of PRESETS) changes[name] = data.has(name);
    // Only a changed address is sent: each new one comes with a new secret.
    const url = String(data.get("webhook_url")).trim();
    if (url !== savedUrl) changes.webhook_url = url;
    const saved = await patch(path, changes);
    savedUrl = saved.webhook_url || "";
    webhook.show(saved);
    toast("Cameo settings saved.");
  });
  return form;
}

/** The webhook's buttons (a test event, a new secret) and the secret, shown once. */
function webhookPart(cameo, path) {
  const buttons = h("div", { class: "row webhook-buttons" });
  const result = h("p", { class: "webhook-result", role: "status" });
  const secretNote = h("div", { class: "webhook-secret" });
  const showSecret = (secret) => {
    const value = h("input", { type: "text", readonly: true, "aria-label": "Webhook secret", props: { value: secret } });
    const copy = async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(secret);
        toast("Secret copied.");
      } catch {
        toast("Copy the selected secret with Ctrl+C or ⌘C.");
      }
    };
    secretNote.replaceChildren(
      h("p", { role: "status" }, h("strong", {}, "Webhook secret, shown once: "), "copy it now. Your receiver checks each event's signature with it."),
      h("div", { class: "row" }, value, h("button", { type: "button", onclick: copy }, "Copy")),
    );
  };
  const run = async (work) => {
    result.classList.remove("error");
    try {
      await work();
    } catch (failure) {
      result.textContent = failure.message;
      result.classList.add("error");
    }
  };
  const sendTest = () =>
    run(async () => {
      result.textContent = "Sending a test event…";
      const sent = await post(`${path}/webhook/test`);
      result.textContent = sent.delivered ? `Test event delivered: ${sent.detail}.` : `Test event not delivered: ${sent.detail}.`;
      if (!sent.delivered) result.classList.add("error");
    });
  const rotate = () =>
    confirm("Make a new secret? The current one stops working at once.") &&
    run(async () => {
      showSecret((await post(`${path}/webhook/rotate`)).webhook_secret);
      result.textContent = "";
    });
  const show = (current) => {
    buttons.replaceChildren(
      ...(current.webhook_url
        ? [h("button", { type: "button", onclick: sendTest }, "Send test event"), h("button", { type: "button", onclick: rotate }, "New secret")]
        : []),
    );
    result.textContent = "";
    if (current.webhook_secret) showSecret(current.webhook_secret);
    else if (!current.webhook_url) secretNote.replaceChildren();
  };
  show(cameo);
  return { box: h("div", { class: "webhook" }, buttons, result, secretNote), show };
}

function grantsPart(cameo, path, redraw) {
  const rows = cameo.grants.map((grant) =>
    h(
      "li",
      { class: "grant", dataset: { grantee: grant.grantee } },
      h("span", {}, `@${grant.grantee}`),
      h(
        "span",
        { class: "muted" },
        [
          grant.expires_at ? `until ${new Date(grant.expires_at * 1000).toLocaleDateString()}` : "no expiry",
          grant.uses_left === null ? "unlimited uses" : `${grant.uses_left} uses left`,
        ].join(" · "),
      ),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: async () => {
            if (!confirm(`Revoke @${grant.grantee}? Their videos with @${cameo.handle}, and remixes of them, are taken down.`)) return;
            const done = await del(`${path}/grants/${q(grant.grantee)}`);
            const removed = (done && done.removed_videos) || [];
            toast(`Revoked @${grant.grantee}; ${removed.length} video(s) removed.`);
            redraw();
          },
        },
        "Revoke",
      ),
    ),
  );
  const form = h(
    "form",
    { class: "grant-form", "aria-label": `Let someone use @${cameo.handle}` },
    field("Handle", h("input", { name: "grantee", required: true, placeholder: "@handle", autocomplete: "off" })),
    h(
      "div",
      { class: "row" },
      field("Until (optional)", h("input", { name: "expires_at", type: "date" })),
      field("Uses (optional)", h("input", { name: "uses", type: "number", min: 1, max: 10000 })),
    ),
    formErrorLine(),
    h("button", { type: "submit" }, "Grant"),
  );
  onSubmit(form, async (data) => {
    const grantee = String(data.get("grantee")).trim().replace(/^@/, "");
    const day = data.get("expires_at");
    const uses = data.get("uses");
    await post(`${path}/grants/${q(grantee)}`, {
      // The end of the chosen day, in the person's own time zone.
      expires_at: day ? Math.floor(new Date(`${day}T23:59:59`).getTime() / 1000) : null,
      uses: uses ? Number(uses) : null,
    });
    toast(`@${grantee} may use @${cameo.handle}.`);
    redraw();
  });
  return h(
    "div",
    { class: "cameo-grants" },
    h("h3", {}, "People you approved"),
    rows.length ? h("ul", { class: "grants" }, rows) : h("p", { class: "muted" }, "Nobody yet."),
    form,
  );
}

/** Play a video with the cameo, someone else's draft included (the owner may watch it). */
function watch(video) {
  openDialog(
    `@${video.creator}'s video`,
    h("video", { class: "review-clip", src: `/api/posts/${q(video.video_id)}/video`, controls: true, playsinline: true }),
    h("p", { class: "prompt" }, video.prompt),
  );
}

async function drawVideos(box, path, log) {
  const heading = h("h3", {}, "Videos with this cameo");
  let videos;
  try {
    videos = (await get(`${path}/videos`)).data;
  } catch (failure) {
    box.replaceChildren(heading, h("p", { class: "error" }, failure.message));
    return;
  }
  if (!videos.length) {
    box.replaceChildren(heading, h("p", { class: "muted" }, "None yet. You will be told of every one, drafts included."));
    return;
  }
  const act = async (work, message) => {
    try {
      await work();
      toast(message);
    } catch (failure) {
      toast(failure.message);
    }
    drawVideos(box, path, log);
    drawLog(log, path, path.split("/").pop());
  };
  const rows = videos.map((video) =>
    h(
      "tr",
      { dataset: { videoId: video.video_id } },
      h("td", {}, `@${video.creator}`),
      h("td", {}, timeAgo(video.created_at)),
      h("td", { class: "prompt" }, video.prompt),
      h("td", {}, video.posted ? "posted" : video.status.replaceAll("_", " ")),
      h(
        "td",
        {},
        video.status === "awaiting_approval"
          ? h(
              "button",
              { type: "button", class: "primary", onclick: () => act(() => post(`${path}/videos/${q(video.video_id)}/approve`), "Approved.") },
              "Approve",
            )
          : null,
        video.video_status === "completed"
          ? h("button", { type: "button", onclick: () => watch(video) }, "Watch")
          : null,
        h(
          "button",
          {
            type: "button",
            onclick: () =>
              openReport("video", video.video_id, `@${video.creator}'s video`, {
                onSent: () => drawLog(log, path, path.split("/").pop()),
              }),
          },
          "Report",
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: () =>
              confirm("Delete this video, and any remix of it, for everyone?") &&
              act(() => del(`${path}/videos/${q(video.video_id)}`), "Video deleted."),
          },
          "Delete",
        ),
      ),
    ),
  );
  box.replaceChildren(
    heading,
    h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, ["Who", "When", "Prompt", "Status", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
    ),
  );
}

async function drawLog(box, path, handle) {
  const heading = h("h3", {}, "Consent log");
  let log;
  try {
    log = await get(`${path}/log`);
  } catch (failure) {
    box.replaceChildren(heading, h("p", { class: "error" }, failure.message));
    return;
  }
  const rows = log.entries
    .slice()
    .reverse()
    .map((entry) =>
      h(
        "tr",
        {},
        h("td", {}, String(entry.seq)),
        h("td", {}, new Date(entry.at * 1000).toLocaleString()),
        h("td", {}, entry.event.replaceAll("_", " ")),
        h("td", { class: "log-detail" }, [entry.video_id, summary(entry.detail)].filter(Boolean).join(" · ")),
      ),
    );
  box.replaceChildren(
    heading,
    h(
      "p",
      { class: log.intact ? "muted" : "error" },
      log.intact
        ? `${log.entries.length} entries; the hash chain is intact.`
        : `The hash chain is broken: ${log.problems.join("; ")}`,
      " ",
      h("a", { href: `/api${path}/log`, download: `cameo-${handle}-log.json` }, "Export JSON"),
    ),
    h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        { class: "consent-log" },
        h("thead", {}, h("tr", {}, ["#", "When", "Event", "Detail"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
    ),
  );
}

/** An entry's detail in a line: its scalar fields, name=value. */
function summary(detail) {
  return Object.entries(detail || {})
    .filter(([, value]) => value !== null && typeof value !== "object")
    .map(([name, value]) => `${name}=${value}`)
    .join(", ");
}

function deletePart(cameo, path, card) {
  const out = h("div", { class: "cameo-receipt" });
  const button = h(
    "button",
    {
      type: "button",
      class: "danger",
      onclick: async () => {
        if (!confirm(`Delete @${cameo.handle}? Its recording and features are deleted and every video with it is taken down.`)) return;
        button.disabled = true;
        try {
          showReceipt(card, await del(path));
        } catch (failure) {
          out.textContent = failure.message;
          out.classList.add("error");
          button.disabled = false;
        }
      },
    },
    "Delete cameo",
  );
  return h("div", { class: "cameo-delete" }, h("h3", {}, "Delete"), button, out);
}

function showReceipt(card, receipt) {
  const item = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
  card.replaceChildren(
    h("h2", {}, `@${receipt.handle} deleted`),
    h(
      "dl",
      { class: "receipt", "aria-label": "Deletion receipt" },
      item("Cameo", receipt.cameo_id),
      item("Deleted at", new Date(receipt.deleted_at * 1000).toLocaleString()),
      item("Recording deleted", receipt.recording_deleted ? "yes" : "there was none"),
      item("Features deleted", receipt.features_deleted.join(", ") || "none"),
      item("Grants revoked", String(receipt.grants_revoked.length)),
      item("Videos removed", receipt.videos_removed.map((v) => v.video_id).join(", ") || "none"),
    ),
    h("p", { class: "muted" }, "Its consent log stays yours to read: GET /api/cameos/", receipt.handle, "/log."),
  );
}

// Characters --------------------------------------------------------------------------

function characterForm(redraw) {
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "character-title" },
    h("h2", { id: "character-title" }, "Add a character"),
    h("p", { class: "muted" }, "A pet, an object or an original character: never a real person."),
    field("Handle", h("input", { name: "handle", required: true, maxlength: 30, autocomplete: "off" }), {
      hint: "3-30 of a-z, 0-9, _",
    }),
    field("Name", h("input", { name: "display_name", required: true, maxlength: 80 })),
    formErrorLine(),
    h("button", { type: "submit" }, "Add character"),
  );
  onSubmit(form, async (data) => {
    const made = await post("/cameos/characters", { handle: data.get("handle"), display_name: data.get("display_name") });
    form.reset();
    toast(`Character @${made.handle} added.`);
    redraw();
  });
  return form;
}
