#!/usr/bin/env bash
# The test suite; `make test` runs it with DYNAMODB_ENDPOINT pointing at a fresh DynamoDB Local.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DYNAMODB_ENDPOINT:?run through make test}"
# No Lambda may be able to accept a local token: the JWT crate stays out of their builds.
for function in $(scripts/functions.sh); do
  tree=$(cargo tree --locked -e normal -p "$function")
  if grep -q jsonwebtoken <<<"$tree"; then
    echo "$function links jsonwebtoken: local auth must never reach a Lambda" >&2
    exit 1
  fi
done
# `make bench` builds the functions and the bench crate in one cargo command, so a feature the
# bench added to a dependency they share would reach the functions' binaries it measures.
features() {
  cargo tree --locked -e normal,build -f '{p} {f}' --prefix none "$@" | sed 's/ (\*)$//' | sort -u
}
functions=()
while read -r function; do functions+=(-p "$function"); done < <(scripts/functions.sh)
theirs=$(features "${functions[@]}")
differing=$(comm -13 <(echo "$theirs") <(features -p quote-chat-bench) |
  while read -r name version features; do
    if grep -qE "^$name $version( |$)" <<<"$theirs"; then echo "$name $version: $features"; fi
  done)
if [ -n "$differing" ]; then
  echo "the bench crate adds features to dependencies the functions share (its features shown):" >&2
  echo "$differing" >&2
  exit 1
fi
# The Lambda binaries and the local server are exercised as real processes by some tests.
cargo build --workspace --bins --locked
# `make invoke`: each event in events/ through its function on cargo lambda's emulator.
scripts/invoke.sh check
cargo test --workspace --exclude quote-chat-bench --locked
# The TypeScript client kit: generated types up to date with openapi.yaml, tsc --strict, vitest.
(cd clients/typescript && npm run --silent ci)
scripts/consumer-test.sh # a create-vite vue-ts app installs the packed kit: vue-tsc -b, vite build
scripts/python-writer-test.sh   # the Python writer on a client generated from openapi.yaml (mypy --strict)
if compgen -G "tests/browser/*.test.mjs" >/dev/null; then
  node --test tests/browser/
fi
