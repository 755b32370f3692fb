#!/usr/bin/env bash
# The test suite; `make test` runs it with DYNAMODB_ENDPOINT pointing at a fresh DynamoDB Local.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DYNAMODB_ENDPOINT:?run through make test}"
# The Lambda binaries and the local server are exercised as real processes by some tests.
cargo build --workspace --bins --locked
cargo test --workspace --locked
if compgen -G "tests/browser/*.test.mjs" >/dev/null; then
  node --test tests/browser/
fi
