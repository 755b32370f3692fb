#!/usr/bin/env bash
# `make build`: `sam build` → .aws-sam/build/<Function>/bootstrap for each function of
# scripts/functions.sh (Cargo.toml's default members), arm64.
# SAM's rust-cargolambda builder runs `cargo lambda build --release --arm64 --bin <name>` at the
# workspace root (template.yaml: CodeUri ., Binary <name>); cargo-lambda cross-compiles with zig
# as linker. All three come from .tools/venv (`make tools`): sam, cargo-lambda, and zig through
# the `ziglang` package (`python3 -m ziglang`, found because the venv's python3 is first on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.tools/venv

for tool in sam cargo-lambda python3; do
  if [ ! -x "$venv/bin/$tool" ]; then
    echo "$venv/bin/$tool is missing: run 'make tools'" >&2
    exit 1
  fi
done
if ! "$venv/bin/python3" -m ziglang version >/dev/null 2>&1; then
  echo "zig (python package ziglang) is missing from $venv: run 'make tools'" >&2
  exit 1
fi
command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup" >&2; exit 1; }

# The Rust standard library for the Lambda target (Graviton, glibc).
target=aarch64-unknown-linux-gnu
if command -v rustup >/dev/null; then
  if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
  fi
else
  echo "rustup not found: make sure the $target standard library is installed" >&2
fi

# What the bootstraps were built from (scripts/source-stamp.sh), for `make bench`'s arm64 sizes.
SOURCE_STAMP=.aws-sam/build/source-stamp
export PATH="$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

# The functions' template.yaml resources (ListFunction, …), from the one list.
mapfile -t functions < <(scripts/functions.sh sam)
[ "${#functions[@]}" -gt 0 ] || { echo "scripts/functions.sh named no function" >&2; exit 1; }

start=$(date +%s)
# Taken before the build: a change made while it runs makes the bootstraps stale, not current.
stamp=$(scripts/source-stamp.sh)
rm -f "$SOURCE_STAMP"
sam build "$@"

status=0
for fn in "${functions[@]}"; do
  bootstrap=.aws-sam/build/$fn/bootstrap
  if [ ! -x "$bootstrap" ]; then
    echo "missing: $bootstrap" >&2
    status=1
    continue
  fi
  # ELF header: e_machine (2 bytes at offset 18) is 0xB7 0x00 for AArch64.
  machine=$(od -An -tx1 -j18 -N2 "$bootstrap" | tr -d ' \n')
  if [ "$machine" != "b700" ]; then
    echo "$bootstrap is not an aarch64 ELF (e_machine $machine)" >&2
    status=1
    continue
  fi
  printf '  %-16s %s  %s bytes, aarch64\n' "$fn" "$bootstrap" "$(wc -c <"$bootstrap" | tr -d ' ')"
done
if [ "$status" -eq 0 ]; then
  echo "$stamp" >"$SOURCE_STAMP"
  echo "build: ${#functions[@]} arm64 bootstraps in $(( $(date +%s) - start )) s"
fi
exit "$status"
