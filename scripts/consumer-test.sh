#!/usr/bin/env bash
# The consumer fixture (tests/consumer): a create-vite vue-ts app, tightened (strict,
# noUncheckedIndexedAccess, exactOptionalPropertyTypes), outside the kit's own tsconfig. It
# installs @quote-chat/client the way its README says an app does — a tarball made by `npm pack`
# (whose `prepare` builds dist/) — and is built with `vue-tsc -b && vite build`, so it fails when
# the kit's .d.ts do not resolve, do not type-check (tsconfig.kit.json: no skipLibCheck), or
# give the app a second copy of vue's types. Then Node imports the built kit (ESM as Node runs it).
#
# Quick when nothing changed: the fixture's locked dependencies are installed again only when
# its package.json or lock changed, and the kit is packed again only when a file of the kit
# (tracked or new, not ignored, tests aside) changed. Both stamps live in its node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=clients/typescript
app=tests/consumer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

deps_stamp=$app/node_modules/.installed
if [ ! -f "$deps_stamp" ] || [ "$app/package.json" -nt "$deps_stamp" ] || [ "$app/package-lock.json" -nt "$deps_stamp" ]; then
  (cd "$app" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$deps_stamp"
fi

# What the kit's tarball is made from, as one hash (empty when git cannot tell: pack again).
kit_hash=$(git ls-files -z --cached --others --exclude-standard -- "$kit" ":(exclude)$kit/test" 2>/dev/null |
  sort -z |
  while IFS= read -r -d '' file; do
    if [ -f "$file" ]; then sha256sum -- "$file"; fi
  done | sha256sum | cut -d' ' -f1) || kit_hash=
kit_stamp=$app/node_modules/.kit-installed
if [ -z "$kit_hash" ] || [ "$(cat "$kit_stamp" 2>/dev/null)" != "$kit_hash" ]; then
  (cd "$kit" && npm pack --json --pack-destination "$work" --loglevel=error) >"$work/pack.json"
  tarball=$work/$(node -p 'require(process.argv[1])[0].filename' "$work/pack.json")
  # --no-save: the fixture's package.json and lock stay as committed (they could not name the
  # tarball: its hash changes with every change of the kit).
  (cd "$app" && npm install --no-save --no-audit --no-fund --loglevel=error "$tarball")
  echo "$kit_hash" >"$kit_stamp"
fi

cd "$app"
node_modules/.bin/vue-tsc -b
# Into tests/consumer/dist (ignored): tests/browser/consumer.test.mjs serves it.
node_modules/.bin/vite build --logLevel warn --outDir dist --emptyOutDir
node --input-type=module -e '
  const client = await import("@quote-chat/client/client");
  const all = await import("@quote-chat/client");
  const vue = await import("@quote-chat/client/vue");
  if (typeof client.createQuoteChatClient !== "function" || all.useQuoteChat !== vue.useQuoteChat) {
    throw new Error("the built kit does not export what its .d.ts say");
  }'
echo "consumer fixture: built against the packed kit (vue-tsc -b, vite build, node import)"
