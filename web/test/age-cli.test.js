// The files the console makes, read by the reference age CLI, and the other way
// round. Skipped where `age` is not installed. The backup test types the
// passphrase into age's prompt through a pseudo-terminal (`script`, util-linux).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as q from "../src/crypto.js";

const PASS = "copper lantern meadow 42";

function has(cmd, args) {
  try {
    return spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
  } catch {
    return false;
  }
}

const age = has("age", ["--version"]);
const script = has("script", ["--version"]);
const skip = age ? false : "the age CLI is not installed";

const dir = mkdtempSync(join(tmpdir(), "quietline-age-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const made = await q.createIdentity();
const idFile = join(dir, "key.txt");
writeFileSync(idFile, q.identityFileText(made.identity, made.recipient), { mode: 0o600 });

test("age -d -i opens what the console sealed", { skip }, async () => {
  const text = "sealed in a browser, opened with the CLI ✓";
  writeFileSync(join(dir, "item.age"), await q.seal(text, [made.recipient]));
  const out = execFileSync("age", ["-d", "-i", idFile, join(dir, "item.age")], { encoding: "utf8" });
  assert.equal(out, text);
});

test("the console's CryptoKey opens what age -r sealed (binary and armored)", { skip }, async () => {
  const key = await q.identityToCryptoKey(made.identity);
  const plain = Buffer.from("sealed by the CLI, opened in a browser");
  const bin = execFileSync("age", ["-r", made.recipient], { input: plain });
  assert.equal(await q.open(new Uint8Array(bin), [key], "text"), plain.toString());
  const armored = execFileSync("age", ["-a", "-r", made.recipient], { input: plain });
  assert.equal(await q.open(new Uint8Array(armored), [key], "text"), plain.toString());
});

test("age -d reads the backup with its passphrase, giving an identity file age -i accepts", {
  skip: skip || (script ? false : "script (util-linux) is not installed"),
}, async () => {
  const backupFile = join(dir, "quietline-key-ana.age");
  writeFileSync(backupFile, await q.encodeBackup(made.identity, PASS));
  const outFile = join(dir, "restored.txt");
  // age asks on the terminal; the passphrase typed ahead waits in the pty.
  const run = spawnSync("script", ["-qec", `age -d -o '${outFile}' '${backupFile}'`, "/dev/null"], {
    input: `${PASS}\n`,
    timeout: 60_000,
  });
  assert.equal(run.status, 0, `age -d failed: ${run.stdout}${run.stderr}`);
  const restored = readFileSync(outFile, "utf8");
  assert.match(restored, /^# created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n/);
  assert.ok(restored.endsWith(`# public key: ${made.recipient}\n${made.identity}\n`));
  writeFileSync(join(dir, "item2.age"), await q.seal("after the restore", [made.recipient]));
  const out = execFileSync("age", ["-d", "-i", outFile, join(dir, "item2.age")], { encoding: "utf8" });
  assert.equal(out, "after the restore");
});

test("a backup made by age -p -a imports in the console", { skip: skip || (script ? false : "script (util-linux) is not installed") }, async () => {
  const src = join(dir, "plain-id.txt");
  writeFileSync(src, q.identityFileText(made.identity, made.recipient));
  const outFile = join(dir, "cli-backup.age");
  const run = spawnSync("script", ["-qec", `age -p -a -o '${outFile}' '${src}'`, "/dev/null"], {
    input: `${PASS}\n${PASS}\n`,
    timeout: 60_000,
  });
  assert.equal(run.status, 0, `age -p failed: ${run.stdout}${run.stderr}`);
  assert.equal(await q.decodeBackup(readFileSync(outFile, "utf8"), PASS), made.identity);
});
