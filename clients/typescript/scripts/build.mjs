// `npm run build`: src/ → dist/ (ESM JavaScript + .d.ts), what the package ships.
//   1. tsc -p tsconfig.build.json (the same compiler options as `typecheck`, emitting);
//   2. copies src/generated/api.d.ts, which the emitted .d.ts import (tsc never copies a .d.ts);
//   3. gives every relative import in dist/ its file name (`./client` → `./client.js`): the
//      sources use extensionless imports (fine for Vite), but Node's ESM loader, webpack's
//      `fullySpecified` and `moduleResolution: node16` need the name;
//   4. fails if an import in dist/ or a target of package.json `exports` or `typesVersions`
//      (the subpaths' types for `moduleResolution: node`, test/package.test.ts) does not exist.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const require = createRequire(join(root, "package.json"));

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
  cwd: root,
  stdio: "inherit",
});
mkdirSync(join(dist, "generated"), { recursive: true });
copyFileSync(join(root, "src/generated/api.d.ts"), join(dist, "generated/api.d.ts"));

const files = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
// `from "./x"`, `import "./x"`, `import("./x")` and `import(".")` (tsc writes the last two in
// inferred types of emitted .d.ts).
const specifier = /(\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.{1,2}(?:\/[^"']*)?)\2/g;
const problems = [];
for (const file of files(dist)) {
  const dts = file.endsWith(".d.ts");
  if (!dts && !file.endsWith(".js")) continue;
  const text = readFileSync(file, "utf8");
  const fixed = text.replace(specifier, (_, head, quote, spec) => {
    const base = join(dirname(file), spec);
    // In a .d.ts, `./x.js` names ./x.d.ts.
    const target = (candidate) => existsSync(dts ? candidate.replace(/\.js$/, ".d.ts") : candidate);
    let named = spec;
    if (!/\.(m?js|json)$/.test(spec)) {
      if (target(`${base}.js`)) named = `${spec}.js`;
      else if (target(join(base, "index.js"))) named = `${spec.replace(/\/$/, "")}/index.js`;
    }
    if (!target(join(dirname(file), named))) problems.push(`${relative(root, file)}: "${spec}" names no file in dist/`);
    return `${head}${quote}${named}${quote}`;
  });
  if (fixed !== text) writeFileSync(file, fixed);
}

const collect = (value) =>
  typeof value === "string" ? [value] : Object.values(value ?? {}).flatMap((v) => collect(v));
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const named = [manifest.main, manifest.types, ...collect(manifest.exports), ...collect(manifest.typesVersions)];
for (const target of named.filter(Boolean)) {
  if (!existsSync(join(root, target))) problems.push(`package.json names ${target}, which the build did not make`);
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
