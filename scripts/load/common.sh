# Shared by the load scripts (sourced, not run): a release server on a fresh data
# dir, configured as a hotline whose provider webhooks we sign ourselves, and the
# signed requests for wrk. Sets bin, dir, port, url, token and exports the
# QUIETLINE_* settings; `start_server` starts it and waits until it is ready.
bin=$PWD/target/release/quietline
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
dir=$(mktemp -d)
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$dir"' EXIT
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:$port"
token=load-test-token-0123456789abcdef
export QUIETLINE_DATA_DIR=$dir/data QUIETLINE_LISTEN=127.0.0.1:$port QUIETLINE_PUBLIC_URL=$url \
    QUIETLINE_HOTLINE_NUMBER=+14155550000 QUIETLINE_PROVIDER_ACCOUNT_SID=AC00000000000000000000000000000001 \
    QUIETLINE_PROVIDER_AUTH_TOKEN=$token QUIETLINE_PROVIDER_API_BASE=http://127.0.0.1:9 \
    QUIETLINE_LANGUAGES=${QUIETLINE_LANGUAGES:-en,es} QUIETLINE_LOG=warn

sign_requests() { # count
    python3 scripts/load/sign_requests.py "$url/telephony/voice" "$token" "$1" >"$dir/requests.tsv"
}

start_server() {
    "$bin" serve 2>"$dir/serve.log" &
    pid=$!
    until curl -sf "$url/readyz" >/dev/null; do
        kill -0 "$pid" 2>/dev/null || { cat "$dir/serve.log" >&2; exit 1; }
        sleep 0.05
    done
}

# One line from a wrk --latency output file: throughput, p50, p99, errors.
summary() { # label file
    awk -v l="$1" '/Requests\/sec/ {r=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$NF}
        /Socket errors/ {err=$0}
        END {printf "%-44s %10s req/s  p50 %-9s p99 %-9s non-2xx %s%s\n", l, r, p50, p99, bad ? bad : 0, err ? "  " err : ""}' "$2"
}

backend_name() {
    if [ -n "${QUIETLINE_DATABASE_URL:-}" ]; then echo postgres; else echo sqlite; fi
}
