// Fails when src/generated/api.d.ts is not what `npm run generate` makes from ../../openapi.yaml
// right now, so a stale checked-in file fails `npm run ci` instead of hiding a contract change.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const checkedIn = join(root, "src/generated/api.d.ts");
const dir = mkdtempSync(join(tmpdir(), "quote-chat-client-"));
const fresh = join(dir, "api.d.ts");
try {
  // The same CLI and arguments as the `generate` script, run with this Node (no shell, no npx).
  execFileSync(
    process.execPath,
    [join(root, "node_modules/openapi-typescript/bin/cli.js"), "../../openapi.yaml", "-o", fresh],
    { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
  );
  if (readFileSync(fresh, "utf8") !== readFileSync(checkedIn, "utf8")) {
    console.error(
      "src/generated/api.d.ts is stale: openapi.yaml changed. Run `npm run generate` and commit the result.",
    );
    process.exitCode = 1;
  } else {
    console.log("src/generated/api.d.ts matches openapi.yaml");
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
