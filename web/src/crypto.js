// The crypto helpers of the console: keys made and kept on this device, their
// passphrase backups, and items sealed and opened with age. Nothing here
// touches the DOM, storage or the network, so the Node tests run it as is.
//
// A key on this device is held in one of two forms:
// - a non-extractable WebCrypto X25519 CryptoKey (the script can use it but
//   nobody can read it back out of the browser), or
// - where the browser's WebCrypto has no X25519, the passphrase-encrypted
//   backup itself, unlocked into memory only when needed.

import { Decrypter, Encrypter, armor, generateX25519Identity, identityToRecipient } from "age-encryption";
import { bech32 } from "@scure/base";

export const MIN_PASSPHRASE_LENGTH = 12;

/** An error whose `code` the page turns into one plain line for the user. */
export class QuietlineError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = "QuietlineError";
    this.code = code;
  }
}

const AGE_MAGIC = "age-encryption.org/v1\n";
const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";
// age's own words when no identity opens any of a file's stanzas.
const NO_MATCH = "no identity matched any of the file's recipients";
// PKCS#8 PrivateKeyInfo for X25519 (OID 1.3.101.110) around a 32-byte key.
const PKCS8_X25519_PREFIX = Uint8Array.of(
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
);
const IDENTITY_LINE = /^AGE-SECRET-KEY-1[0-9A-Z]+$/;
const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/** Passphrase rules for a backup: typed twice, at least 12 characters. */
export function checkNewPassphrase(passphrase, again) {
  if (typeof passphrase !== "string" || [...passphrase].length < MIN_PASSPHRASE_LENGTH) {
    throw new QuietlineError("passphrase-short", `The passphrase needs at least ${MIN_PASSPHRASE_LENGTH} characters.`);
  }
  if (passphrase !== again) {
    throw new QuietlineError("passphrase-mismatch", "The two passphrases differ.");
  }
}

/** A new X25519 identity: { identity: "AGE-SECRET-KEY-1…", recipient: "age1…" }. */
export async function createIdentity() {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  return { identity, recipient };
}

/** The recipient ("age1…") of a string identity or of an X25519 CryptoKey. */
export function recipientOf(identity) {
  return identityToRecipient(identity);
}

/** Whether a string looks like an X25519 age recipient. */
export function isRecipient(s) {
  return typeof s === "string" && RECIPIENT.test(s);
}

/** "age1qy…7xk9": enough to tell keys apart on a screen. */
export function abbreviateRecipient(recipient) {
  return recipient.length > 16 ? `${recipient.slice(0, 8)}…${recipient.slice(-6)}` : recipient;
}

/**
 * The text of an identity file as age-keygen writes it, the form that
 * `age -d -i` and `quietline open --identity` read.
 */
export function identityFileText(identity, recipient, created = new Date()) {
  const stamp = created.toISOString().replace(/\.\d{3}Z$/, "Z");
  return `# created: ${stamp}\n# public key: ${recipient}\n${identity}\n`;
}

/**
 * The backup of an identity: its identity file encrypted with a passphrase, as
 * an ARMORED age file (age's default scrypt work factor). Readable by
 * `age -d backup.age`.
 */
export async function encodeBackup(identity, passphrase, created = new Date()) {
  const recipient = await identityToRecipient(identity);
  const e = new Encrypter();
  e.setPassphrase(passphrase);
  const sealed = await e.encrypt(identityFileText(identity, recipient, created));
  return armor.encode(sealed);
}

/**
 * The raw age bytes of a backup file, armored or binary (age -p without -a).
 * Accepts a string, a Uint8Array or an ArrayBuffer.
 */
export function backupBytes(file) {
  let bytes;
  if (typeof file === "string") {
    bytes = null;
  } else if (file instanceof Uint8Array) {
    bytes = file;
  } else if (file instanceof ArrayBuffer) {
    bytes = new Uint8Array(file);
  } else {
    throw new QuietlineError("not-a-backup", "This file is not a key backup.");
  }
  if (bytes && startsWith(bytes, AGE_MAGIC)) return bytes;
  let text;
  try {
    text = bytes ? new TextDecoder("utf-8", { fatal: true }).decode(bytes) : file;
  } catch {
    throw new QuietlineError("not-a-backup", "This file is not a key backup.");
  }
  text = text.trim();
  if (!text.startsWith(ARMOR_BEGIN)) {
    throw new QuietlineError("not-a-backup", "This file is not a key backup.");
  }
  try {
    return armor.decode(text);
  } catch (cause) {
    throw new QuietlineError("damaged", "This backup file is damaged.", { cause });
  }
}

/** A backup file, armored or binary, as the armored text this browser keeps. */
export function armorBackup(file) {
  return armor.encode(backupBytes(file));
}

/**
 * Opens a backup with its passphrase and returns the identity string
 * ("AGE-SECRET-KEY-1…"). Codes: "not-a-backup", "wrong-passphrase", "damaged".
 */
export async function decodeBackup(file, passphrase) {
  const bytes = backupBytes(file);
  if (!startsWith(bytes, AGE_MAGIC)) {
    throw new QuietlineError("not-a-backup", "This file is not a key backup.");
  }
  // A backup is sealed with a passphrase: its only stanza is an scrypt one.
  // A file sealed to keys would otherwise read as a wrong passphrase.
  if (!startsWith(bytes.subarray(AGE_MAGIC.length), "-> scrypt ")) {
    throw new QuietlineError("not-a-backup", "This file is sealed to keys, not with a passphrase: it is not a key backup.");
  }
  const d = new Decrypter();
  d.addPassphrase(passphrase);
  let text;
  try {
    text = await d.decrypt(bytes, "text");
  } catch (cause) {
    if (cause?.message === NO_MATCH) {
      throw new QuietlineError("wrong-passphrase", "The passphrase does not open this backup.", { cause });
    }
    throw new QuietlineError("damaged", "This backup file is damaged or incomplete.", { cause });
  }
  return identityFromFileText(text);
}

/**
 * The first X25519 identity in the text of an identity file. If the file names
 * its public key, that must be the identity's.
 */
export async function identityFromFileText(text) {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const identity = lines.find((l) => IDENTITY_LINE.test(l));
  if (!identity) {
    throw new QuietlineError("not-a-backup", "This backup holds no age key.");
  }
  scalarOf(identity); // checks the bech32 checksum and length
  const recipient = await identityToRecipient(identity);
  const named = lines.find((l) => l.startsWith("# public key:"));
  if (named && named.slice("# public key:".length).trim() !== recipient) {
    throw new QuietlineError("damaged", "This backup's key does not match the public key it names.");
  }
  return identity;
}

/** The 32-byte X25519 scalar of an "AGE-SECRET-KEY-1…" identity. */
export function scalarOf(identity) {
  let decoded;
  try {
    decoded = bech32.decode(identity, 1024);
  } catch (cause) {
    throw new QuietlineError("damaged", "The key is damaged.", { cause });
  }
  const bytes = bech32.fromWords(decoded.words);
  if (decoded.prefix !== "age-secret-key-" || bytes.length !== 32) {
    throw new QuietlineError("damaged", "The key is not an age X25519 key.");
  }
  return bytes;
}

let x25519Probe = null;

/** Whether this WebCrypto can hold and use a non-extractable X25519 key. */
export function webCryptoX25519() {
  x25519Probe ??= (async () => {
    try {
      const subtle = globalThis.crypto?.subtle;
      if (!subtle) return false;
      const pair = await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
      // Some engines generate keys but cannot derive (Bun); try the whole way.
      const bits = await subtle.deriveBits({ name: "X25519", public: pair.publicKey }, pair.privateKey, 256);
      return bits.byteLength === 32;
    } catch {
      return false;
    }
  })();
  return x25519Probe;
}

/**
 * Turns an identity string into a NON-EXTRACTABLE X25519 CryptoKey for
 * deriveBits, checked to have the same recipient. Code "no-webcrypto" where
 * the browser's WebCrypto has no X25519.
 */
export async function identityToCryptoKey(identity) {
  const scalar = scalarOf(identity);
  const der = new Uint8Array(PKCS8_X25519_PREFIX.length + 32);
  der.set(PKCS8_X25519_PREFIX);
  der.set(scalar, PKCS8_X25519_PREFIX.length);
  let key;
  try {
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) throw new DOMException("no WebCrypto", "NotSupportedError");
    key = await subtle.importKey("pkcs8", der, { name: "X25519" }, false, ["deriveBits"]);
  } catch (cause) {
    throw new QuietlineError("no-webcrypto", "This browser cannot hold the key in WebCrypto.", { cause });
  } finally {
    der.fill(0);
    scalar.fill(0);
  }
  const [fromKey, fromString] = await Promise.all([identityToRecipient(key), identityToRecipient(identity)]);
  if (fromKey !== fromString) {
    throw new QuietlineError("key-mismatch", "The key held by the browser does not match the one imported.");
  }
  return key;
}

/**
 * Seals bytes or text to every recipient (deduplicated). Code "no-recipients"
 * when there is none, "bad-recipient" for anything not an age1 X25519 one.
 */
export async function seal(plaintext, recipients) {
  const unique = [...new Set(recipients ?? [])];
  if (unique.length === 0) {
    throw new QuietlineError("no-recipients", "Nobody who should read this has a key, so it cannot be kept.");
  }
  const e = new Encrypter();
  for (const r of unique) {
    if (!isRecipient(r)) {
      throw new QuietlineError("bad-recipient", "The server gave a recipient that is not an age key.");
    }
    e.addRecipient(r);
  }
  return e.encrypt(plaintext);
}

/** The raw age bytes of an item: binary as the server sends it, or armored. */
export function itemBytes(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (startsWith(bytes, ARMOR_BEGIN)) {
    try {
      return armor.decode(new TextDecoder().decode(bytes));
    } catch (cause) {
      throw new QuietlineError("damaged", "This item could not be read: it is damaged or incomplete.", { cause });
    }
  }
  return bytes;
}

/**
 * Opens an item with every identity given (CryptoKeys and/or identity
 * strings). `as` is "uint8array" (default) or "text". Codes: "no-key" when
 * none of them is a reader, "damaged" when the file is corrupt or cut short.
 */
export async function open(data, identities, as = "uint8array") {
  const bytes = itemBytes(data);
  if (!identities || identities.length === 0) {
    throw noKey();
  }
  const d = new Decrypter();
  for (const identity of identities) d.addIdentity(identity);
  try {
    return await d.decrypt(bytes, as === "text" ? "text" : "uint8array");
  } catch (cause) {
    if (cause?.message === NO_MATCH) throw noKey(cause);
    throw new QuietlineError("damaged", "This item could not be read: it is damaged or incomplete.", { cause });
  }
}

function noKey(cause) {
  return new QuietlineError(
    "no-key",
    "This item was sealed to a key this browser does not hold (another device of yours, or a lost one). Open it there, or import that key's backup here.",
    cause ? { cause } : undefined,
  );
}

function startsWith(bytes, ascii) {
  if (bytes.length < ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) {
    if (bytes[i] !== ascii.charCodeAt(i)) return false;
  }
  return true;
}
