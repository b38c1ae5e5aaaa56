# Sourced by tests/browser/run.sh and tests/api/run.sh: a fresh data dir (and,
# for `postgres`, a database of its own on QUIETLINE_TEST_DATABASE_URL), a
# volunteer `ana` with the given roles, the real binary serving on a free port.
# Sets: bin, work, port, code (ana's enrollment code); removes everything on exit.
# Usage: start_server <sqlite|postgres> <public host> <roles>

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

start_server() {
    local backend="$1" host="$2" roles="$3"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    export QUIETLINE_DATA_DIR="$work/data"
    export QUIETLINE_LISTEN="127.0.0.1:$port"
    export QUIETLINE_PUBLIC_URL="http://$host:$port"
    if [ "$backend" = postgres ]; then
        pg_db="qlt_peer_$$"
        psql "$QUIETLINE_TEST_DATABASE_URL" -qc "CREATE DATABASE $pg_db" >/dev/null
        export QUIETLINE_DATABASE_URL="${QUIETLINE_TEST_DATABASE_URL%/*}/$pg_db"
    fi
    local out
    out="$("$bin" volunteer add --alias ana --phone +14155550123 --roles "$roles" --languages en,es --zones north)"
    code="$(printf '%s\n' "$out" | sed -n 's/^enrollment code for ana: \([A-Z0-9-]*\) .*/\1/p')"
    [ -n "$code" ] || { echo "no enrollment code in: $out" >&2; exit 1; }
    "$bin" serve 2>"$work/server.log" &
    server_pid=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && return 0
        sleep 0.1
    done
    echo "the server did not become ready:" >&2
    cat "$work/server.log" >&2
    exit 1
}

# Fails if the server's log holds any of the given patterns (numbers, content).
assert_log_clean() {
    if grep -E "$1" "$work/server.log"; then
        echo "FAIL: the server log holds a number or content" >&2
        exit 1
    fi
}
