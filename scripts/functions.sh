#!/usr/bin/env bash
# The Lambda functions, one per line, in the order of the workspace's default members
# (Cargo.toml `default-members`): the one list of them. Everything else derives from it —
# `make bench`, scripts/test.sh and scripts/build.sh here, bench/src/bin/table/cold.rs (which
# reads the same Cargo.toml list when it is compiled).
#   scripts/functions.sh           the packages: quote-chat-list, …
#   scripts/functions.sh binaries  their binaries: list, … (template.yaml's `Binary`)
#   scripts/functions.sh sam       their template.yaml resources: ListFunction, …
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-packages}
case "$what" in
  packages | binaries | sam) ;;
  *) echo "usage: scripts/functions.sh [packages|binaries|sam]" >&2; exit 2 ;;
esac
cargo metadata --locked --no-deps --format-version 1 | python3 -c '
import json, sys
what = sys.argv[1]
meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
for member in meta["workspace_default_members"]:
    package = packages[member]
    bins = [t["name"] for t in package["targets"] if "bin" in t["kind"]]
    name = package["name"]
    if len(bins) != 1:
        sys.exit(f"{name}: a function has exactly one binary, not {bins}")
    if what == "packages":
        print(name)
    elif what == "binaries":
        print(bins[0])
    else:
        print(bins[0].capitalize() + "Function")
' "$what"
