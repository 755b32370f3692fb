#!/usr/bin/env bash
# Installs Debian packages when running as root (CI, fresh machines); otherwise says what to do.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: $*; install with: sudo apt-get install -y $*" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@"
