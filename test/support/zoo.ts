// The model zoo for Node tests: scripts/zoo/zoo.py writes real architectures exported by PyTorch (and rewritten into
// other exporters' habits) once per content of the script, cached under .cache/zoo/; this module generates or finds
// them, reads the manifest, makes seeded inputs for each model's signature and measures agreement (cosine).
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { z } from "zod";
import { decodeNpz } from "@formats/npz.js";
import { uniform } from "./numbers";
import { ort } from "./ort-node";
import { PYTHON } from "./python";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPT = join(ROOT, "scripts/zoo/zoo.py");

export type ZooSize = "small" | "full";
/** The core zoo, or torchvision's other CNN families (zoo.py --set families). */
export type ZooSet = "core" | "families";

const InputSpecSchema = z.object({
  name: z.string(),
  dtype: z.enum(["float32", "int64"]),
  shape: z.array(z.number().int().nonnegative()),
  /** int64 inputs: the inclusive range of valid values (token ids, branch choices). */
  range: z.tuple([z.number().int(), z.number().int()]).optional(),
  /** float32 inputs: the standard deviation of the seeded normal values (1 unless given). */
  scale: z.number().positive().optional(),
});

const OutputSpecSchema = z.object({ name: z.string(), dtype: z.literal("float32"), shape: z.array(z.number().int()) });

const ManifestSchema = z.object({
  size: z.enum(["small", "full"]),
  torch: z.string(),
  torchvision: z.string(),
  onnx: z.string(),
  models: z.array(
    z.object({
      name: z.string(),
      file: z.string(),
      sample: z.string(),
      style: z.string(),
      opset: z.number().int(),
      parameters: z.number().int().positive(),
      weightBytes: z.number().int().positive(),
      fileBytes: z.number().int().positive(),
      inputs: z.array(InputSpecSchema).min(1),
      outputs: z.array(OutputSpecSchema).min(1),
    }),
  ),
});

export type ZooInputSpec = z.infer<typeof InputSpecSchema>;
export type ZooManifest = z.infer<typeof ManifestSchema>;
export type ZooEntry = ZooManifest["models"][number];
export type Feeds = Record<string, ort.Tensor>;

export interface ZooModel {
  name: string;
  /** The exporter's habits the model stands for. */
  style: string;
  opset: number;
  parameters: number;
  /** Bytes of float weights in the file (initializers, Constant nodes and subgraphs). */
  weightBytes: number;
  /** The model file's bytes (FP32, as exported). */
  bytes: Uint8Array;
  /** Inputs and outputs with the concrete sizes to test with. */
  signature: Pick<ZooEntry, "inputs" | "outputs">;
  /** Seeded inputs at the signature's sizes: the same seed gives the same feeds. */
  inputs(seed: number): Feeds;
  /** One input and PyTorch's own outputs on it (for `cnn_if`, the chosen branch computed by torch). */
  sample(): Promise<{ feeds: Feeds; outputs: Record<string, Float32Array> }>;
}

/** The cache folder for the zoo that this content of zoo.py writes at `size`. */
export function zooDir(size: ZooSize = "small", set: ZooSet = "core"): string {
  const hash = createHash("sha256").update(readFileSync(SCRIPT)).digest("hex").slice(0, 16);
  return join(ROOT, ".cache/zoo", `${prefixOf(size, set)}${hash}`);
}

/** A zoo folder's name up to the script's hash: `small-`, `families-small-`. */
const prefixOf = (size: ZooSize, set: ZooSet) => `${set === "core" ? "" : `${set}-`}${size}-`;

/** Generates the zoo unless this version of the script already has (written to a temporary folder, then renamed
 * into place, so that a run stopped midway or a concurrent one never leaves a half zoo). Returns its folder. */
export async function ensureZoo(size: ZooSize = "small", set: ZooSet = "core"): Promise<string> {
  const dir = zooDir(size, set);
  if (existsSync(join(dir, "manifest.json"))) return dir;
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  try {
    await promisify(execFile)(PYTHON, [SCRIPT, "--size", size, "--set", set, "--out", partial], { cwd: ROOT, maxBuffer: 1 << 24 });
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new Error(`scripts/zoo/zoo.py --size ${size} --set ${set} failed: ${err.stderr?.trim().split("\n").slice(-5).join("\n") || err.message}`);
  }
  try {
    renameSync(partial, dir);
  } catch {
    rmSync(partial, { recursive: true, force: true }); // another run put the same zoo in place first
  }
  // Zoos that earlier versions of the script wrote are never read again.
  const parent = dirname(dir);
  for (const old of readdirSync(parent)) {
    if (old.startsWith(prefixOf(size, set)) && !old.includes(".partial-") && join(parent, old) !== dir) rmSync(join(parent, old), { recursive: true, force: true });
  }
  return dir;
}

export async function zooManifest(size: ZooSize = "small", set: ZooSet = "core"): Promise<{ dir: string; manifest: ZooManifest }> {
  const dir = await ensureZoo(size, set);
  return { dir, manifest: readZooManifest(dir) };
}

/** Every model of the zoo at `size` with its bytes, seeded inputs and PyTorch's sample. */
export async function zooModels(size: ZooSize = "small", set: ZooSet = "core"): Promise<ZooModel[]> {
  const { dir, manifest } = await zooManifest(size, set);
  return zooModelsIn(dir, manifest);
}

/** Reads a zoo folder's manifest.json (what zoo.py writes there). */
export function readZooManifest(dir: string): ZooManifest {
  return ManifestSchema.parse(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
}

/** The models a manifest lists in `dir` (a zoo written elsewhere than the tests' cache: the benchmark's full zoo). */
export function zooModelsIn(dir: string, manifest: ZooManifest = readZooManifest(dir)): ZooModel[] {
  return manifest.models.map((entry) => {
    const bytes = new Uint8Array(readFileSync(join(dir, entry.file)));
    if (bytes.byteLength !== entry.fileBytes) throw new Error(`${entry.file} has ${bytes.byteLength} bytes, the manifest says ${entry.fileBytes}`);
    return {
      name: entry.name,
      style: entry.style,
      opset: entry.opset,
      parameters: entry.parameters,
      weightBytes: entry.weightBytes,
      bytes,
      signature: { inputs: entry.inputs, outputs: entry.outputs },
      inputs: (seed) => seededFeeds(entry.inputs, seed),
      sample: () => readSample(join(dir, entry.sample), entry),
    };
  });
}

/** One model of the zoo by name. */
export async function zooModel(name: string, size: ZooSize = "small"): Promise<ZooModel> {
  const model = (await zooModels(size)).find((m) => m.name === name);
  if (!model) throw new Error(`the zoo has no model '${name}'`);
  return model;
}

/**
 * Seeded feeds for a signature: float inputs are normal with the spec's scale (the statistics the BatchNorms were
 * warmed on); int64 tensors are uniform over their range; an int64 scalar (a branch choice) cycles with the seed, so
 * that consecutive seeds cover every branch.
 */
export function seededFeeds(specs: readonly ZooInputSpec[], seed: number): Feeds {
  const feeds: Feeds = {};
  specs.forEach((spec, k) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const s = seed * 7919 + k * 104729 + 1;
    if (spec.dtype === "float32") {
      feeds[spec.name] = new ort.Tensor("float32", normals(n, s, spec.scale ?? 1), spec.shape);
      return;
    }
    const [lo, hi] = spec.range ?? [0, 0];
    const count = hi - lo + 1;
    const data =
      spec.shape.length === 0
        ? BigInt64Array.of(BigInt(lo + (((seed % count) + count) % count)))
        : BigInt64Array.from(uniform(n, s), (u) => BigInt(Math.min(hi, lo + Math.floor(((u + 1) / 2) * count))));
    feeds[spec.name] = new ort.Tensor("int64", data, spec.shape);
  });
  return feeds;
}

/** Box-Muller on the seeded uniform generator. */
function normals(n: number, seed: number, scale: number): Float32Array {
  const u = uniform(2 * n, seed);
  return Float32Array.from({ length: n }, (_, i) => {
    const a = (u[2 * i]! + 1) / 2 || Number.MIN_VALUE;
    const b = (u[2 * i + 1]! + 1) / 2;
    return scale * Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * b);
  });
}

async function readSample(path: string, entry: ZooEntry): Promise<{ feeds: Feeds; outputs: Record<string, Float32Array> }> {
  const arrays = await decodeNpz(new Uint8Array(readFileSync(path)), { maxBytes: 1 << 28 });
  const take = (key: string) => {
    const a = arrays.get(key);
    if (!a) throw new Error(`${entry.sample} has no array '${key}'`);
    return a;
  };
  const feeds: Feeds = {};
  for (const spec of entry.inputs) {
    const a = take(`input_${spec.name}`);
    feeds[spec.name] = new ort.Tensor(spec.dtype, a.data as Float32Array | BigInt64Array, a.shape);
  }
  const outputs: Record<string, Float32Array> = {};
  for (const spec of entry.outputs) outputs[spec.name] = take(`output_${spec.name}`).data as Float32Array;
  return { feeds, outputs };
}

/** Cosine similarity of two equally long vectors (1 when both are zero). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosine of vectors of lengths ${a.length} and ${b.length}`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  if (aa === 0 && bb === 0) return 1;
  return ab / Math.sqrt(aa * bb);
}
