#!/usr/bin/env bash
# Runs the console walk (console.mjs) in Debian's chromium against a fresh server
# on SQLite, or on PostgreSQL with `run.sh postgres` (QUIETLINE_TEST_DATABASE_URL
# names a server; a database of its own is created and dropped).
# Screenshots: target/browser/<backend>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
backend="${1:-sqlite}"
bin="$PWD/target/debug/quietline"
[ -x "$bin" ] || cargo build -q
work="$(mktemp -d)"
server_pid=""
pg_db=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    if [ -n "$pg_db" ]; then
        psql "$QUIETLINE_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export QUIETLINE_DATA_DIR="$work/data"
export QUIETLINE_LISTEN="127.0.0.1:$port"
export QUIETLINE_PUBLIC_URL="http://localhost:$port"
export QUIETLINE_ZONES="north,south"
if [ "$backend" = postgres ]; then
    pg_db="qlt_browser_$$"
    psql "$QUIETLINE_TEST_DATABASE_URL" -qc "CREATE DATABASE $pg_db" >/dev/null
    export QUIETLINE_DATABASE_URL="${QUIETLINE_TEST_DATABASE_URL%/*}/$pg_db"
fi

out="$("$bin" volunteer add --alias ana --phone +14155550123 --roles dispatcher,observer,coordinator \
    --languages en,es --zones north)"
code="$(printf '%s\n' "$out" | sed -n 's/^enrollment code for ana: \([A-Z0-9-]*\) .*/\1/p')"
[ -n "$code" ] || { echo "no enrollment code in: $out" >&2; exit 1; }

"$bin" serve 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null

BASE="http://localhost:$port" ALIAS=ana CODE="$code" SCREENSHOTS="target/browser/$backend" \
    NUMBERS="4155550123" node tests/browser/console.mjs
# The server's log never saw the number or the incident's details either.
if grep -E "4155550123|Laundromat|unmarked" "$work/server.log"; then
    echo "FAIL: the server log holds a number or content" >&2
    exit 1
fi
