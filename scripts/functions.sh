#!/usr/bin/env bash
# Prints the Lambda functions' packages, one per line: the workspace's default members
# (Cargo.toml), the one list of them the scripts use.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --locked --no-deps --format-version 1 | python3 -c '
import json, sys
meta = json.load(sys.stdin)
default = set(meta["workspace_default_members"])
for package in meta["packages"]:
    if package["id"] in default:
        print(package["name"])
'
