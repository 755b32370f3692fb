#!/usr/bin/env bash
# `make run`: DynamoDB Local (data kept in .local/dynamodb) + the local API. Ctrl-C stops both.
# `make reset` (scripts/run-local.sh reset): deletes .local/dynamodb, with make run stopped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
port=${PORT:-3000}
ddb_port=${DYNAMODB_PORT:-8000}
data_dir="$root/.local/dynamodb"
log="$root/.local/dynamodb.log"
probe() { "$root/scripts/dynamodb-local.sh" probe "$1"; }

if [ "${1:-}" = reset ]; then
  # Only the tables of make run; node_modules, target/ and .tools/ stay.
  state=$(probe "$ddb_port")
  if [ "$state" != free ]; then
    what="DynamoDB Local"
    [ "$state" = dynamodb ] || what="another server ${state#other }"
    echo "make reset: something listens on 127.0.0.1:$ddb_port (DYNAMODB_PORT): $what." >&2
    echo "Stop 'make run' first (Ctrl-C in its terminal), then run 'make reset' again." >&2
    exit 1
  fi
  if command -v pgrep >/dev/null && pids=$(pgrep -f -- "-dbPath $data_dir( |$)"); then
    echo "make reset: a DynamoDB Local still uses .local/dynamodb (pid $(echo $pids)), on another" >&2
    echo "DYNAMODB_PORT: stop that 'make run' first (Ctrl-C), then run 'make reset' again." >&2
    exit 1
  fi
  if [ -d "$data_dir" ]; then
    rm -rf "$data_dir"
    echo "Deleted .local/dynamodb: the next 'make run' starts with empty tables and the demo job."
  else
    echo "Nothing to delete: .local/dynamodb does not exist."
  fi
  exit 0
fi

# The ports are checked before anything starts, each named with what to do.
if [ "$port" = "$ddb_port" ]; then
  echo "PORT and DYNAMODB_PORT are both $port: give them different ports, e.g. PORT=3000 DYNAMODB_PORT=8000 make run" >&2
  exit 1
fi
if [ "$(probe "$port")" != free ]; then
  echo "port $port (PORT, the local API) is already in use on 127.0.0.1 (another 'make run'?)." >&2
  echo "Stop what listens there, or choose another port: PORT=$((port + 1)) make run" >&2
  exit 1
fi

mkdir -p "$root/.local"
ddb_pid=""
state=$(probe "$ddb_port")
case "$state" in
  dynamodb)
    echo "Using the DynamoDB Local already listening on 127.0.0.1:$ddb_port (its data, which may not be .local/dynamodb)"
    ;;
  free)
    echo "Starting DynamoDB Local on 127.0.0.1:$ddb_port (data in .local/dynamodb, log in .local/dynamodb.log; 'make reset' deletes the data)"
    ddb_pid=$("$root/scripts/dynamodb-local.sh" start "$ddb_port" "$data_dir" "$log")
    ;;
  *)
    echo "port $ddb_port (DYNAMODB_PORT) is taken by another server, not DynamoDB Local ${state#other }." >&2
    echo "Stop that server, or run DynamoDB Local on another port: DYNAMODB_PORT=$((ddb_port + 1)) make run" >&2
    exit 1
    ;;
esac
stop() {
  if [ -n "$ddb_pid" ]; then
    kill "$ddb_pid" 2>/dev/null || true
    wait "$ddb_pid" 2>/dev/null || true
  fi
}
trap stop EXIT INT TERM

export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
cargo build --locked -p quote-chat-local
# Where cargo built it: CARGO_TARGET_DIR when set (relative to the root, as cargo takes it here).
"${CARGO_TARGET_DIR:-$root/target}/debug/quote-chat-local" serve
