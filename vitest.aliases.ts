// Path aliases for tests (`@worker/onnx/codec`, `@test/support/models`): read from tsconfig.json's `paths`, their one
// home, so that tsc and the three vitest tiers resolve the same names.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));
const { compilerOptions } = JSON.parse(readFileSync(new URL("./tsconfig.json", import.meta.url), "utf8")) as {
  compilerOptions: { paths: Record<string, string[]> };
};

export const aliases = Object.entries(compilerOptions.paths).map(([pattern, [target]]) => ({
  find: new RegExp(`^${pattern.replace("/*", "/")}`),
  replacement: `${root}${target!.replace(/^\.\//, "").replace("*", "")}`,
}));
