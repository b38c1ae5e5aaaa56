#!/usr/bin/env bash
# schemathesis (PyPI) against a running server with a signed-in session: every
# API operation, generated inputs, and the checks that no answer is a 5xx and
# none contradicts /api/v1/openapi.json. `run.sh postgres` runs it on
# PostgreSQL (QUIETLINE_TEST_DATABASE_URL names a server).
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
export QUIETLINE_PUBLIC_URL="http://127.0.0.1:$port"
if [ "$backend" = postgres ]; then
    pg_db="qlt_schemathesis_$$"
    psql "$QUIETLINE_TEST_DATABASE_URL" -qc "CREATE DATABASE $pg_db" >/dev/null
    export QUIETLINE_DATABASE_URL="${QUIETLINE_TEST_DATABASE_URL%/*}/$pg_db"
fi

out="$("$bin" volunteer add --alias ana --phone +14155550123 --roles coordinator,dispatcher,observer,attorney \
    --languages en --zones north)"
code="$(printf '%s\n' "$out" | sed -n 's/^enrollment code for ana: \([A-Z0-9-]*\) .*/\1/p')"
"$bin" serve 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
done
read -r cookie csrf < <(python3 tests/api/session.py "http://127.0.0.1:$port" ana "$code")

# Signing out would end the session the run uses; those two are walked by the
# role x route test instead.
st run "http://127.0.0.1:$port/api/v1/openapi.json" \
    --header "Cookie: ql_session=$cookie" --header "X-CSRF-Token: $csrf" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /api/v1/session --exclude-path /api/v1/sessions \
    --max-examples 25 --seed 7 --workers 1 --no-color
# The session lasted the whole run, so every operation was tested signed in.
curl -fs -H "Cookie: ql_session=$cookie" "http://127.0.0.1:$port/api/v1/me" >/dev/null ||
    { echo "FAIL: the session did not last the run" >&2; exit 1; }
if grep -E "4155550123" "$work/server.log"; then
    echo "FAIL: the server log holds a number" >&2
    exit 1
fi
