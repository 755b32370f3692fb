#!/usr/bin/env bash
# `make deploy STAGE=dev|prod`: `sam deploy` of the built stack (.aws-sam/build, from
# `make build`) with the STAGE settings of samconfig.toml. Needs AWS credentials for the target
# account (a profile, SSO, or CI's OIDC role). Extra arguments go to sam deploy, e.g.
#   scripts/deploy.sh prod --no-confirm-changeset      (CI: the environment approval is the review)
#   scripts/deploy.sh --check dev|prod                  only the checks of the stage and its settings
#                                                       (`make deploy` runs them before the long build)
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=false
if [ "${1:-}" = --check ]; then
  check_only=true
  shift
fi
stage=${1:-}
case "$stage" in
  dev | prod) shift ;;
  *)
    echo "usage: $0 [--check] dev|prod [sam deploy options...]  (unknown stage: '${stage}'; make deploy STAGE=dev|prod)" >&2
    exit 2
    ;;
esac

# Refuse a stage whose samconfig.toml section still holds placeholders.
placeholders=$(awk -v env="[$stage.deploy.parameters]" '
  /^\[/ { in_env = ($0 == env) }
  in_env && /REPLACE_ME/ { print "  samconfig.toml:" NR ": " $0 }
' samconfig.toml)
if [ -n "$placeholders" ]; then
  echo "samconfig.toml [$stage.deploy.parameters] still has placeholders; set them first (docs/deploy.md):" >&2
  echo "$placeholders" >&2
  exit 1
fi
if "$check_only"; then
  exit 0
fi

sam=.tools/venv/bin/sam
[ -x "$sam" ] || { echo "$sam is missing: run 'make tools'" >&2; exit 1; }
[ -f .aws-sam/build/template.yaml ] || { echo "nothing built: run 'make build' first" >&2; exit 1; }

export SAM_CLI_TELEMETRY=0
exec "$sam" deploy --config-env "$stage" "$@"
