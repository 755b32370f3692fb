# Sourced (not run) by scripts that need a local API of their own over the DynamoDB Local of
# DYNAMODB_ENDPOINT — scripts/python-writer-test.sh, scripts/schemathesis.sh — so they can run
# while `make run` or `make test` is up:
#
#   own_local_api NAME BIN [RUST_LOG]
#
# starts `BIN serve` on a free port, with tables (`NAME-messages-<pid>`, `NAME-jobs-<pid>`) and
# a JWT secret of its own, and waits until it says it is ready. It sets `work` (a temporary
# folder; the server's output is $work/server.log), `api` (http://127.0.0.1:<port>) and `port`;
# the tables and the secret stay exported, so `BIN job` and `BIN token` use them. On exit the
# server is stopped and $work removed.

own_local_api() {
  local name=$1 bin=$2
  work=$(mktemp -d)
  server_pid=""
  trap own_local_api_stop EXIT
  trap 'exit 130' INT TERM
  export MESSAGES_TABLE="$name-messages-$$" JOBS_TABLE="$name-jobs-$$"
  export LOCAL_JWT_SECRET="$name-$$-$RANDOM$RANDOM-secret"
  export RUST_LOG=${3:-${RUST_LOG:-warn}}
  HOST=127.0.0.1 PORT=0 "$bin" serve >"$work/server.log" 2>&1 &
  server_pid=$!
  api=""
  for _ in $(seq 1 300); do
    kill -0 "$server_pid" 2>/dev/null || break
    if grep -q 'Ctrl-C stops the server.' "$work/server.log"; then
      api=$(grep -oE 'local API on http://[^ ]+' "$work/server.log" | head -n 1 | sed 's/^local API on //')
      break
    fi
    sleep 0.1
  done
  if [ -z "$api" ]; then
    echo "the local API did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  port=${api##*:}
}

own_local_api_stop() {
  if [ -n "${server_pid:-}" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "${work:-}"
}
