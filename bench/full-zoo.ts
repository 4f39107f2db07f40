// The model zoo at full size (scripts/zoo/zoo.py --size full: the published architectures) for the benchmarks,
// exported once per content of zoo.py into .cache/zoo-full/, model by model, so that a model already there is not
// exported again.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readZooManifest, type ZooManifest, type ZooSet } from "@test/support/zoo";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = join(ROOT, "scripts/zoo/zoo.py");
export const FULL_ZOO_DIR = join(ROOT, ".cache/zoo-full");

/** Where the full zoo of a set lives: .cache/zoo-full/ for the core zoo, .cache/zoo-full-families/ for the other set. */
export const fullZooDir = (set: ZooSet = "core") => (set === "core" ? FULL_ZOO_DIR : `${FULL_ZOO_DIR}-${set}`);

/**
 * The full zoo of `set` (fullZooDir) with every model of `names`: the manifest there records the hash of zoo.py that
 * wrote it; a model it lists (file of the listed size) under the same hash is kept, the others are exported (one
 * zoo.py run for all of them, into a temporary folder) and merged into the manifest.
 */
export function ensureFullZoo(names: string[], set: ZooSet = "core"): ZooManifest {
  const DIR = fullZooDir(set);
  const script = createHash("sha256").update(readFileSync(SCRIPT)).digest("hex").slice(0, 16);
  mkdirSync(DIR, { recursive: true });
  const manifestPath = join(DIR, "manifest.json");
  const raw = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, "utf8")) as { script?: string }) : undefined;
  const current = raw?.script === script ? readZooManifest(DIR) : undefined;
  const present = (current?.models ?? []).filter((e) => existsSync(join(DIR, e.file)) && statSync(join(DIR, e.file)).size === e.fileBytes);
  const missing = names.filter((n) => !present.some((e) => e.name === n));
  if (missing.length === 0) return current!;
  const partial = join(DIR, `.partial-${process.pid}`);
  rmSync(partial, { recursive: true, force: true });
  try {
    console.log(`zoo.py --size full --set ${set}: exporting ${missing.join(", ")} (kept: ${present.map((e) => e.name).join(", ") || "none"})`);
    execFileSync("/usr/bin/python3", [SCRIPT, "--size", "full", "--set", set, "--out", partial, "--only", missing.join(",")], { cwd: ROOT, stdio: "inherit" });
    const made = readZooManifest(partial);
    for (const e of made.models) {
      renameSync(join(partial, e.file), join(DIR, e.file));
      renameSync(join(partial, e.sample), join(DIR, e.sample));
    }
    const merged = { ...made, models: [...present.filter((e) => !missing.includes(e.name)), ...made.models], script };
    writeFileSync(manifestPath, `${JSON.stringify(merged, null, 2)}\n`);
    return readZooManifest(DIR);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}

