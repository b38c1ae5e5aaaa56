#!/usr/bin/env bash
# Every figure of BENCHMARKS.md in one run: the criterion benches, then for
# SQLite and for PostgreSQL cold start and idle memory, the incoming-call webhook
# against the trivial handler, the webhook at a steady 1 000/s, a sweep of
# 100 000 items under that load, and the whole call flow through the provider
# stand-in with a 1 000-call surge, and ring latency under the provider's call
# rate (benches/ringing.rs). Prints the machine first; also writes the
# output to target/bench/.
#
#   scripts/load.sh
#   PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/test scripts/load.sh   # the default
#
# Installs wrk and sqlite3 from Debian's packages when missing. Takes ~10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_admin=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}
for tool in wrk sqlite3; do
    if ! command -v "$tool" >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "$tool" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$tool"; }
    fi
done
mkdir -p target/bench
out=target/bench/$(date -u +%Y-%m-%dT%H%MZ).txt
exec > >(tee "$out") 2>&1

echo "# quietline benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)"
echo "PostgreSQL: $(psql "$pg_admin" -Atc 'SHOW server_version')  wrk: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)"
cargo build --release -q

echo; echo "## criterion (cargo bench --bench vault --bench webhook)"
cargo bench -q --bench vault --bench webhook -- --warm-up-time 1 --measurement-time 3 2>/dev/null |
    awk '/time:/ {print prev "  " $0} {prev = $0}' | sed 's/  */ /g'

pg_db() { # name: a fresh database, its URL on stdout
    PGOPTIONS=--client-min-messages=warning psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
        -c "CREATE DATABASE $1" >/dev/null
    echo "${pg_admin%/*}/$1"
}
for backend in sqlite postgres; do
    echo; echo "## $backend"
    if [ "$backend" = postgres ]; then
        export QUIETLINE_DATABASE_URL
        QUIETLINE_DATABASE_URL=$(pg_db qlt_bench_cold)
    fi
    echo "### cold start (scripts/coldstart.sh 5)"
    scripts/coldstart.sh 5
    [ "$backend" = postgres ] && QUIETLINE_DATABASE_URL=$(pg_db qlt_bench_load)
    echo "### webhook (scripts/load-webhook.sh)"
    scripts/load-webhook.sh
    [ "$backend" = postgres ] && QUIETLINE_DATABASE_URL=$(pg_db qlt_bench_load1)
    echo "### webhook, one language and 25 on shift (QUIETLINE_LANGUAGES=en ON_SHIFT=25 scripts/load-webhook.sh)"
    QUIETLINE_LANGUAGES=en ON_SHIFT=25 scripts/load-webhook.sh
    [ "$backend" = postgres ] && QUIETLINE_DATABASE_URL=$(pg_db qlt_bench_sweep)
    echo "### sweep under load (scripts/load-sweep.sh)"
    ITEMS=100000 scripts/load-sweep.sh
done
unset QUIETLINE_DATABASE_URL
for db in qlt_bench_cold qlt_bench_load qlt_bench_load1 qlt_bench_sweep; do
    PGOPTIONS=--client-min-messages=warning psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done

echo; echo "## call flow through the provider stand-in (cargo bench --bench callflow)"
QUIETLINE_TEST_DATABASE_URL=$pg_admin cargo bench -q --bench callflow 2>/dev/null

echo; echo "## ring latency under the provider's limits (cargo bench --bench ringing)"
echo "### sqlite"
cargo bench -q --bench ringing 2>/dev/null
echo "### postgres"
QUIETLINE_TEST_DATABASE_URL=$pg_admin cargo bench -q --bench ringing 2>/dev/null
