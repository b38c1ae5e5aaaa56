#!/usr/bin/env bash
# Runs the console walk (console.mjs) in Debian's chromium against a fresh server
# on SQLite, or on PostgreSQL with `run.sh postgres` (QUIETLINE_TEST_DATABASE_URL
# names a server; a database of its own is created and dropped).
# Screenshots: target/browser/<backend>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
backend="${1:-sqlite}"
. tests/support/serve.sh
export QUIETLINE_ZONES="north,south"
# localhost, not 127.0.0.1: browsers treat it as a secure context, so the
# session cookie marked Secure is kept over plain http in the test.
start_server "$backend" localhost dispatcher,observer,coordinator
BASE="http://localhost:$port" ALIAS=ana CODE="$code" SCREENSHOTS="target/browser/$backend" \
    NUMBERS="4155550123" node tests/browser/console.mjs
assert_log_clean "4155550123|Laundromat|unmarked"
