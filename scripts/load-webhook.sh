#!/usr/bin/env bash
# Latency and throughput of the signed incoming-call webhook (/telephony/voice),
# next to a trivial handler (/healthz) of the same server in the same run.
#
#   cargo build --release
#   scripts/load-webhook.sh                     # SQLite
#   QUIETLINE_DATABASE_URL=postgres://… scripts/load-webhook.sh
#
# Needs wrk and python3. Each webhook request carries its own CallSid and caller
# number, so every one runs the full path: signature check, caller token, rate
# limit, a call row, and the language menu as TwiML.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/load/common.sh
duration=${DURATION:-10s}
connections=${CONNECTIONS:-16}
sign_requests 200000
start_server
echo "== backend: $(backend_name)"
# A few seconds of load first: connections, statement caches and the keystore warm up.
wrk -t2 -c"$connections" -d3s -s scripts/load/voice.lua "$url/telephony/voice" -- "$dir/requests.tsv" >/dev/null
echo "== trivial handler: GET /healthz ($connections connections, $duration)"
wrk -t2 -c"$connections" -d"$duration" --latency "$url/healthz" | grep -E "Latency|50%|99%|Requests/sec"
echo "== incoming-call webhook: POST /telephony/voice ($connections connections, $duration)"
wrk -t2 -c"$connections" -d"$duration" --latency -s scripts/load/voice.lua "$url/telephony/voice" -- "$dir/requests.tsv" |
    grep -E "Latency|50%|99%|Requests/sec|Non-2xx"
echo "== peak RSS: $(awk '/VmHWM/{print $2}' "/proc/$pid/status") KiB"
