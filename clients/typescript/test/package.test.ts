// The package's shape as TypeScript sees it from an app: every subpath of `exports` must give its
// types under each moduleResolution an app may use. `node` (node10, still the default of many
// older tsconfigs) ignores `exports` and finds subpaths only through `typesVersions`.
import ts from "typescript";
import { describe, expect, it } from "vitest";
import manifest from "../package.json";

const root = "/app/node_modules/@quote-chat/client/";

type Conditions = { types?: string; import?: string };
const subpaths = Object.entries(manifest.exports as Record<string, Conditions | string>).flatMap(
  ([subpath, target]) => (typeof target === "object" && target.types ? [{ subpath, types: target.types }] : []),
);

/** An app's file system with the package installed: its package.json and the .d.ts it names. */
function installed(): ts.ModuleResolutionHost {
  const files = new Map<string, string>([[`${root}package.json`, JSON.stringify(manifest)]]);
  for (const { types } of subpaths) files.set(root + types.replace(/^\.\//, ""), "export {};");
  return {
    fileExists: (path) => files.has(path),
    readFile: (path) => files.get(path),
    directoryExists: (path) => [...files.keys()].some((file) => file.startsWith(path.replace(/\/?$/, "/"))),
  };
}

// `mode`: an `import` in an ES module (node10 has no such notion: it resolves as `require`).
const resolutions: Record<string, { options: ts.CompilerOptions; mode?: ts.ResolutionMode }> = {
  node10: { options: { moduleResolution: ts.ModuleResolutionKind.Node10 } },
  node16: {
    options: { moduleResolution: ts.ModuleResolutionKind.Node16, module: ts.ModuleKind.Node16 },
    mode: ts.ModuleKind.ESNext,
  },
  bundler: { options: { moduleResolution: ts.ModuleResolutionKind.Bundler, module: ts.ModuleKind.ESNext } },
};

describe("package.json", () => {
  it("names types for the subpaths '.', './client' and './vue'", () => {
    expect(subpaths.map((s) => s.subpath)).toEqual([".", "./client", "./vue"]);
  });

  for (const [name, { options, mode }] of Object.entries(resolutions)) {
    it(`resolves every subpath's types under moduleResolution ${name}`, () => {
      const host = installed();
      for (const { subpath, types } of subpaths) {
        const specifier = `@quote-chat/client${subpath.slice(1)}`;
        const from = "/app/src/main.ts";
        const { resolvedModule } = ts.resolveModuleName(specifier, from, options, host, undefined, undefined, mode);
        expect(resolvedModule?.resolvedFileName, specifier).toBe(root + types.replace(/^\.\//, ""));
      }
    });
  }
});
