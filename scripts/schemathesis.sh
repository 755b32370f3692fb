#!/usr/bin/env bash
# `make schemathesis`: schemathesis (PyPI, in .tools/venv) generates requests from openapi.yaml
# and checks every answer against it, on a local API of its own: an in-memory DynamoDB Local and
# target/debug/quote-chat-local, both on free ports, with tables and a JWT secret of their own,
# so it can run while `make run` or `make test` is up. One job owned by a test user; every
# request carries that user's token and that job's id (path parameter job_id fixed in the
# generated config), so the generated cases reach the handlers instead of stopping at 401/404.
#
# Every check is on but positive_data_acceptance: the API rightly refuses some schema-valid
# requests (a cursor whose signature fails, a stale If-Match, a message that does not exist).
# negative_data_rejection is on, with one limit explained in docs/RELIABILITY.md ("Schema-driven
# testing"): the stateful phase does not apply it (its links and fixed parameters turn "negative"
# requests valid). Request bodies in openapi.yaml are open (no `additionalProperties: false`), as
# the server ignores unknown fields by contract: a body with an extra property is valid data, and
# nothing here stops schemathesis from sending extra properties or parameters.
# Phases: examples, coverage, fuzzing, stateful. Bounded: SCHEMATHESIS_MAX_EXAMPLES per operation
# (default 100) and SCHEMATHESIS_MAX_TIME seconds in all (default 150). SCHEMATHESIS_SEED fixes
# the seed (default 1; `random` for a new one each run). Extra arguments go to `schemathesis run`.
# Exits non-zero on any failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# First pass: start an in-memory DynamoDB Local on a free port and come back inside it
# (dynamodb-local.sh stops it when this script ends, whatever the outcome).
if [ -z "${QC_SCHEMATHESIS_INNER:-}" ]; then
  export QC_SCHEMATHESIS_INNER=1
  exec "$root/scripts/dynamodb-local.sh" with "$root/scripts/schemathesis.sh" "$@"
fi
: "${DYNAMODB_ENDPOINT:?set by scripts/dynamodb-local.sh with}"

st="$root/.tools/venv/bin/schemathesis"
bin="${CARGO_TARGET_DIR:-$root/target}/debug/quote-chat-local"
[ -x "$st" ] || { echo "schemathesis is not installed: run 'make tools'" >&2; exit 1; }
[ -x "$bin" ] || { echo "$bin is missing: run 'cargo build --locked -p quote-chat-local'" >&2; exit 1; }

max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}
max_time=${SCHEMATHESIS_MAX_TIME:-150}
seed=${SCHEMATHESIS_SEED:-1}
workers=${SCHEMATHESIS_WORKERS:-2}

# shellcheck source=scripts/own-local-api.sh
source "$root/scripts/own-local-api.sh"
# At info: a line per request, the statuses served, counted at the end.
own_local_api schemathesis "$bin" "${RUST_LOG:-info}"

user="schemathesis-user"
job=$("$bin" job "$user")
token=$("$bin" token "$user")
# A second user, a stranger to the job: the object_level_authorization check replays the
# owner's reads as this user (who must get 404 JOB_NOT_FOUND, never the chat).
stranger_token=$("$bin" token "schemathesis-stranger")
export QC_SCHEMATHESIS_JOB="$job"
cat >"$work/users.json" <<EOF
{"auth": [
  {"name": "owner", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $token"}]},
  {"name": "stranger", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $stranger_token"}]}
]}
EOF

# Seed the chat so that every operation can reach its success path: two messages cleared (a
# restore has something to bring back), then the messages named in openapi.yaml's examples
# (the examples phase patches `assistant-1`).
call() {
  local method=$1 path=$2 body=${3:-} expect=$4 status
  local args=(-s -o "$work/seed.out" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' -d "$body")
  status=$(curl "${args[@]}" "http://127.0.0.1:$port/api/jobs/$job/quote-chat/$path")
  if [ "$status" != "$expect" ]; then
    echo "seeding: $method .../quote-chat/$path answered $status, not $expect: $(cat "$work/seed.out")" >&2
    exit 1
  fi
}
call POST "" '{"message_id":"seed-1","role":"user","content":"3 boxes"}' 201
call POST "" '{"message_id":"seed-2","role":"assistant","content":"","status":"streaming"}' 201
call DELETE "" "" 200
call POST "" '{"message_id":"user-1234567890","role":"user","content":"3 stainless steel boxes","metadata":{"source":"web","price":2.5}}' 201
call POST "" '{"message_id":"assistant-1","role":"assistant","content":"","status":"streaming"}' 201

# The config file: every request as the owner (the stranger only for the peer probes), the job
# from the environment (${...} is schemathesis's own interpolation), no example database left
# behind. The checks are set here, not with --checks on the command line, which would override
# the stateful phase's own setting; unlisted checks are on.
cat >"$work/schemathesis.toml" <<'EOF'
[auth.wfc]
path = "users.json"
user = "owner"
peers = ["owner", "stranger"]

[checks]
positive_data_acceptance.enabled = false
# schemathesis's default list plus 413: a body over a size limit (content longer than its
# maxLength, metadata with more keys than its maxProperties) is refused as too large.
negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]

[parameters]
"path.job_id" = "${QC_SCHEMATHESIS_JOB}"

[generation]
database = "none"

# In the stateful phase a step's values come from links (a message_id from an earlier answer)
# and from [parameters] above, which replace the very path parameter that schemathesis made
# invalid: the request it calls negative is then valid, and a 200 is right. The coverage and
# fuzzing phases keep the check (docs/RELIABILITY.md).
[phases.stateful.checks.negative_data_rejection]
enabled = false
EOF

echo "schemathesis $("$st" --version | sed 's/.*version //') on http://127.0.0.1:$port (DynamoDB Local $DYNAMODB_ENDPOINT, in memory)"
echo "job $job owned by $user; phases examples,coverage,fuzzing,stateful; at most $max_examples examples per operation, $max_time s; seed $seed"
seed_args=(--seed "$seed")
[ "$seed" = random ] && seed_args=()
status=0
# Run from the temporary directory: Hypothesis and schemathesis keep caches (.hypothesis/,
# .schemathesis/) in the current directory, and they go with it.
(cd "$work" && "$st" --config-file "$work/schemathesis.toml" run "$root/openapi.yaml" \
  --url "http://127.0.0.1:$port" \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$max_examples" \
  --max-time "$max_time" \
  --workers "$workers" \
  --request-timeout 10 \
  "${seed_args[@]}" \
  --no-color \
  "$@") || status=$?
# What the server answered (the owner's requests reaching the handlers, not stopped at 401).
echo "the local API answered, by status:" $(sed 's/\x1b\[[0-9;]*m//g' "$work/server.log" |
  grep -oE 'status=[0-9]{3}' | sort | uniq -c | awk '{sub("status=", "", $2); printf "%s:%s ", $2, $1}')
if grep -qE 'panicked|INTERNAL_ERROR' "$work/server.log"; then
  echo "the local API logged a panic or an internal error:" >&2
  grep -E 'panicked|INTERNAL_ERROR' "$work/server.log" | head -n 20 >&2
  status=1
fi
exit "$status"
