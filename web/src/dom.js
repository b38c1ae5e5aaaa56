// The console's pages, enhanced: keys made and held in this browser, items
// opened and sealed here. The server renders the markup (see the page contract
// in README); this only wires it. Text from anywhere goes in by textContent.

import * as q from "./crypto.js";
import * as store from "./store.js";
import { HttpError, NetworkError, getBytes, getJSON, oneLine, postAge, postJSON } from "./api.js";

const NEW_KEY_DONE =
  "This device now has a key. Keep the backup file and its passphrase: items sealed only to this device cannot be opened if the device is lost.";
const NO_KEY_YET = "This browser holds no key yet.";
const UNREACHABLE = "The server could not be reached; try again.";
const EXPIRED = "This item has expired: nobody can open it any more.";
const NOT_READER = "You are not one of this item's readers.";
const NO_STORAGE = "This browser would not keep the key (a private window, or its storage is full or blocked).";

// Everything below lives for this page only and is dropped on pagehide.
const objectUrls = new Set(); // blob: URLs handed out (audio, backup downloads)
const unlocked = new Map(); // recipient → identity string, unlocked with its passphrase
const onLeave = new Set(); // functions that clear what the page shows

export function init(doc = document) {
  if (!canWork()) {
    for (const el of doc.querySelectorAll("[data-ql-keys], [data-ql-item], form[data-ql-seal]")) {
      say(el, "This browser cannot seal or open items on this page: it needs a secure (HTTPS) page with WebCrypto. Use quietline open instead.");
    }
    return;
  }
  for (const el of doc.querySelectorAll("[data-ql-needs-script]")) el.hidden = false;
  for (const el of doc.querySelectorAll("[data-ql-no-script]")) el.hidden = true;
  for (const el of doc.querySelectorAll("[data-ql-keys]")) wireKeys(el);
  for (const el of doc.querySelectorAll("[data-ql-item]")) wireItem(el);
  for (const el of doc.querySelectorAll("form[data-ql-seal]")) wireSeal(el);
  addEventListener("pagehide", leave);
}

function canWork() {
  return globalThis.isSecureContext !== false && !!globalThis.crypto?.subtle && typeof Blob === "function";
}

// ---- small DOM helpers ---------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) node.append(c);
  return node;
}

/**
 * The nearest [data-ql-status] for `el`: its own, else an ancestor's that no
 * other form or item owns. `own` keeps to `el` (one status per item). Made
 * inside `el` when there is none.
 */
function statusOf(el, own = false) {
  for (let n = el; n; n = n.parentElement) {
    if (n.matches("[data-ql-status]")) return n;
    for (const s of n.querySelectorAll("[data-ql-status]")) {
      const owner = s.parentElement?.closest("form, [data-ql-item]");
      if (!owner || owner.contains(el)) return s;
    }
    if (own) break;
  }
  const s = h("p", { "data-ql-status": true, role: "status" });
  el.append(s);
  return s;
}

/** One line of plain words for the user, in the nearest status. */
function say(el, message, own = el.matches("[data-ql-item]")) {
  const s = statusOf(el, own);
  if (!s.hasAttribute("role")) s.setAttribute("role", "status");
  s.textContent = oneLine(message);
}

function explain(e) {
  if (e instanceof q.QuietlineError) return e.message;
  if (e instanceof NetworkError) return UNREACHABLE;
  if (e instanceof HttpError) return e.message;
  if (e?.name === "QuotaExceededError" || e?.name === "InvalidStateError" || e?.name === "UnknownError") return NO_STORAGE;
  return `Something went wrong in this browser: ${oneLine(e?.message ?? e)}`;
}

/** Disables a form's buttons while work runs; refuses to start twice. */
async function busy(el, work) {
  if (el.dataset.qlBusy) return;
  el.dataset.qlBusy = "1";
  const buttons = [...el.querySelectorAll("button, input[type=submit]")].filter((b) => !b.disabled);
  for (const b of buttons) b.disabled = true;
  try {
    await work();
  } finally {
    for (const b of buttons) b.disabled = false;
    delete el.dataset.qlBusy;
  }
}

/** Lets the browser paint a status before a few seconds of scrypt. */
function paint() {
  return new Promise((resolve) => setTimeout(resolve, 50));
}

function field(form, name) {
  const f = form.elements.namedItem(name);
  return f && "value" in f ? f : null;
}

function cleanLabel(s) {
  return oneLine(s ?? "").slice(0, 80);
}

function leave() {
  for (const clear of onLeave) {
    try {
      clear();
    } catch {
      // keep clearing the rest
    }
  }
  onLeave.clear();
  for (const url of objectUrls) URL.revokeObjectURL(url);
  objectUrls.clear();
  unlocked.clear();
}

// ---- keys page -----------------------------------------------------------

function wireKeys(root) {
  const ctx = {
    root,
    alias: root.dataset.alias || "key",
    registerUrl: root.dataset.registerUrl,
    list: root.querySelector("[data-ql-device-keys]"),
  };
  const create = root.querySelector("form[data-ql-new-key]");
  create?.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(create, () => newKey(ctx, create)).catch((e) => say(create, explain(e)));
  });
  const imp = root.querySelector("form[data-ql-import-key]");
  imp?.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(imp, () => importKey(ctx, imp)).catch((e) => say(imp, explain(e)));
  });
  ctx.list?.addEventListener("click", (ev) => {
    const b = ev.target instanceof Element ? ev.target.closest("button[data-ql-forget-key]") : null;
    if (b) forgetKey(ctx, b).catch((e) => say(ctx.root, explain(e)));
  });
  renderKeys(ctx);
}

/** What this browser will keep for a key: the CryptoKey, or else the backup. */
async function holdable(identity, recipient, label, created, backup) {
  const base = { recipient, label, created: created.toISOString() };
  if (await q.webCryptoX25519()) {
    return { ...base, kind: "cryptokey", key: await q.identityToCryptoKey(identity) };
  }
  unlocked.set(recipient, identity); // for this page only
  return { ...base, kind: "wrapped", backup };
}

async function register(ctx, recipient, label) {
  if (!ctx.registerUrl) throw new Error("the page gives no address to register keys");
  try {
    const answer = await postJSON(ctx.registerUrl, { recipient, label });
    if (answer?.recipient && answer.recipient !== recipient) {
      throw new Error("the server registered another key than the one sent");
    }
  } catch (e) {
    if (e instanceof HttpError && e.status === 409) return; // already registered
    throw e;
  }
}

async function newKey(ctx, form) {
  const pass = field(form, "passphrase");
  const again = field(form, "passphrase2");
  const label = cleanLabel(field(form, "label")?.value) || "This browser";
  try {
    q.checkNewPassphrase(pass?.value ?? "", again?.value ?? "");
  } catch (e) {
    say(form, explain(e));
    return;
  }
  say(form, "Making the key and its passphrase backup in this browser; this takes a few seconds…");
  await paint();
  const created = new Date();
  const { identity, recipient } = await q.createIdentity();
  const backup = await q.encodeBackup(identity, pass.value, created);
  const record = await holdable(identity, recipient, label, created, backup);
  await register(ctx, recipient, label);
  let kept = true;
  try {
    await store.putKey(record);
  } catch {
    kept = false;
  }
  pass.value = "";
  again.value = "";
  offerBackup(form, `quietline-key-${fileSafe(ctx.alias)}.age`, backup);
  say(
    form,
    kept
      ? NEW_KEY_DONE
      : "The key is registered but this browser would not keep it: keep the backup file and import it in a browser that keeps data.",
  );
  await renderKeys(ctx);
}

function fileSafe(s) {
  return s.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[.-]+/, "").slice(0, 64) || "key";
}

/** Saves the armored backup as a file, and leaves a button to save it again. */
function offerBackup(form, filename, text) {
  const save = () => {
    const url = URL.createObjectURL(new Blob([text], { type: "application/octet-stream" }));
    objectUrls.add(url);
    const a = h("a", { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => {
      URL.revokeObjectURL(url);
      objectUrls.delete(url);
    }, 1000);
  };
  form.parentElement?.querySelector("[data-ql-backup-again]")?.remove();
  const again = h("button", { type: "button" }, "Save the backup file again");
  again.addEventListener("click", save);
  const p = h("p", { "data-ql-backup-again": true }, again);
  form.after(p);
  onLeave.add(() => p.remove());
  save();
}

async function importKey(ctx, form) {
  const file = form.elements.namedItem("backup")?.files?.[0];
  const pass = field(form, "passphrase");
  const label = cleanLabel(field(form, "label")?.value) || "Imported backup";
  if (!file) {
    say(form, "Choose the backup file first.");
    return;
  }
  if (!pass?.value) {
    say(form, "Type the passphrase of that backup.");
    return;
  }
  if (file.size > 64 * 1024) {
    say(form, "This file is not a key backup.");
    return;
  }
  say(form, "Opening the backup in this browser; this takes a few seconds…");
  await paint();
  const bytes = new Uint8Array(await file.arrayBuffer());
  const identity = await q.decodeBackup(bytes, pass.value);
  pass.value = "";
  const recipient = await q.recipientOf(identity);
  const existing = await store.getKey(recipient).catch(() => undefined);
  const created = existing?.created ? new Date(existing.created) : new Date();
  const record = await holdable(identity, recipient, existing?.label || label, created, q.armorBackup(bytes));
  await register(ctx, recipient, record.label);
  try {
    await store.putKey(record);
  } catch {
    say(form, `${NO_STORAGE} The key is registered; it stays usable on this page until you leave it.`);
    await renderKeys(ctx);
    return;
  }
  form.reset();
  say(
    form,
    existing
      ? "This browser already held that key; it is registered to you."
      : "The key from the backup is now held by this browser and registered to you.",
  );
  await renderKeys(ctx);
}

async function renderKeys(ctx) {
  const list = ctx.list;
  if (!list) return;
  let records;
  try {
    records = await store.listKeys();
  } catch {
    list.replaceChildren(h("p", {}, NO_STORAGE));
    return;
  }
  if (records.length === 0) {
    list.replaceChildren(h("p", {}, NO_KEY_YET));
    return;
  }
  const ul = h("ul");
  for (const r of records) {
    const note = r.kind === "wrapped" ? " (opens with its backup passphrase)" : "";
    ul.append(
      h(
        "li",
        {},
        h("code", { title: r.recipient }, q.abbreviateRecipient(r.recipient)),
        ` ${r.label || "unnamed"}, created ${String(r.created).slice(0, 10)}${note} `,
        h("button", { type: "button", "data-ql-forget-key": true, "data-recipient": r.recipient }, "Forget on this browser"),
      ),
    );
  }
  list.replaceChildren(ul);
}

async function forgetKey(ctx, button) {
  const recipient = button.dataset.recipient;
  const ok = confirm(
    `Forget the key ${q.abbreviateRecipient(recipient)} on this browser? Items sealed only to it can then be opened only with its backup file.`,
  );
  if (!ok) return;
  await store.deleteKey(recipient);
  unlocked.delete(recipient);
  say(ctx.root, "This browser no longer holds that key.");
  await renderKeys(ctx);
}

// ---- reading ---------------------------------------------------------------

function wireItem(item) {
  let button = item.querySelector("button[data-ql-open]");
  if (!button) {
    button = h("button", { type: "button", "data-ql-open": true }, "Open here");
    item.append(button);
  }
  button.type = "button";
  button.hidden = false;
  const state = { shown: false, url: null, made: [] };
  const hide = () => hideItem(item, button, state);
  button.addEventListener("click", () => {
    if (state.shown) {
      hide();
      say(item, "");
      return;
    }
    busy(item, () => openItem(item, button, state, hide)).catch((e) => say(item, explain(e)));
  });
}

async function openItem(item, button, state, hide) {
  const kind = item.dataset.kind === "audio" ? "audio" : "text";
  say(item, "Opening in this browser…");
  let bytes;
  try {
    bytes = await getBytes(item.dataset.ciphertextUrl);
  } catch (e) {
    if (e instanceof HttpError && e.status === 410) say(item, EXPIRED);
    else if (e instanceof HttpError && e.status === 403) say(item, NOT_READER);
    else say(item, explain(e));
    return;
  }
  await decryptAndShow(item, button, state, hide, kind, bytes);
}

async function decryptAndShow(item, button, state, hide, kind, bytes) {
  let records = [];
  try {
    records = await store.listKeys();
  } catch {
    // no storage: only keys unlocked on this page can serve
  }
  const identities = [...records.filter((r) => r.kind === "cryptokey" && r.key).map((r) => r.key), ...unlocked.values()];
  let plaintext;
  try {
    plaintext = await q.open(bytes, identities, kind === "text" ? "text" : "uint8array");
  } catch (e) {
    const locked = records.filter((r) => r.kind === "wrapped" && !unlocked.has(r.recipient));
    if (e instanceof q.QuietlineError && e.code === "no-key" && locked.length > 0) {
      askPassphrase(item, locked, () => decryptAndShow(item, button, state, hide, kind, bytes));
      return;
    }
    say(item, explain(e));
    return;
  }
  show(item, button, state, hide, kind, plaintext);
}

/** A small form in the item for the passphrase of keys kept as backups. */
function askPassphrase(item, locked, retry) {
  item.querySelector("form[data-ql-unlock]")?.remove();
  const input = h("input", { type: "password", name: "passphrase", autocomplete: "off", required: true });
  const form = h(
    "form",
    { "data-ql-unlock": true },
    h("label", {}, "Passphrase of this browser's key ", input),
    " ",
    h("button", { type: "submit" }, "Unlock"),
  );
  const drop = () => form.remove();
  onLeave.add(drop);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(form, async () => {
      const pass = input.value;
      say(item, "Unlocking the key in this browser; this takes a few seconds…");
      await paint();
      let opened = 0;
      for (const r of locked) {
        try {
          const identity = await q.decodeBackup(r.backup, pass);
          if ((await q.recipientOf(identity)) === r.recipient) {
            unlocked.set(r.recipient, identity);
            opened++;
          }
        } catch {
          // not this key's passphrase
        }
      }
      input.value = "";
      if (opened === 0) {
        say(item, "That passphrase does not open any key this browser holds.");
        return;
      }
      drop();
      onLeave.delete(drop);
      await retry();
    }).catch((e) => say(item, explain(e)));
  });
  item.append(form);
  say(item, "This browser keeps its key locked with the backup passphrase: type it to open the item.");
  input.focus();
}

function show(item, button, state, hide, kind, plaintext) {
  hideItem(item, button, state);
  if (kind === "text") {
    let pre = item.querySelector("pre.plaintext");
    if (!pre) {
      pre = h("pre", { class: "plaintext" });
      item.append(pre);
      state.made.push(pre);
    }
    pre.hidden = false;
    pre.textContent = plaintext;
  } else {
    let audio = item.querySelector("audio");
    if (!audio) {
      audio = h("audio", { controls: true, preload: "auto" });
      item.append(audio);
      state.made.push(audio);
    }
    audio.controls = true;
    audio.hidden = false;
    const url = URL.createObjectURL(new Blob([plaintext], { type: "audio/wav" }));
    objectUrls.add(url);
    state.url = url;
    // A page whose CSP has no `media-src blob:` refuses the blob: URL; the
    // recording then plays through Web Audio, which loads nothing.
    audio.addEventListener(
      "error",
      () => {
        if (state.url === url) playWithWebAudio(item, audio, state, plaintext);
      },
      { once: true },
    );
    audio.src = url;
  }
  state.shown = true;
  button.textContent = "Hide";
  onLeave.add(hide);
  say(item, "Opened in this browser only; nothing is kept when you leave the page.");
}

const UNPLAYABLE = "This browser could not play the recording here.";

/** Plays the recording's exact bytes with Web Audio: a Play/Stop button. */
async function playWithWebAudio(item, audio, state, bytes) {
  const Context = globalThis.AudioContext ?? globalThis.webkitAudioContext;
  if (!Context) {
    say(item, UNPLAYABLE);
    return;
  }
  const context = new Context();
  let buffer;
  try {
    // decodeAudioData takes its buffer away: give it a copy.
    buffer = await context.decodeAudioData(bytes.slice().buffer);
  } catch {
    context.close();
    say(item, UNPLAYABLE);
    return;
  }
  if (!state.shown) {
    context.close();
    return;
  }
  audio.hidden = true;
  const play = "Play the recording";
  const button = h("button", { type: "button", "data-ql-play": true }, play);
  let source = null;
  button.addEventListener("click", async () => {
    if (source) {
      source.stop();
      return;
    }
    await context.resume();
    source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    source.onended = () => {
      source = null;
      button.textContent = play;
    };
    source.start();
    button.textContent = "Stop";
  });
  item.append(button);
  state.made.push(button);
  state.stop = () => {
    try {
      source?.stop();
    } catch {
      // already stopped
    }
    context.close();
  };
  say(item, `Opened in this browser only (${Math.max(1, Math.round(buffer.duration))} s); nothing is kept when you leave the page.`);
}

function hideItem(item, button, state) {
  state.stop?.();
  state.stop = null;
  for (const pre of item.querySelectorAll("pre.plaintext")) {
    pre.textContent = "";
    pre.hidden = true;
  }
  for (const audio of item.querySelectorAll("audio")) {
    audio.pause();
    audio.removeAttribute("src");
    audio.load();
  }
  if (state.url) {
    URL.revokeObjectURL(state.url);
    objectUrls.delete(state.url);
    state.url = null;
  }
  for (const node of state.made) node.remove();
  state.made = [];
  state.shown = false;
  button.textContent = "Open here";
}

// ---- writing ---------------------------------------------------------------

function wireSeal(form) {
  // No form-state restoration of what was typed (back button, session restore).
  form.querySelector("textarea[name=text]")?.setAttribute("autocomplete", "off");
  form.addEventListener("submit", (ev) => {
    // First thing, always: with the script, the plaintext is never posted.
    ev.preventDefault();
    busy(form, () => sealForm(form)).catch((e) => say(form, explain(e)));
  });
}

async function sealForm(form) {
  const area = form.querySelector("textarea[name=text]");
  if (!area) return;
  const text = area.value;
  if (!text.trim()) {
    say(form, "Write something first.");
    return;
  }
  say(form, "Sealing in this browser…");
  const answer = await getJSON(form.dataset.recipientsUrl);
  const recipients = Array.isArray(answer?.recipients) ? answer.recipients : [];
  const sealed = await q.seal(text, recipients);
  const stored = await postAge(form.dataset.uploadUrl, sealed);
  // Only clear what was sealed: text typed meanwhile stays.
  if (area.value === text) area.value = "";
  const id = stored?.id;
  say(
    form,
    Number.isSafeInteger(id) || (typeof id === "string" && /^\d+$/.test(id))
      ? `Sealed in this browser and stored as #${id}; the server never saw the text.`
      : "Sealed in this browser and stored; the server never saw the text.",
  );
}
