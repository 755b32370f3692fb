// `prepare` (npm runs it on `npm install` inside this folder, on `npm pack`, and in this folder
// when an app installs it from a path — `npm pack <path>` or `install-links`): builds dist/.
//
// Installed from a path in a fresh clone, this folder has no node_modules yet and npm does not
// install them for us, so the build tools would be missing: then this runs `npm ci` here first
// (the locked dependencies, dev ones included; about 30 s once), so the app needs no step of its
// own inside this folder. QUOTE_CHAT_KIT_PREPARING keeps that `npm ci` from running prepare again.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

if (process.env.QUOTE_CHAT_KIT_PREPARING) process.exit(0);
// A copy without sources (an installed package) has nothing to build.
if (!existsSync(join(root, "src/index.ts"))) process.exit(0);

if (!existsSync(join(root, "node_modules/typescript/package.json"))) {
  console.error("@quote-chat/client: installing its build tools (npm ci in its folder) to build dist/ ...");
  // The npm running this script passes its settings down as npm_config_* variables; some of
  // them (prefix, global, omit, install-links, pack-destination, ...) would install elsewhere
  // or leave out the compiler. Keep only those about reaching the registry.
  const keep = /^npm_config_(cache|registry|userconfig|globalconfig|.*proxy|noproxy|strict_ssl|cafile|ca|offline|prefer_offline|prefer_online|fetch_.*|loglevel|@.*:registry|\/\/.*)$/i;
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_config_/i.test(key) || keep.test(key)),
  );
  env.QUOTE_CHAT_KIT_PREPARING = "1";
  const npm = process.env.npm_execpath;
  const [command, args] = npm && npm.endsWith(".js") ? [process.execPath, [npm]] : ["npm", []];
  execFileSync(command, [...args, "ci", "--include=dev", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: root,
    env,
    stdio: ["ignore", 2, 2],
  });
}

execFileSync(process.execPath, [join(root, "scripts/build.mjs")], { cwd: root, stdio: ["ignore", 2, 2] });
