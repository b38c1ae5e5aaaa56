"""Enrolls a volunteer through the API (enrollment code, password, TOTP) and
prints `COOKIE CSRF` for a signed-in session. The TOTP code is computed here
from RFC 6238, independently of the server."""
import base64, hashlib, hmac, json, struct, sys, time, urllib.request

base, alias, code = sys.argv[1], sys.argv[2], sys.argv[3]

def post(path, body, cookie=None, csrf=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("content-type", "application/json")
    if cookie:
        req.add_header("cookie", "__Host-ql_session=" + cookie)
    if csrf:
        req.add_header("x-csrf-token", csrf)
    with urllib.request.urlopen(req) as r:
        set_cookie = r.headers.get("set-cookie") or ""
        text = r.read().decode()
        return json.loads(text) if text else {}, set_cookie

def totp(secret):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    o = mac[19] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)

body, set_cookie = post("/api/v1/enrollment", {"alias": alias, "code": code, "password": "copper lantern meadow 42"})
cookie = set_cookie.split(";")[0].split("=", 1)[1]
post("/api/v1/enrollment/totp", {"code": totp(body["secret"])}, cookie, body["csrf"])
print(cookie, body["csrf"])
