#!/usr/bin/env python3
"""Writes N signed incoming-call webhooks for wrk: one line per request,
`body<TAB>signature`, each from its own number with its own CallSid, signed
the way the provider signs (HMAC-SHA1 over URL + sorted parameters, base64)."""
import base64, hashlib, hmac, sys, urllib.parse

url, token, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
out = sys.stdout
for i in range(n):
    params = {
        "AccountSid": "AC00000000000000000000000000000001",
        "CallSid": "CA%032x" % i,
        # A number of its own for each request (up to three million), so the rate
        # limit never turns the measurement into refusals.
        "From": "+1415%07d" % (2000000 + i),
        "To": "+14155550000",
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    data = url + "".join(k + params[k] for k in sorted(params))
    sig = base64.b64encode(hmac.new(token, data.encode(), hashlib.sha1).digest()).decode()
    out.write(urllib.parse.urlencode(params) + "\t" + sig + "\n")
