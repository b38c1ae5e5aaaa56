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
bin=target/release/quietline
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
duration=${DURATION:-10s}
connections=${CONNECTIONS:-16}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:$port"
token=load-test-token-0123456789abcdef
python3 scripts/load/sign_requests.py "$url/telephony/voice" "$token" 200000 >"$dir/requests.tsv"

QUIETLINE_DATA_DIR=$dir/data QUIETLINE_LISTEN=127.0.0.1:$port QUIETLINE_PUBLIC_URL=$url \
QUIETLINE_HOTLINE_NUMBER=+14155550000 QUIETLINE_PROVIDER_ACCOUNT_SID=AC00000000000000000000000000000001 \
QUIETLINE_PROVIDER_AUTH_TOKEN=$token QUIETLINE_PROVIDER_API_BASE=http://127.0.0.1:9 \
QUIETLINE_LANGUAGES=en,es QUIETLINE_LOG=warn \
    "$bin" serve &
pid=$!
until curl -sf "$url/readyz" >/dev/null; do sleep 0.05; done
echo "== backend: $([ -n "${QUIETLINE_DATABASE_URL:-}" ] && echo postgres || echo sqlite)"
# A few seconds of load first: connections, statement caches and the keystore warm up.
wrk -t2 -c"$connections" -d3s -s scripts/load/voice.lua "$url/telephony/voice" -- "$dir/requests.tsv" >/dev/null
echo "== trivial handler: GET /healthz ($connections connections, $duration)"
wrk -t2 -c"$connections" -d"$duration" --latency "$url/healthz" | grep -E "Latency|50%|99%|Requests/sec"
echo "== incoming-call webhook: POST /telephony/voice ($connections connections, $duration)"
wrk -t2 -c"$connections" -d"$duration" --latency -s scripts/load/voice.lua "$url/telephony/voice" -- "$dir/requests.tsv" |
    grep -E "Latency|50%|99%|Requests/sec|Non-2xx"
echo "== peak RSS: $(awk '/VmHWM/{print $2}' "/proc/$pid/status") KiB"
