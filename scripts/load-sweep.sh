#!/usr/bin/env bash
# A sweep of 100 000 expired items by the server's own sweeper while the
# incoming-call webhook is under a steady 1 000 requests/s: webhook p50/p99
# before, during and after, and the sweep's own time from the server's log.
#
#   cargo build --release
#   scripts/load-sweep.sh                        # SQLite
#   QUIETLINE_DATABASE_URL=postgres://… scripts/load-sweep.sh
#
# The expired items are inserted straight into the database (opaque blobs of a
# realistic size, expiring a little after start): the sweep deletes rows the
# same way whatever they hold. Needs wrk, python3, and sqlite3 or psql.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/load/common.sh
items=${ITEMS:-100000}
rate=${RATE:-1000}
paced=10
sign_requests 40000
"$bin" migrate >/dev/null 2>&1

# They expire after the warm-up and the idle measurement; the sweeper, run every
# second here, then finds them all at once.
expires=$(( $(date +%s) + 14 ))
if [ -n "${QUIETLINE_DATABASE_URL:-}" ]; then
    psql -q "$QUIETLINE_DATABASE_URL" -c "INSERT INTO sealed_items (class, created_hour, expires_at, epoch, sealed)
        SELECT 'note', 0, $expires, 1, decode(repeat(md5(i::text), 19), 'hex') FROM generate_series(1, $items) i;"
else
    sqlite3 "$dir/data/quietline.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $items)
        INSERT INTO sealed_items (class, created_hour, expires_at, epoch, sealed)
        SELECT 'note', 0, $expires, 1, randomblob(600) FROM n;"
fi
echo "== backend: $(backend_name), $items items expiring at $(date -u -d "@$expires" +%T)"

export QUIETLINE_SWEEP_INTERVAL=1s QUIETLINE_LOG=warn,quietline::retention=info,quietline::cli::server=info
start_server
load() { # seconds label
    wrk -t2 -c"$paced" -d"$1s" --latency -s scripts/load/paced.lua "$url/telephony/voice" \
        -- "$dir/requests.tsv" $((paced * 1000 / rate)) >"$dir/$2.txt"
    summary "$2" "$dir/$2.txt"
}
load 3 warm-up >/dev/null
load 5 idle
while [ "$(date +%s)" -lt "$expires" ]; do sleep 0.1; done
load 5 during
load 5 after
grep "sweep removed" "$dir/serve.log" | sed 's/.*count=/sweep: rows and keys removed=/'
