// The console's crypto helpers, without a DOM: a key made, backed up with a
// passphrase, imported from that backup as a non-extractable CryptoKey, items
// sealed to it and opened with it; and every way that goes wrong.
//
// Backups use age's default scrypt work factor (2^18), as the console does, so
// each backup made or opened costs about a second.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Decrypter, Encrypter, armor } from "age-encryption";
import * as q from "../src/crypto.js";

const PASS = "copper lantern meadow 42";

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof q.QuietlineError, `expected a QuietlineError, got ${e}`);
    assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    return true;
  });
}

// One key and its backup for the whole file: scrypt is slow on purpose.
const made = await q.createIdentity();
const created = new Date("2025-03-04T05:06:07.890Z");
const backup = await q.encodeBackup(made.identity, PASS, created);

test("Node's WebCrypto has X25519 (non-extractable keys, deriveBits)", async () => {
  assert.equal(await q.webCryptoX25519(), true);
});

test("a new identity is an age X25519 key with its recipient", async () => {
  assert.match(made.identity, /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
  assert.match(made.recipient, /^age1[02-9ac-hj-np-z]{58}$/);
  assert.ok(q.isRecipient(made.recipient));
  assert.equal(await q.recipientOf(made.identity), made.recipient);
  assert.equal(q.abbreviateRecipient(made.recipient), `${made.recipient.slice(0, 8)}…${made.recipient.slice(-6)}`);
});

test("the backup is an armored age file for a passphrase, holding an age-keygen identity file", async () => {
  assert.ok(backup.startsWith("-----BEGIN AGE ENCRYPTED FILE-----\n"));
  assert.ok(backup.endsWith("-----END AGE ENCRYPTED FILE-----\n"));
  const bytes = armor.decode(backup);
  const header = new TextDecoder().decode(bytes.subarray(0, 120));
  // Passphrase only, with age's default work factor.
  assert.match(header, /^age-encryption\.org\/v1\n-> scrypt [A-Za-z0-9+/]{22} 18\n/);
  const d = new Decrypter();
  d.addPassphrase(PASS);
  const text = await d.decrypt(bytes, "text");
  assert.equal(text, `# created: 2025-03-04T05:06:07Z\n# public key: ${made.recipient}\n${made.identity}\n`);
});

test("backup → import → non-extractable CryptoKey → seal to its recipient → open with the CryptoKey", async () => {
  const identity = await q.decodeBackup(backup, PASS);
  assert.equal(identity, made.identity);
  const key = await q.identityToCryptoKey(identity);
  assert.ok(key instanceof CryptoKey);
  assert.equal(key.type, "private");
  assert.equal(key.extractable, false);
  assert.equal(key.algorithm.name, "X25519");
  assert.deepEqual(key.usages, ["deriveBits"]);
  await assert.rejects(crypto.subtle.exportKey("pkcs8", key)); // it cannot be read back out
  assert.equal(await q.recipientOf(key), made.recipient);

  const text = "Client at the north gate, needs an attorney. Ünïcødé ✓";
  const sealed = await q.seal(text, [made.recipient]);
  assert.ok(sealed instanceof Uint8Array);
  assert.equal(await q.open(sealed, [key], "text"), text);

  // Audio: the exact bytes come back.
  const wav = new Uint8Array(70_000).map((_, i) => (i * 31) & 255);
  const sealedWav = await q.seal(wav, [made.recipient]);
  assert.deepEqual(await q.open(sealedWav, [key]), wav);
  // Armored items open too.
  assert.equal(await q.open(new TextEncoder().encode(armor.encode(sealed)), [key], "text"), text);
});

test("a binary (non-armored) backup imports too, and is kept armored", async () => {
  const bytes = armor.decode(backup);
  assert.equal(await q.decodeBackup(bytes, PASS), made.identity);
  assert.equal(await q.decodeBackup(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), PASS), made.identity);
  assert.equal(q.armorBackup(bytes), backup);
  assert.equal(q.armorBackup(new TextEncoder().encode(`\r\n${backup.replaceAll("\n", "\r\n")}`)), backup);
});

test("the identity string itself opens items (the no-WebCrypto path)", async () => {
  const sealed = await q.seal("kept as a backup only", [made.recipient]);
  assert.equal(await q.open(sealed, [made.identity], "text"), "kept as a backup only");
});

test("an item sealed to several keys opens with each; recipients are deduplicated", async () => {
  const other = await q.createIdentity();
  const sealed = await q.seal("for both", [made.recipient, other.recipient, made.recipient]);
  const header = new TextDecoder().decode(sealed.subarray(0, 400));
  assert.equal(header.match(/^-> X25519 /gm).length, 2);
  assert.equal(await q.open(sealed, [await q.identityToCryptoKey(other.identity)], "text"), "for both");
  assert.equal(await q.open(sealed, [made.identity], "text"), "for both");
});

test("wrong passphrase", async () => {
  await rejectsWith(q.decodeBackup(backup, "copper lantern meadow 43"), "wrong-passphrase");
  await rejectsWith(q.decodeBackup(backup, ""), "wrong-passphrase");
});

test("corrupt backups", async () => {
  // Not a backup at all.
  await rejectsWith(q.decodeBackup("hello", PASS), "not-a-backup");
  await rejectsWith(q.decodeBackup(new Uint8Array([0xff, 0xfe, 0x00]), PASS), "not-a-backup");
  await rejectsWith(q.decodeBackup(`${made.identity}\n`, PASS), "not-a-backup");
  // Armor broken.
  const lines = backup.split("\n");
  lines[1] = lines[1].slice(0, 40);
  await rejectsWith(q.decodeBackup(lines.join("\n"), PASS), "damaged");
  // A byte flipped in the payload: the MAC or the payload check fails.
  const bytes = armor.decode(backup);
  const flipped = bytes.slice();
  flipped[flipped.length - 20] ^= 1;
  await rejectsWith(q.decodeBackup(flipped, PASS), "damaged");
  // A byte flipped in the header MAC.
  const text = new TextDecoder().decode(bytes);
  const mac = text.indexOf("--- ") + 6;
  const badMac = bytes.slice();
  badMac[mac] = badMac[mac] === 0x41 ? 0x42 : 0x41;
  await rejectsWith(q.decodeBackup(badMac, PASS), "damaged");
  // Cut short.
  await rejectsWith(q.decodeBackup(bytes.subarray(0, bytes.length - 1), PASS), "damaged");
  await rejectsWith(q.decodeBackup(bytes.subarray(0, 60), PASS), "damaged");
  // Sealed to a key rather than a passphrase.
  const toKey = await q.seal(`# public key: ${made.recipient}\n${made.identity}\n`, [made.recipient]);
  await rejectsWith(q.decodeBackup(toKey, PASS), "not-a-backup");
});

test("a passphrase file that holds no key, or a key that does not match its public key line", async () => {
  const e = new Encrypter();
  e.setPassphrase(PASS);
  e.setScryptWorkFactor(10); // only to keep this test fast; the console never lowers it
  await rejectsWith(q.decodeBackup(armor.encode(await e.encrypt("just a note\n")), PASS), "not-a-backup");
  const other = await q.createIdentity();
  const lying = await e.encrypt(`# public key: ${other.recipient}\n${made.identity}\n`);
  await rejectsWith(q.decodeBackup(lying, PASS), "damaged");
  // A bad bech32 checksum.
  const broken = made.identity.slice(0, -1) + (made.identity.endsWith("Q") ? "P" : "Q");
  await rejectsWith(q.decodeBackup(await e.encrypt(`${broken}\n`), PASS), "damaged");
  // The plain identity file of age-keygen, with no comment lines, is fine.
  assert.equal(await q.decodeBackup(await e.encrypt(`${made.identity}\n`), PASS), made.identity);
});

test("a ciphertext cut short is damaged, wherever it is cut", async () => {
  const key = await q.identityToCryptoKey(made.identity);
  const sealed = await q.seal(new Uint8Array(100_000).fill(7), [made.recipient]);
  const headerEnd = new TextDecoder().decode(sealed.subarray(0, 300)).indexOf("\n", new TextDecoder().decode(sealed.subarray(0, 300)).indexOf("--- ")) + 1;
  for (const cut of [0, 10, 40, headerEnd - 5, headerEnd, headerEnd + 8, headerEnd + 16, headerEnd + 16 + 65536 + 16, sealed.length - 17, sealed.length - 1]) {
    await rejectsWith(q.open(sealed.subarray(0, cut), [key]), "damaged");
  }
  const tail = sealed.slice();
  tail[tail.length - 1] ^= 0x80;
  await rejectsWith(q.open(tail, [key]), "damaged");
  await rejectsWith(q.open(new TextEncoder().encode("-----BEGIN AGE ENCRYPTED FILE-----\nnot base64\n"), [key]), "damaged");
});

test("a ciphertext for another key", async () => {
  const key = await q.identityToCryptoKey(made.identity);
  const other = await q.createIdentity();
  const sealed = await q.seal("not for you", [other.recipient]);
  await rejectsWith(q.open(sealed, [key]), "no-key");
  await rejectsWith(q.open(sealed, [made.identity, key]), "no-key");
  await rejectsWith(q.open(sealed, []), "no-key");
  // A passphrase-sealed file is for nobody's key either.
  await rejectsWith(q.open(armor.decode(backup), [key]), "no-key");
});

test("sealing refuses an empty list of readers and anything that is not an age1 key", async () => {
  await rejectsWith(q.seal("x", []), "no-recipients");
  await rejectsWith(q.seal("x", undefined), "no-recipients");
  await rejectsWith(q.seal("x", ["age1nope"]), "bad-recipient");
  await rejectsWith(q.seal("x", [made.identity]), "bad-recipient");
});

test("new passphrases: at least 12 characters, typed the same twice", () => {
  assert.throws(() => q.checkNewPassphrase("short", "short"), { code: "passphrase-short" });
  assert.throws(() => q.checkNewPassphrase("elevenchars", "elevenchars"), { code: "passphrase-short" });
  assert.throws(() => q.checkNewPassphrase("twelve chars", "twelve charz"), { code: "passphrase-mismatch" });
  assert.doesNotThrow(() => q.checkNewPassphrase("twelve chars", "twelve chars"));
});

test("identityToCryptoKey checks what it imports", async () => {
  await rejectsWith(q.identityToCryptoKey("AGE-SECRET-KEY-1QQQ"), "damaged");
  await rejectsWith(q.identityToCryptoKey(made.recipient), "damaged");
});

test("without X25519 in WebCrypto, identityToCryptoKey says so (the page then keeps the backup)", async (t) => {
  const subtle = crypto.subtle;
  t.mock.method(subtle, "importKey", async () => {
    throw new DOMException("Unrecognized algorithm name", "NotSupportedError");
  });
  await rejectsWith(q.identityToCryptoKey(made.identity), "no-webcrypto");
});
