#!/usr/bin/env bash
# A sweep of 100 000 expired items while the incoming-call webhook is under
# steady load: webhook p99 before, during and after, and the sweep's own time.
#
#   cargo build --release
#   scripts/load-sweep.sh                        # SQLite
#   QUIETLINE_DATABASE_URL=postgres://… scripts/load-sweep.sh
#
# The expired items are inserted straight into the database (opaque blobs of a
# realistic size, expiry in the past): the sweep deletes rows the same way
# whatever they hold. Needs wrk, python3, and sqlite3 or psql.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/load/common.sh
items=${ITEMS:-100000}
connections=${CONNECTIONS:-8}
sign_requests 300000
"$bin" migrate >/dev/null

# They expire a little after the warm-up and idle measurements, so the server's own start-up
# sweep leaves them alone and the sweep below finds them all.
expires=$(( $(date +%s) + 20 ))
if [ -n "${QUIETLINE_DATABASE_URL:-}" ]; then
    psql -q "$QUIETLINE_DATABASE_URL" -c "INSERT INTO sealed_items (class, created_hour, expires_at, epoch, sealed)
        SELECT 'note', 0, $expires, 1, decode(repeat(md5(i::text), 19), 'hex') FROM generate_series(1, $items) i;"
else
    sqlite3 "$dir/data/quietline.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $items)
        INSERT INTO sealed_items (class, created_hour, expires_at, epoch, sealed)
        SELECT 'note', 0, $expires, 1, randomblob(600) FROM n;"
fi
echo "== backend: $(backend_name), $items expired items"

start_server
load() { # seconds label
    wrk -t2 -c"$connections" -d"$1s" --latency -s scripts/load/voice.lua "$url/telephony/voice" -- "$dir/requests.tsv" |
        awk -v l="$2" '/Requests\/sec/ {r=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} END {printf "%-8s %10s req/s  p50 %-9s p99 %s\n", l, r, p50, p99}'
}
load 5 warm-up >/dev/null
load 5 idle
while [ "$(date +%s)" -le "$expires" ]; do sleep 0.2; done
start=$(date +%s%N)
( "$bin" sweep >"$dir/sweep.out" 2>"$dir/sweep.err"; date +%s%N >"$dir/sweep.end" ) &
sweeper=$!
load 5 during
wait "$sweeper"
echo "sweep: $(cat "$dir/sweep.out"), in $(( ($(cat "$dir/sweep.end") - start) / 1000000 )) ms"
load 5 after
