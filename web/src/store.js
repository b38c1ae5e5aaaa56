// The keys this browser holds, in IndexedDB: database "quietline", object
// store "keys", one record per key, keyed by its recipient:
//   { recipient, label, created, kind: "cryptokey", key: CryptoKey }   (non-extractable)
//   { recipient, label, created, kind: "wrapped", backup: "-----BEGIN AGE…" }
// Nothing else is ever stored: no identity in clear, nothing decrypted.

const DB = "quietline";
const STORE = "keys";

let db = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

function database() {
  db ??= new Promise((resolve, reject) => {
    if (typeof indexedDB === "undefined") {
      reject(new Error("IndexedDB is not available"));
      return;
    }
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) {
        req.result.createObjectStore(STORE, { keyPath: "recipient" });
      }
    };
    req.onsuccess = () => {
      const opened = req.result;
      // Another tab upgrading the database: step aside, reopen next time.
      opened.onversionchange = () => {
        opened.close();
        db = null;
      };
      resolve(opened);
    };
    req.onerror = () => reject(req.error ?? new Error("IndexedDB could not be opened"));
    req.onblocked = () => reject(new Error("IndexedDB is blocked by another tab"));
  }).catch((e) => {
    db = null;
    throw e;
  });
  return db;
}

async function transact(mode, run) {
  const conn = await database();
  const tx = conn.transaction(STORE, mode);
  const done = new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
  });
  const result = await request(run(tx.objectStore(STORE)));
  await done;
  return result;
}

/** Every key record, oldest first. */
export async function listKeys() {
  const all = await transact("readonly", (s) => s.getAll());
  return all.sort((a, b) => String(a.created).localeCompare(String(b.created)));
}

export function getKey(recipient) {
  return transact("readonly", (s) => s.get(recipient));
}

export function putKey(record) {
  return transact("readwrite", (s) => s.put(record));
}

export function deleteKey(recipient) {
  return transact("readwrite", (s) => s.delete(recipient));
}
