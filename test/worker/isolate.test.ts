// The one map of what an isolate keeps between requests: every module of worker/ that keeps state at module level is
// either worker/isolate.ts or listed there with its bound, and the caches hold the bounds the docs state.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_SESSION_BUDGET_BYTES, isolate, OWNED_STATE } from "@worker/isolate";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts") ? [join(dir, e.name)] : [],
  );
}

// Module level: a `let`, or a const holding a mutable collection or cache.
const MODULE_STATE = /^(?:export )?(?:let \w+|const \w+(?::[^=]+)? = new (?:Map|WeakMap|ByteBudgetLru|TtlMap)\b)/m;

describe("per-isolate state", () => {
  const keepers = sources(join(ROOT, "worker"))
    .filter((file) => MODULE_STATE.test(readFileSync(file, "utf8")))
    .map((file) => relative(ROOT, file).split("\\").join("/"))
    .sort();
  const owners = Object.values(OWNED_STATE).map((s) => s.owner).sort();

  it("is kept only by the modules worker/isolate.ts lists", () => {
    expect(keepers).toEqual(owners);
  });

  it("lists each owner with what it holds, its bound and its invalidation", () => {
    for (const state of Object.values(OWNED_STATE)) {
      for (const field of [state.holds, state.bound, state.invalidation]) expect(field.length).toBeGreaterThan(3);
    }
  });

  it("bounds the caches as docs/architecture.md states", () => {
    expect(DEFAULT_SESSION_BUDGET_BYTES).toBe(32 * 1024 * 1024);
    expect(isolate.servingRecords.bounds).toEqual({ ttlMs: 5_000, maxEntries: 2_000 });
    expect(isolate.experimentConfigs.bounds).toEqual({ ttlMs: 5_000, maxEntries: 1_000 });
  });
});
