#!/usr/bin/env bash
# `make run`: DynamoDB Local (data kept in .local/dynamodb) + the local API. Ctrl-C stops both.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ddb_port=${DYNAMODB_PORT:-8000}
data_dir="$root/.local/dynamodb"
log="$root/.local/dynamodb.log"
mkdir -p "$root/.local"

ddb_pid=""
if curl -s -o /dev/null -X POST "http://127.0.0.1:$ddb_port/" 2>/dev/null; then
  echo "Using the DynamoDB Local already listening on 127.0.0.1:$ddb_port"
else
  echo "Starting DynamoDB Local on 127.0.0.1:$ddb_port (data in .local/dynamodb, log in .local/dynamodb.log)"
  ddb_pid=$("$root/scripts/dynamodb-local.sh" start "$ddb_port" "$data_dir" "$log")
fi
stop() {
  if [ -n "$ddb_pid" ]; then
    kill "$ddb_pid" 2>/dev/null || true
    wait "$ddb_pid" 2>/dev/null || true
  fi
}
trap stop EXIT INT TERM

export DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
cargo build --locked -p quote-chat-local
"$root/target/debug/quote-chat-local" serve
