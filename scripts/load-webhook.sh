#!/usr/bin/env bash
# Latency and throughput of the signed incoming-call webhook (/telephony/voice),
# next to a trivial handler (/healthz) of the same server in the same run; then
# the webhook at a steady 1 000 requests/s; idle and peak RSS.
#
#   cargo build --release
#   scripts/load-webhook.sh                     # SQLite
#   QUIETLINE_DATABASE_URL=postgres://… scripts/load-webhook.sh
#   QUIETLINE_LANGUAGES=en ON_SHIFT=25 scripts/load-webhook.sh   # one language: no menu
#
# With one language the webhook chooses the first tier and writes it with the
# call (its one commit) and answers with the <Dial> of that tier; ON_SHIFT
# volunteers are put on shift first (their phones are never answered here, so
# once each is being rung the callers after go to voicemail, in the same one
# commit).
# Needs wrk and python3. Each webhook request carries its own CallSid and caller
# number, so every one runs the full path: signature check, caller token, rate
# limit, a call row, and the language menu as TwiML. wrk runs on the same two
# cores as the server.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/load/common.sh
duration=${DURATION:-10s}
connections=${CONNECTIONS:-64}
rate=${RATE:-1000}
sign_requests 400000
for i in $(seq 1 "${ON_SHIFT:-0}"); do
    "$bin" volunteer add --alias "v$i" --phone "+1628555$(printf %04d "$i")" --roles dispatcher \
        --languages "${QUIETLINE_LANGUAGES%%,*}" --zones north >/dev/null 2>&1
    "$bin" shift on "v$i" >/dev/null 2>&1
done
start_server
sleep 1
echo "== backend: $(backend_name); idle RSS $(awk '/VmRSS/{print $2}' "/proc/$pid/status") KiB"
# A few seconds of load first: connections, statement caches and the keystore warm up.
wrk -t2 -c"$connections" -d3s -s scripts/load/voice.lua "$url/telephony/voice" -- "$dir/requests.tsv" >/dev/null

wrk -t2 -c"$connections" -d"$duration" --latency "$url/healthz" >"$dir/trivial.txt"
summary "GET /healthz, $connections connections" "$dir/trivial.txt"
wrk -t2 -c"$connections" -d"$duration" --latency -s scripts/load/voice.lua "$url/telephony/voice" \
    -- "$dir/requests.tsv" >"$dir/webhook.txt"
summary "POST /telephony/voice, $connections connections" "$dir/webhook.txt"
awk '/Requests\/sec/ {print $2}' "$dir/trivial.txt" "$dir/webhook.txt" | paste -sd' ' |
    awk '{printf "webhook / trivial handler: %.1f %%\n", 100 * $2 / $1}'
# A steady rate: 10 connections, each pausing 10 ms between requests.
paced=10
wrk -t2 -c"$paced" -d"$duration" --latency -s scripts/load/paced.lua "$url/telephony/voice" \
    -- "$dir/requests.tsv" $((paced * 1000 / rate)) >"$dir/paced.txt"
summary "POST /telephony/voice, ~$rate/s" "$dir/paced.txt"
echo "peak RSS: $(awk '/VmHWM/{print $2}' "/proc/$pid/status") KiB"
