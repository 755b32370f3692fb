#!/usr/bin/env bash
# The local invoke loop: events through the real function binaries on cargo lambda's Lambda
# emulator (`cargo lambda watch`, from .tools/venv), no Docker needed.
#
#   scripts/invoke.sh FN EVENT   `make invoke`: EVENT through function FN against the DynamoDB
#                                Local of `make run` (DYNAMODB_PORT, or DYNAMODB_ENDPOINT); the
#                                tables and the demo job are made if missing, as `make run`
#                                does. The response on stdout, the function's log on stderr.
#   scripts/invoke.sh check      `make test`: every event in events/ through its function (the
#                                event's file name), each answering the status it should, on
#                                tables of its own on DYNAMODB_ENDPOINT. Uses the binaries
#                                built already (scripts/test.sh builds them).
#
# The emulator only serves the Runtime API (`--only-lambda-apis`): the binaries are the ones
# cargo built, started here as Lambda starts them, so nothing is compiled twice. It hands every
# invocation a deadline already past (`Lambda-Runtime-Deadline-Ms: 600000`), which the functions
# take as no deadline (shared/src/lambda.rs, `time_left`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=$root/.tools/venv
target=${CARGO_TARGET_DIR:-target}
invoke_port=${INVOKE_PORT:-9000}
# The development key `make run` signs cursors with, so a cursor from one works in the other.
cursor_secret=quote-chat-development-cursor-secret

# What each sample event answers when they run in this order on an empty chat: create makes
# the message that patch patches (If-Match "1"), clear empties the chat last.
events=(create:201 list:200 patch:200 clear:200)

usage() {
  echo "usage: $0 FN EVENT | check   (make invoke FN=list EVENT=events/list.json)" >&2
  exit 2
}

if [ ! -x "$venv/bin/cargo-lambda" ]; then
  echo "cargo-lambda is missing from $venv: run 'make tools'" >&2
  exit 1
fi
export PATH="$venv/bin:$PATH"

# The functions' log lines: on stderr, or (check) in a file shown if something fails.
function_log=/dev/stderr
pids=()
# The functions first, then the emulator they poll.
stop() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap stop EXIT INT TERM

# Something accepts TCP connections on 127.0.0.1:PORT.
listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The emulator's Runtime API (and invoke endpoint) on 127.0.0.1:$invoke_port.
start_emulator() {
  if listening "$invoke_port"; then
    echo "port $invoke_port (INVOKE_PORT) is already in use on 127.0.0.1 (another cargo lambda watch?)." >&2
    echo "Stop what listens there, or choose another port: INVOKE_PORT=$((invoke_port + 1))" >&2
    exit 1
  fi
  local log
  log=$(mktemp)
  cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
    >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    if listening "$invoke_port"; then
      rm -f "$log"
      return 0
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "cargo lambda watch did not start on port $invoke_port:" >&2
  cat "$log" >&2
  exit 1
}

# Starts the binary of function $1 as Lambda would, polling the emulator for its own events;
# its log lines are JSON, as on Lambda.
start_function() {
  local name=$1 binary="$target/debug/$1"
  if [ ! -x "$binary" ]; then
    echo "$binary is not built: cargo build --locked -p quote-chat-$name" >&2
    exit 1
  fi
  # The emulator's Runtime API for the function named $name (the bare /.rt is the one named _).
  env AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$invoke_port/.rt/$name" \
    AWS_LAMBDA_FUNCTION_NAME="$name" \
    AWS_LAMBDA_FUNCTION_VERSION='$LATEST' \
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 \
    AWS_LAMBDA_LOG_FORMAT="${AWS_LAMBDA_LOG_FORMAT:-JSON}" \
    CURSOR_SECRET="$cursor_secret" \
    "$binary" >>"$function_log" 2>&1 &
  pids+=($!)
}

# The response of function $1 to the event in file $2. The emulator waits for an answer as
# long as it takes (a function that died never gives one): the timeout is ours.
invoke() {
  timeout 60 cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
    --data-file "$2"
}

# The statusCode of an API Gateway response on stdin.
status_code() {
  python3 -c 'import json, sys; print(json.load(sys.stdin).get("statusCode"))'
}

case "${1:-}" in
  check)
    : "${DYNAMODB_ENDPOINT:?run through make test}"
    export MESSAGES_TABLE=invoke-check-messages JOBS_TABLE=invoke-check-jobs
    # A free port unless one is given: `make test` may run beside a `make invoke`.
    invoke_port=${INVOKE_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}
    started=$(date +%s%N)
    function_log=$(mktemp)
    trap 'stop; rm -f "$function_log"' EXIT INT TERM
    "$target/debug/quote-chat-local" demo
    # Every event has its expected status, and every expected status its event.
    listed=$(for event in events/*.json; do basename "$event" .json; done | sort)
    expected=$(for pair in "${events[@]}"; do echo "${pair%%:*}"; done | sort)
    if [ "$listed" != "$expected" ]; then
      echo "events/ holds: $(echo $listed); this check knows: $(echo $expected)." >&2
      echo "Give each event its expected status in scripts/invoke.sh." >&2
      exit 1
    fi
    start_emulator
    for pair in "${events[@]}"; do
      start_function "${pair%%:*}"
    done
    failed=0
    for pair in "${events[@]}"; do
      name=${pair%%:*} want=${pair#*:}
      response=$(invoke "$name" "events/$name.json") || response='{}'
      got=$(status_code <<<"$response" 2>/dev/null) || got=none
      if [ "$got" = "$want" ]; then
        echo "make invoke: events/$name.json through $name answered $got"
      else
        echo "make invoke: events/$name.json through $name answered $got, not $want: $response" >&2
        failed=1
      fi
    done
    if [ "$failed" = 1 ]; then
      echo "--- the functions' log ---" >&2
      cat "$function_log" >&2
    fi
    echo "make invoke: ${#events[@]} events in $((($(date +%s%N) - started) / 1000000)) ms" >&2
    exit "$failed"
    ;;
  '' | -*) usage ;;
  *)
    name=$1 event=${2:-}
    [ -n "$event" ] || usage
    [ -f "$event" ] || { echo "no event file $event (see events/)" >&2; exit 1; }
    export DYNAMODB_ENDPOINT=${DYNAMODB_ENDPOINT:-http://127.0.0.1:${DYNAMODB_PORT:-8000}}
    cargo build --locked -q -p "quote-chat-$name" -p quote-chat-local
    "$target/debug/quote-chat-local" demo
    start_emulator
    start_function "$name"
    invoke "$name" "$event"
    echo
    ;;
esac
