#!/usr/bin/env bash
# The test suite; `make test` runs it with DYNAMODB_ENDPOINT pointing at a fresh DynamoDB Local.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DYNAMODB_ENDPOINT:?run through make test}"
# No Lambda may be able to accept a local token: the JWT crate stays out of their builds.
for function in list create clear patch fallback sweep; do
  tree=$(cargo tree --locked -e normal -p "quote-chat-$function")
  if grep -q jsonwebtoken <<<"$tree"; then
    echo "quote-chat-$function links jsonwebtoken: local auth must never reach a Lambda" >&2
    exit 1
  fi
done
# `make bench` builds the bench crate after the functions, reusing what they built: a feature
# it added to a dependency they share would build that dependency again, and all above it (the
# SDK: minutes). Only `shared` (its `testing` and `setup`) may differ.
features() {
  cargo tree --locked -e normal,build -f '{p} {f}' --prefix none "$@" | sed 's/ (\*)$//' | sort -u
}
functions=()
for function in list create clear patch fallback sweep; do functions+=(-p "quote-chat-$function"); done
theirs=$(features "${functions[@]}")
differing=$(comm -13 <(echo "$theirs") <(features -p quote-chat-bench) |
  while read -r name version features; do
    if [ "$name" != quote-chat-shared ] && grep -qE "^$name $version( |$)" <<<"$theirs"; then
      echo "$name $version: $features"
    fi
  done)
if [ -n "$differing" ]; then
  echo "the bench crate adds features to dependencies the functions share (its features shown):" >&2
  echo "$differing" >&2
  exit 1
fi
# The Lambda binaries and the local server are exercised as real processes by some tests.
cargo build --workspace --bins --locked
cargo test --workspace --exclude quote-chat-bench --locked
# The TypeScript client kit: generated types up to date with openapi.yaml, tsc --strict, vitest.
(cd clients/typescript && npm run --silent ci)
if compgen -G "tests/browser/*.test.mjs" >/dev/null; then
  node --test tests/browser/
fi
