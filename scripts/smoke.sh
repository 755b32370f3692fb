#!/usr/bin/env bash
# Smoke test of a deployed stack, without credentials: every route exists (with and without its
# trailing slash) and API Gateway's JWT authorizer guards it; unknown paths get the fallback function's 404 envelope.
#   scripts/smoke.sh https://<api id>.execute-api.<region>.amazonaws.com [ORIGIN]
# ORIGIN (optional): an origin from AllowedOrigins, to check the CORS preflight as well.
# CI runs it after each deploy; it changes nothing (every request is refused before a function).
set -euo pipefail

url=${1:?usage: $0 API_URL [ORIGIN]}
url=${url%/}
origin=${2:-}
job=00000000-0000-4000-8000-000000000000
failed=0

expect() {
  # expect STATUS BODY_REGEX METHOD PATH [curl args...]
  local want=$1 want_body=$2 method=$3 path=$4 body status
  shift 4
  body=$(mktemp)
  status=$(curl -sS -o "$body" -w '%{http_code}' -X "$method" "$@" "$url$path" || echo 000)
  if [ "$status" = "$want" ] && grep -qE -- "$want_body" "$body"; then
    echo "ok    $method $path -> $status"
  else
    echo "FAIL  $method $path -> $status $(head -c 200 "$body"), expected $want with $want_body" >&2
    failed=1
  fi
  rm -f "$body"
}

# No token: API Gateway's authorizer answers 401 with its own body, so the route exists and is
# guarded. (A function's own 401 would be the API envelope, code UNAUTHENTICATED: that would
# mean a route without the authorizer.)
for path in "/api/jobs/$job/quote-chat" "/api/jobs/$job/quote-chat/"; do
  expect 401 '"message" *: *"Unauthorized"' GET "$path"
  expect 401 '"message" *: *"Unauthorized"' POST "$path" -H 'content-type: application/json' -d '{}'
  expect 401 '"message" *: *"Unauthorized"' DELETE "$path"
done
for path in "/api/jobs/$job/quote-chat/m-1" "/api/jobs/$job/quote-chat/m-1/"; do
  expect 401 '"message" *: *"Unauthorized"' PATCH "$path" -H 'content-type: application/json' -d '{}'
done
# A garbage token is refused the same way.
expect 401 '"message" *: *"Unauthorized"' GET "/api/jobs/$job/quote-chat/" -H 'authorization: Bearer not-a-jwt'
# No such route: the fallback function's envelope.
expect 404 '"code" *: *"NOT_FOUND"' GET "/api/no-such-route"

if [ -n "$origin" ]; then
  headers=$(mktemp)
  curl -sS -o /dev/null -D "$headers" -X OPTIONS "$url/api/jobs/$job/quote-chat/" \
    -H "origin: $origin" -H 'access-control-request-method: PATCH' \
    -H 'access-control-request-headers: authorization,content-type,if-match' || true
  if grep -qi "^access-control-allow-origin: $origin" "$headers"; then
    echo "ok    OPTIONS preflight from $origin"
  else
    echo "FAIL  OPTIONS preflight from $origin: no matching access-control-allow-origin" >&2
    sed 's/^/      /' "$headers" >&2
    failed=1
  fi
  rm -f "$headers"
fi

[ "$failed" -eq 0 ] && echo "smoke: $url ok"
exit "$failed"
