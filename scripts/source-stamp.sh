#!/usr/bin/env bash
# Prints what the Lambda binaries are built from, as one hash: the compiler's version, the
# workspace's Cargo files and every file under shared/ and functions/ as it is on disk (tracked
# or new, not ignored). scripts/build.sh writes it beside the arm64 bootstraps; `make bench`
# (scripts/cold-start.py) reports their sizes only while it still matches, so a size it prints
# is never that of older code.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  rustc --version
  git ls-files -z --cached --others --exclude-standard -- \
      Cargo.toml Cargo.lock rust-toolchain.toml shared functions |
    sort -z |
    while IFS= read -r -d '' file; do
      if [ -f "$file" ]; then sha256sum -- "$file"; fi
    done
} | sha256sum | cut -d' ' -f1
