#!/usr/bin/env bash
# Cold start and idle memory of the release binary.
# Measures, for each run, the time from exec on an empty data dir until /readyz
# answers 200 (this includes creating the data dir, the database and running the
# migrations), then the resident set size one second later.
#
#   cargo build --release
#   scripts/coldstart.sh [runs]                      # SQLite
#   QUIETLINE_DATABASE_URL=postgres://… scripts/coldstart.sh [runs]
#
# With PostgreSQL the database named in the URL should be empty: the first run
# creates the schema, the later ones find it in place.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/quietline
runs=${1:-10}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
for i in $(seq 1 "$runs"); do
    dir=$(mktemp -d)
    port=$((20000 + RANDOM % 20000))
    start=$(date +%s%N)
    QUIETLINE_DATA_DIR=$dir/data QUIETLINE_LISTEN=127.0.0.1:$port "$bin" serve 2>/dev/null &
    pid=$!
    until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
        kill -0 "$pid" 2>/dev/null || { echo "server exited" >&2; exit 1; }
        sleep 0.002
    done
    end=$(date +%s%N)
    sleep 1
    rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || true
    rm -rf "$dir"
    echo "run $i: ready after $(((end - start) / 1000000)) ms, idle RSS $((rss / 1024)) MiB ($rss KiB)"
done
