#!/usr/bin/env bash
# schemathesis (PyPI) against a running server with a signed-in session: every
# API operation, generated inputs, and the checks that no answer is a 5xx and
# none contradicts /api/v1/openapi.json. `run.sh postgres` runs it on
# PostgreSQL (QUIETLINE_TEST_DATABASE_URL names a server).
set -euo pipefail
cd "$(dirname "$0")/../.."
backend="${1:-sqlite}"
. tests/support/serve.sh
start_server "$backend" 127.0.0.1 coordinator,dispatcher,observer,attorney
read -r cookie csrf < <(python3 tests/api/session.py "http://127.0.0.1:$port" ana "$code")

# Signing out would end the session the run uses; those two are walked by the
# role x route test instead.
st run "http://127.0.0.1:$port/api/v1/openapi.json" \
    --header "Cookie: __Host-ql_session=$cookie" --header "X-CSRF-Token: $csrf" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /api/v1/session --exclude-path /api/v1/sessions \
    --max-examples 25 --seed 7 --workers 1 --no-color
# The session lasted the whole run, so every operation was tested signed in.
curl -fs -H "Cookie: __Host-ql_session=$cookie" "http://127.0.0.1:$port/api/v1/me" >/dev/null ||
    { echo "FAIL: the session did not last the run" >&2; exit 1; }
assert_log_clean "4155550123"
