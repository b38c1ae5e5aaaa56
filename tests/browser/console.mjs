// The console in a real browser: enroll with an enrollment code and TOTP, sign
// out, sign in, go on shift, open an incident, take the dispatch, see the
// dashboard show it, sign out. Fails on any Content-Security-Policy violation,
// any request to another host, or any page holding a phone number. Screenshots
// go to $SCREENSHOTS.
//
// Env: BASE (http://localhost:PORT), ALIAS, CODE (enrollment code), SCREENSHOTS,
// CHROMIUM (default /usr/bin/chromium), NUMBERS (comma-separated digits that
// must never appear).

import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { totp } from "./totp.mjs";

const base = process.env.BASE;
const alias = process.env.ALIAS;
const shots = process.env.SCREENSHOTS ?? "target/browser";
const numbers = (process.env.NUMBERS ?? "").split(",").filter(Boolean);
const password = "copper lantern meadow 42";
mkdirSync(shots, { recursive: true });

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

const step = () => Math.floor(Date.now() / 1000 / 30);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 390, height: 844 } }); // a phone screen
const page = await context.newPage();
const problems = [];
page.on("console", (msg) => {
  if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
});
page.on("request", (req) => {
  const url = new URL(req.url());
  if (url.hostname !== "localhost") problems.push(`request to another host: ${url.hostname}`);
});

async function shot(name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  const html = await page.content();
  for (const n of numbers) if (html.includes(n)) fail(`page ${name} holds a phone number`);
}

async function expectText(selector, text) {
  const got = (await page.textContent(selector)) ?? "";
  if (!got.includes(text)) fail(`${selector} should contain ${JSON.stringify(text)}, has ${JSON.stringify(got)}`);
}

// 1. Enroll: code and password, then the authenticator.
await page.goto(`${base}/console/enroll`);
await page.fill("#alias", alias);
await page.fill("#code", process.env.CODE);
await page.fill("#password", password);
await page.fill("#password2", password);
await shot("1-enroll");
await page.click("button[type=submit]");
await page.waitForURL("**/console/enroll/totp");
const secret = (await page.textContent("#totp-secret")).trim();
if (!(await page.$(".qr svg"))) fail("no QR code on the enrollment page");
await shot("2-authenticator");
const enrolledStep = step();
await page.fill("#code", totp(secret, enrolledStep));
await page.click("button[type=submit]");
// Without a key yet, enrollment ends on the Keys page.
await page.waitForURL("**/console/keys?new=1");
await expectText("h1", "Keys");
await page.goto(`${base}/console`);
await expectText("h1", "Dashboard");

// 2. Sign out, and in again with a code of a later step (codes are single-use).
await page.click("text=Sign out");
await page.waitForURL("**/console/sign-in");
while (step() <= enrolledStep) await new Promise((r) => setTimeout(r, 500));
await page.fill("#alias", alias);
await page.fill("#password", password);
await page.fill("#code", totp(secret, step()));
await shot("3-sign-in");
await page.click("button[type=submit]");
await page.waitForURL(`${base}/console`);

// 3. On shift.
await page.click("text=Go on shift");
await page.waitForURL(`${base}/console`);
await expectText("header", "on shift");
await expectText("#on-shift", alias);

// 4. Open an incident.
await page.selectOption("#zone", "north");
await page.selectOption("#kind", "detention");
await page.fill("#location", "Laundromat on 5th and Main");
await page.fill("#description", "two unmarked vans");
await page.click("text=Open and page observers");
await page.waitForURL("**/console/incidents/*");
await expectText("#status", "reported");
await shot("4-incident");

// 5. Take the dispatch (this volunteer is an observer too).
await page.click("text=I am going");
await page.waitForURL("**/console/incidents/*");
await expectText("#status", "dispatched");

// 6. The dashboard shows it.
await page.goto(`${base}/console`);
await expectText("#open", "Open incidents");
const table = (await page.textContent("main")) ?? "";
if (!/#1[\s\S]*dispatched[\s\S]*1 of 2/.test(table)) fail(`the dashboard does not show #1 dispatched 1 of 2: ${table}`);
await shot("5-dashboard");

// 7. Sign out.
await page.click("text=Sign out");
await page.waitForURL("**/console/sign-in");
await page.goto(`${base}/console`);
await page.waitForURL("**/console/sign-in");
await shot("6-signed-out");

await browser.close();
if (problems.length) fail(problems.join("\n"));
console.log(`console walk passed; screenshots in ${shots}`);
