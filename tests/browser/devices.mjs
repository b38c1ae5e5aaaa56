// Reading and writing in the browser, on a phone-sized screen in Debian's
// Chromium: enroll, make the key in the page (its backup downloaded), open a
// voicemail and a public text sealed to this volunteer, seal a field note in the
// page and read it back; then the bad inputs, each a one-line message; then
// every page again with script off. Driven by tests/integration/browser.rs,
// which runs the server and the provider stand-in and talks to this script:
//
//   this script prints   "QL key <age1…>"       once the key is registered
//   it is sent            "items <voicemail> <text> <other-key item> <expiring item> <sha256 of the audio>"
//   this script prints   "QL expiring"           with the expiring item's page open
//   it is sent            "expired"               once the server's clock passed its end
//   this script prints   "QL note <id>", "QL timing <what> <ms>", "QL requests <file>", "QL done"
//
// Fails (exit 1, "FAIL: …") on any Content-Security-Policy violation, any request
// to another host, any page error, and any step that does not do what it says.
//
// Env: BASE (http://localhost:PORT), ALIAS, CODE, PASSPHRASE, NOTE_TEXT,
// PUBLIC_TEXT, SHOTS, CHROMIUM (default /usr/bin/chromium).

import { mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";
import { totp } from "./totp.mjs";

const base = process.env.BASE;
const alias = process.env.ALIAS;
const shots = process.env.SHOTS ?? "target/browser/devices";
const passphrase = process.env.PASSPHRASE;
const noteText = process.env.NOTE_TEXT;
const publicText = process.env.PUBLIC_TEXT;
const password = "copper lantern meadow 42";
mkdirSync(shots, { recursive: true });

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function told() {
  const { value, done } = await lines.next();
  if (done) fail("the test driver went away");
  return value.trim().split(/\s+/);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"],
});
const context = await browser.newContext({ viewport: { width: 390, height: 844 }, acceptDownloads: true });
// Every blob the page makes is kept for the test to read back: what the audio
// element plays must be the recording's exact bytes. (An init script runs
// whatever the page's CSP says; it changes nothing the page does.)
await context.addInitScript(() => {
  const made = [];
  const revoked = [];
  const create = URL.createObjectURL.bind(URL);
  const revoke = URL.revokeObjectURL.bind(URL);
  URL.createObjectURL = (blob) => {
    const url = create(blob);
    made.push({ url, blob });
    return url;
  };
  URL.revokeObjectURL = (url) => {
    revoked.push(url);
    revoke(url);
  };
  Object.defineProperty(window, "__qlBlobs", { value: made });
  Object.defineProperty(window, "__qlRevoked", { value: revoked });
});
const problems = [];
const requests = [];
context.on("request", (req) => {
  const url = new URL(req.url());
  if (url.protocol !== "blob:" && url.hostname !== "localhost") problems.push(`request to another host: ${req.url()}`);
  requests.push({ method: req.method(), url: req.url(), headers: req.headers(), body: req.postDataBuffer()?.toString("latin1") ?? "" });
});
const page = await context.newPage();
page.on("console", (msg) => {
  if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`CSP on ${page.url()}: ${msg.text()}`);
});
page.on("pageerror", (e) => problems.push(`page error on ${page.url()}: ${e.message}`));

async function shot(name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function statusOf(selector) {
  return ((await page.textContent(`${selector} [data-ql-status]`)) ?? "").trim();
}

async function waitStatus(selector, pattern, what) {
  try {
    await page.waitForFunction(
      ([sel, source]) => new RegExp(source).test(document.querySelector(`${sel} [data-ql-status]`)?.textContent ?? ""),
      [selector, pattern.source],
      { timeout: 60_000 },
    );
  } catch {
    fail(`${what}: the page says ${JSON.stringify(await statusOf(selector))}`);
  }
  const said = await statusOf(selector);
  if (said.includes("\n")) fail(`${what}: more than one line: ${JSON.stringify(said)}`);
  return said;
}

// 1. Enroll: code and password, then the authenticator; the Keys page follows.
await page.goto(`${base}/console/enroll`);
await page.fill("#alias", alias);
await page.fill("#code", process.env.CODE);
await page.fill("#password", password);
await page.fill("#password2", password);
await page.click("button[type=submit]");
await page.waitForURL("**/console/enroll/totp");
const secret = (await page.textContent("#totp-secret")).trim();
await page.fill("#code", totp(secret, Math.floor(Date.now() / 30_000)));
await page.click("button[type=submit]");
await page.waitForURL("**/console/keys?new=1");

// 2. Make the key in the page; its backup downloads.
await page.waitForSelector("form[data-ql-new-key]", { state: "visible" });
await page.fill("form[data-ql-new-key] [name=label]", "phone");
await page.fill("form[data-ql-new-key] [name=passphrase]", passphrase);
await page.fill("form[data-ql-new-key] [name=passphrase2]", passphrase);
const download = page.waitForEvent("download", { timeout: 60_000 });
await page.click("form[data-ql-new-key] button[type=submit]");
const backupFile = `${shots}/backup.age`;
await (await download).saveAs(backupFile);
await waitStatus("[data-ql-keys]", /This device now has a key/, "making the key");
const recipient = await page.getAttribute("[data-ql-device-keys] code[title]", "title");
if (!recipient?.startsWith("age1")) fail(`no key listed for this browser: ${recipient}`);
await shot("1-keys");
console.log(`QL backup ${backupFile}`);
console.log(`QL key ${recipient}`);

const [word, voicemail, text, otherKey, expiring, sha] = await told();
if (word !== "items") fail(`unexpected instruction ${word}`);

/** Opens the item on its page; returns the milliseconds from the click to it shown. */
async function openItem(id, shown) {
  await page.goto(`${base}/console/items/${id}`);
  await page.waitForSelector("[data-ql-item] button[data-ql-open]", { state: "visible" });
  const started = Date.now();
  await page.click("[data-ql-item] button[data-ql-open]");
  await page.waitForFunction(shown, null, { timeout: 60_000 });
  return Date.now() - started;
}

// 3. The voicemail plays in the page, from memory, with the recording's bytes.
const audioMs = await openItem(voicemail, () => {
  const a = document.querySelector("[data-ql-item] audio");
  return a?.src.startsWith("blob:") && a.readyState >= 1 && a.duration > 0;
});
const played = await page.evaluate(async () => {
  const a = document.querySelector("[data-ql-item] audio");
  const blob = window.__qlBlobs.find((b) => b.url === a.src)?.blob;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  await a.play();
  await new Promise((r) => setTimeout(r, 300));
  return {
    sha: [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
    playing: !a.paused && a.currentTime > 0,
    error: a.error?.message ?? null,
    duration: a.duration,
  };
});
if (played.sha !== sha) fail(`the audio element plays other bytes: ${played.sha} instead of ${sha}`);
if (!played.playing || played.error) fail(`the recording does not play: ${JSON.stringify(played)}`);
await shot("2-voicemail");
console.log(`QL timing voicemail-${Math.round(played.duration)}s ${audioMs}`);
// Leaving the page revokes its blob URL: nothing decrypted outlives the page.
const revoked = await page.evaluate(() => {
  const url = document.querySelector("[data-ql-item] audio").src;
  dispatchEvent(new PageTransitionEvent("pagehide", { persisted: false }));
  return window.__qlRevoked.includes(url) && !document.querySelector("[data-ql-item] audio")?.src.startsWith("blob:");
});
if (!revoked) fail("leaving the voicemail's page does not revoke its blob URL");

// 4. The public text is shown.
await openItem(text, () => !!document.querySelector("[data-ql-item] pre.plaintext")?.textContent);
const shownText = await page.textContent("[data-ql-item] pre.plaintext");
if (shownText !== publicText) fail(`the text shows ${JSON.stringify(shownText)}`);
await shot("3-text");

// 5. A field note sealed in the page, then read back.
await page.goto(`${base}/console`);
await page.selectOption("#zone", "north");
await page.fill("#location", "the corner of 5th and Main");
await page.click("text=Open and page observers");
await page.waitForURL("**/console/incidents/*");
const incident = page.url().split("/").pop();
await page.fill("form[data-ql-seal] textarea[name=text]", noteText);
await page.click("form[data-ql-seal] button[type=submit]");
const stored = await waitStatus("form[data-ql-seal]", /stored as #\d+/, "sealing the note");
const noteId = stored.match(/#(\d+)/)[1];
if ((await page.inputValue("form[data-ql-seal] textarea[name=text]")) !== "") fail("the note stayed in the form");
console.log(`QL note ${noteId}`);
await page.goto(`${base}/console/incidents/${incident}`);
const note = `[data-ql-item][data-item-id="${noteId}"]`;
await page.waitForSelector(`${note} button[data-ql-open]`, { state: "visible" });
const noteStarted = Date.now();
await page.click(`${note} button[data-ql-open]`);
await page.waitForFunction((sel) => !!document.querySelector(`${sel} pre.plaintext`)?.textContent, note);
console.log(`QL timing note-${Buffer.byteLength(noteText)}B ${Date.now() - noteStarted}`);
if ((await page.textContent(`${note} pre.plaintext`)) !== noteText) fail("the note reads back differently");
await shot("4-incident-note");

// 6. Bad input: one line each, nothing stored changed.
// An item sealed to a key this browser does not hold.
await page.goto(`${base}/console/items/${otherKey}`);
await page.click("[data-ql-item] button[data-ql-open]");
await waitStatus("[data-ql-item]", /sealed to a key this browser does not hold/, "an item sealed to another key");
// A ciphertext cut short on its way.
await page.route(`**/api/v1/items/${text}/ciphertext`, async (route) => {
  const whole = await route.fetch();
  const body = await whole.body();
  await route.fulfill({ response: whole, body: body.subarray(0, body.length - 40) });
});
await page.goto(`${base}/console/items/${text}`);
await page.click("[data-ql-item] button[data-ql-open]");
await waitStatus("[data-ql-item]", /damaged or incomplete/, "a ciphertext cut short");
await page.unroute(`**/api/v1/items/${text}/ciphertext`);
// An item that expires while its page is open.
await page.goto(`${base}/console/items/${expiring}`);
await page.waitForSelector("[data-ql-item] button[data-ql-open]", { state: "visible" });
console.log("QL expiring");
if ((await told())[0] !== "expired") fail("expected the item to have expired");
await page.click("[data-ql-item] button[data-ql-open]");
await waitStatus("[data-ql-item]", /expired/, "an expired item");
// A corrupt backup, and the real one with a wrong passphrase.
await page.goto(`${base}/console/keys`);
await page.waitForSelector("form[data-ql-import-key]", { state: "visible" });
const corrupt = `${shots}/corrupt.age`;
writeFileSync(corrupt, "-----BEGIN AGE ENCRYPTED FILE-----\nnot really\n-----END AGE ENCRYPTED FILE-----\n");
await page.setInputFiles("form[data-ql-import-key] [name=backup]", corrupt);
await page.fill("form[data-ql-import-key] [name=passphrase]", passphrase);
await page.click("form[data-ql-import-key] button[type=submit]");
await waitStatus("[data-ql-keys]", /not a key backup|damaged/, "a corrupt backup");
await page.setInputFiles("form[data-ql-import-key] [name=backup]", backupFile);
await page.fill("form[data-ql-import-key] [name=passphrase]", "not the passphrase at all");
await page.click("form[data-ql-import-key] button[type=submit]");
await waitStatus("[data-ql-keys]", /passphrase does not open/, "a wrong passphrase");
await shot("5-bad-backup");
// Decrypted text never lingers in a page's storage.
const stored_ = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
if (stored_.includes(noteText.slice(0, 40)) || stored_.includes(publicText)) fail("plaintext in web storage");

// 7. Script off: every page of the walk still answers, and says how to read.
const cookies = await context.cookies();
const plain = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
await plain.addCookies(cookies);
const bare = await plain.newPage();
for (const path of ["/console", "/console/items", `/console/items/${voicemail}`, `/console/items/${text}`, "/console/keys", `/console/incidents/${incident}`]) {
  const answer = await bare.goto(`${base}${path}`);
  if (answer.status() !== 200) fail(`${path} without script: ${answer.status()}`);
  const visible = await bare.evaluate(() => document.body.innerText);
  if (path.startsWith("/console/items/") && !visible.includes("quietline open")) fail(`${path} without script says nothing of quietline open`);
  if (path === "/console/keys" && !visible.includes("age-keygen")) fail("the Keys page without script offers no way to register a key");
  if (/Make the key|Open here/.test(visible)) fail(`${path} without script shows controls that need it`);
}
await bare.screenshot({ path: `${shots}/6-no-script.png`, fullPage: true });
await plain.close();

await browser.close();
const requestsFile = `${shots}/requests.json`;
writeFileSync(requestsFile, JSON.stringify(requests));
console.log(`QL requests ${requestsFile}`);
if (problems.length) fail(problems.join("\n"));
console.log("QL done");
// The driver's pipe would keep node waiting for more instructions.
process.exit(0);
