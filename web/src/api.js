// Same-origin calls to the server. Every non-GET request carries the page's
// CSRF token; error answers are JSON {"error": "…"}.

/** The server answered with an error status. */
export class HttpError extends Error {
  constructor(status, message) {
    super(message || `The server answered ${status}.`);
    this.name = "HttpError";
    this.status = status;
  }
}

/** The server could not be reached at all. */
export class NetworkError extends Error {
  constructor(cause) {
    super("The server could not be reached; try again.", { cause });
    this.name = "NetworkError";
  }
}

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
}

/** Same-origin only: a URL from the page must not send anything elsewhere. */
function sameOrigin(url) {
  const u = new URL(url, document.baseURI);
  if (u.origin !== location.origin) throw new Error("refusing a request to another origin");
  return u.href;
}

async function call(url, { method = "GET", headers = {}, body } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = csrfToken();
  let res;
  try {
    res = await fetch(sameOrigin(url), {
      method,
      headers: h,
      body,
      credentials: "same-origin",
      cache: "no-store",
      // A lapsed session is sent to the sign-in page: see that, don't follow it.
      redirect: "manual",
      referrerPolicy: "no-referrer",
    });
  } catch (e) {
    throw new NetworkError(e);
  }
  if (res.type === "opaqueredirect") {
    throw new HttpError(401, "Your session has ended; sign in again, then retry.");
  }
  if (!res.ok) {
    let message = "";
    try {
      const j = await res.json();
      if (j && typeof j.error === "string") message = oneLine(j.error);
    } catch {
      // not JSON: keep the generic words
    }
    throw new HttpError(res.status, message);
  }
  return res;
}

async function json(res) {
  try {
    return await res.json();
  } catch (e) {
    throw new HttpError(res.status, "The server's answer could not be read.");
  }
}

export async function getJSON(url) {
  return json(await call(url));
}

export async function getBytes(url) {
  const res = await call(url, { headers: { Accept: "application/age, application/octet-stream" } });
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new NetworkError(e);
  }
}

export async function postJSON(url, value) {
  const res = await call(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(value),
  });
  return res.status === 204 ? {} : json(res);
}

export async function postAge(url, bytes) {
  const res = await call(url, {
    method: "POST",
    headers: { "Content-Type": "application/age" },
    body: bytes,
  });
  return json(res);
}

export function oneLine(s) {
  return String(s).replace(/\s+/g, " ").trim();
}
