#!/usr/bin/env bash
# The Python server-side writer (clients/python/writer.py) on a client generated from
# openapi.yaml, in `make test`:
#   1. openapi-python-client (.tools/venv, requirements-dev.txt) generates the client into
#      target/python-client (ignored, never committed); any warning fails: the spec must be one
#      every mainstream generator reads;
#   2. mypy --strict checks the writer together with the generated package;
#   3. a local API of its own (target/debug/quote-chat-local on a free port, tables and a JWT
#      secret of its own, over the DynamoDB Local of DYNAMODB_ENDPOINT) gets one job;
#   4. the writer runs twice (fresh message ids), the second time given the job id in upper
#      case: create `streaming`, 20 PATCHes with If-Match, one 412 recovered from
#      details.current_version, then `complete`;
#   5. the chat is read back with curl: both replies `complete`, version 22 (1 + 20 + 1), the
#      whole text and the final metadata; the same answers for the job id in upper case;
#      GET of one message with its version as ETag and a 304 for it; `?after=` the first reply
#      answers the second alone, with `message_count` 2.
# Run alone (it starts its own in-memory DynamoDB Local then) or from scripts/test.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ -z "${DYNAMODB_ENDPOINT:-}" ]; then
  exec "$root/scripts/dynamodb-local.sh" with "$root/scripts/python-writer-test.sh" "$@"
fi

venv="$root/.tools/venv"
bin="${CARGO_TARGET_DIR:-$root/target}/debug/quote-chat-local"
for tool in openapi-python-client mypy python; do
  [ -x "$venv/bin/$tool" ] || { echo "$venv/bin/$tool is missing: run 'make tools'" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "$bin is missing: run 'cargo build --locked -p quote-chat-local'" >&2; exit 1; }

out="$root/target/python-client"
mkdir -p "$root/target"
# shellcheck source=scripts/own-local-api.sh
source "$root/scripts/own-local-api.sh"
own_local_api pywriter "$bin"

# 1. Generate. The venv's bin first on PATH: the generator formats its output with the venv's ruff.
PATH="$venv/bin:$PATH" openapi-python-client generate --path openapi.yaml --output-path "$out" \
  --overwrite >"$work/generate.log" 2>&1 || { cat "$work/generate.log" >&2; exit 1; }
if grep -qvE '^(Generating .*)?$' "$work/generate.log"; then
  echo "openapi-python-client warned on openapi.yaml:" >&2
  cat "$work/generate.log" >&2
  exit 1
fi
echo "ok    openapi-python-client $("$venv/bin/openapi-python-client" --version | sed 's/.*version: //'): no warning"

# 2. Type-check the writer with the generated package as a source too.
MYPYPATH="$out" "$venv/bin/mypy" --strict --cache-dir "$root/target/mypy-cache" \
  clients/python/writer.py "$out/quote_chat_client"
echo "ok    mypy --strict clients/python/writer.py + the generated package"

user="python-writer"
job=$("$bin" job "$user")
token=$("$bin" token "$user")
JOB_UPPER=$(tr 'a-f' 'A-F' <<<"$job")

# 4. The writer, twice: fresh message ids each run, the job id in upper case the second time.
for run in 1 2; do
  job_arg=$job
  [ "$run" = 2 ] && job_arg=$JOB_UPPER
  if ! PYTHONPATH="$out" "$venv/bin/python" clients/python/writer.py \
    --api "$api" --token "$token" --job "$job_arg" --chunks 20 >"$work/run$run.json" 2>"$work/run$run.err"; then
    echo "the writer failed (run $run, job $job_arg):" >&2
    cat "$work/run$run.err" >&2
    exit 1
  fi
  echo "ok    writer run $run: $(cut -c1-150 "$work/run$run.json")"
done

# 5. Read the chat back with curl (not with the generated client) and hold it to the flow.
get() { # get PATH [HEADER]: the body in $work/body, the headers in $work/headers, prints the status
  rm -f "$work/body" && touch "$work/body" # curl writes no file for an empty body
  local args=(-s -o "$work/body" -D "$work/headers" -w '%{http_code}' -H "Authorization: Bearer $token")
  [ -n "${2:-}" ] && args+=(-H "$2")
  curl "${args[@]}" "$api$1"
}
status=$(get "/api/jobs/$job/quote-chat/")
[ "$status" = 200 ] || { echo "list: HTTP $status $(cat "$work/body")" >&2; exit 1; }
cp "$work/body" "$work/list.json"
status=$(get "/api/jobs/$JOB_UPPER/quote-chat/")
[ "$status" = 200 ] || { echo "list with the job id in upper case: HTTP $status $(cat "$work/body")" >&2; exit 1; }
cp "$work/body" "$work/list-upper.json"
first=$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["message_id"])' "$work/run1.json")
second=$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["message_id"])' "$work/run2.json")
status=$(get "/api/jobs/$JOB_UPPER/quote-chat/$first/")
cp "$work/body" "$work/message.json"
echo "$status $(tr -d '\r' <"$work/headers" | grep -i '^etag:' | sed 's/^[^:]*: *//')" >"$work/message.status"
status=$(get "/api/jobs/$job/quote-chat/$first/" 'If-None-Match: "22"')
echo "$status $(wc -c <"$work/body")" >"$work/message-304.status"
status=$(get "/api/jobs/$job/quote-chat/?after=$first")
cp "$work/body" "$work/after.json"
echo "$status" >"$work/after.status"

"$venv/bin/python" - "$work" "$job" "$first" "$second" <<'EOF'
import json, sys

work, job, first, second = sys.argv[1:]
expected = "".join(f"Part {i} of the reply. " for i in range(1, 21))
problems = []

def check(what, got, want):
    if got != want:
        problems.append(f"{what}: {got!r}, expected {want!r}")

for run, message_id in ((1, first), (2, second)):
    result = json.load(open(f"{work}/run{run}.json"))
    check(f"run {run}: 412s recovered", result["conflicts_recovered"], 1)
listed = json.load(open(f"{work}/list.json"))["data"]
check("list: job_id", listed["job_id"], job)
check("list: message ids", [m["message_id"] for m in listed["messages"]], [first, second])
check("list: message_count", listed.get("message_count"), 2)
for m in listed["messages"]:
    check(f"{m['message_id']}: status", m["status"], "complete")
    check(f"{m['message_id']}: version", m["version"], 22)
    check(f"{m['message_id']}: role", m["role"], "assistant")
    check(f"{m['message_id']}: content", m["content"], expected)
    check(f"{m['message_id']}: metadata", m["metadata"], {"chunks": 20, "writer": "python"})
check("the list for the job id in upper case", open(f"{work}/list-upper.json").read(), open(f"{work}/list.json").read())

status, _, etag = open(f"{work}/message.status").read().strip().partition(" ")
check("GET of one message (job id in upper case): status", status, "200")
check("GET of one message: ETag", etag, '"22"')
if status == "200":
    check("GET of one message: body", json.load(open(f"{work}/message.json"))["data"], listed["messages"][0])
check("GET of one message with If-None-Match \"22\": status and body bytes",
      open(f"{work}/message-304.status").read().split(), ["304", "0"])
status = open(f"{work}/after.status").read().strip()
check("list ?after=<first reply>: status", status, "200")
if status == "200":
    after = json.load(open(f"{work}/after.json"))["data"]
    check("list ?after=<first reply>: message ids", [m["message_id"] for m in after["messages"]], [second])
    check("list ?after=<first reply>: message_count", after.get("message_count"), 2)

if problems:
    print("the chat is not what the Python writer wrote:", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"ok    the chat: 2 replies complete, version 22, {len(expected)} characters each; "
      "same answer for the job id in upper case; GET of a message (ETag \"22\", 304); ?after=")
EOF
