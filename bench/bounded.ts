// What compressing a model one weight at a time (worker/compress/bounded.ts) holds, measured in Node apart from any
// storage: the 300 MB encoder (.cache/big-models/encoder-75m.onnx, written by bench/big-models.mjs) is read by range
// from its file, spills go to files, the variant is written to a file through writeSegments, hashed as it goes. The
// JS heap and ArrayBuffer bytes (process.memoryUsage: heapUsed + arrayBuffers, what a Worker's isolate holds) are
// sampled at every read, spill, write and weight, and their peak over the level before (after a collection) is the
// first figure (garbage not yet collected counts: an upper bound); the second is the same after a collection, taken
// at each spill, when a weight's float bytes and its encoding are both live. Then the int4 variant is loaded on the
// kernel engine from its bytes, as the Worker serves it: what the load holds before a collection (its bytes, garbage
// included: an upper bound), what the session holds after one (kernel memory and JS), and after a batch-1 run.
// Writes bench/results/bounded.json.
import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { compressBounded } from "@worker/compress/bounded";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel } from "@worker/onnx/codec";
import { writeSegments } from "@worker/onnx/segments";
import { readSkeleton, SKELETON_LOCATION, type ByteSource } from "@worker/onnx/skeleton";
import { createKernelSession } from "@worker/serve/engine";
import { plainKernelModule } from "../test/support/kernels";

const MODEL = fileURLToPath(new URL("../.cache/big-models/encoder-75m.onnx", import.meta.url));
const MiB = 2 ** 20;

function fileSource(path: string, sample: () => void): ByteSource & { close(): void } {
  const fd = openSync(path, "r");
  return {
    size: fstatSync(fd).size,
    read: async (offset, length) => {
      const out = new Uint8Array(length);
      readSync(fd, out, 0, length, offset);
      sample();
      return out;
    },
    close: () => closeSync(fd),
  };
}

it("compresses the 300 MB encoder one weight at a time, holding a bounded amount", async () => {
  expect(existsSync(MODEL), `${MODEL} (npm run bench -- --only big-models writes it)`).toBe(true);
  const rows = [];
  const kept = mkdtempSync(join(tmpdir(), "bounded-int4-"));
  const int4Path = join(kept, "variant.onnx");
  for (const [label, quantize] of [["int8", { bits: 8 }], ["int4", { bits: 4 }]] as const) {
    const dir = mkdtempSync(join(tmpdir(), "bounded-"));
    (globalThis as { gc?: () => void }).gc?.();
    const base = process.memoryUsage();
    let peak = 0;
    let peakLive = 0;
    let peakRss = 0;
    const sample = () => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - (base.heapUsed + base.arrayBuffers));
      peakRss = Math.max(peakRss, m.rss - base.rss);
    };
    // After a collection: what is live when a weight's encoding is spilled (its float bytes are still held then).
    let gcMs = 0;
    const live = () => {
      sample();
      const gcStarted = performance.now();
      (globalThis as { gc?: () => void }).gc?.();
      gcMs += performance.now() - gcStarted;
      const m = process.memoryUsage();
      peakLive = Math.max(peakLive, m.heapUsed + m.arrayBuffers - (base.heapUsed + base.arrayBuffers));
    };
    const original = fileSource(MODEL, sample);
    const started = performance.now();
    const skeleton = decodeModel((await readSkeleton(original)).bytes);
    const spills = new Map<string, string>();
    const result = await compressBounded(
      skeleton,
      RecipeSchema.parse({ quantize }),
      {
        original,
        spill: async (bytes) => {
          const location = `spill/${spills.size}`;
          const path = join(dir, String(spills.size));
          writeFileSync(path, bytes);
          spills.set(location, path);
          live();
          return location;
        },
        progress: async () => sample(),
      },
      original.size,
    );
    const compressedMs = performance.now() - started - gcMs;
    const out = openSync(join(dir, "variant.onnx"), "w");
    const hash = createHash("sha256");
    const opened: (ByteSource & { close(): void })[] = [];
    await writeSegments(
      result.encoded,
      (location) => {
        if (location === SKELETON_LOCATION) return original;
        const path = spills.get(location);
        if (!path) return undefined;
        const source = fileSource(path, sample);
        opened.push(source);
        return source;
      },
      async (bytes) => {
        hash.update(bytes);
        writeSync(out, bytes);
        sample();
      },
    );
    closeSync(out);
    if (label === "int4") writeFileSync(int4Path, readFileSync(join(dir, "variant.onnx")));
    for (const s of opened) s.close();
    original.close();
    // The forced collections are the measurement's, not the compression's.
    const wallMs = performance.now() - started - gcMs;
    rmSync(dir, { recursive: true, force: true });
    const row = {
      recipe: label,
      variantBytes: result.encoded.size,
      sha256: hash.digest("hex"),
      weights: result.tensors.length,
      compressMs: Math.round(compressedMs),
      wallMs: Math.round(wallMs),
      fp32MBPerS: +(original.size / 1e6 / (wallMs / 1000)).toFixed(1),
      peakHeapAndBuffersMiB: +(peak / MiB).toFixed(1),
      peakLiveMiB: +(peakLive / MiB).toFixed(1),
      peakRssGrowthMiB: +(peakRss / MiB).toFixed(1),
    };
    console.log(JSON.stringify(row));
    rows.push(row);
    expect(result.tensors.length).toBeGreaterThanOrEqual(42);
  }
  // Serving the int4 variant: its bytes as the Worker reads them whole, loaded on the kernel engine.
  const gc = () => (globalThis as { gc?: () => void }).gc?.();
  // JS heap and ArrayBuffers over the base, plus the session's kernel memory (wasm memory is not an ArrayBuffer here).
  const held = (base: NodeJS.MemoryUsage, kernelBytes: number) => {
    const m = process.memoryUsage();
    return +((m.heapUsed + m.arrayBuffers - base.heapUsed - base.arrayBuffers + kernelBytes) / MiB).toFixed(1);
  };
  const kernelBytes = (s: { residentBytes: number; heldBytes: number }) => s.residentBytes - s.heldBytes;
  gc();
  const base = process.memoryUsage();
  let bytes: Uint8Array | null = new Uint8Array(readFileSync(int4Path));
  rmSync(kept, { recursive: true, force: true });
  const loadStarted = performance.now();
  const session = createKernelSession(decodeModel(bytes), plainKernelModule).session!;
  const loadMs = Math.round(performance.now() - loadStarted);
  const variantMiB = +(bytes.byteLength / MiB).toFixed(1);
  const loadUpperMiB = held(base, kernelBytes(session)); // the variant's bytes still referenced here, garbage not yet collected
  bytes = null;
  gc();
  const loadedMiB = held(base, kernelBytes(session));
  const kernelMemoryMiB = +(kernelBytes(session) / MiB).toFixed(1);
  const ids = Float32Array.from({ length: 32 }, (_, i) => (i * 2654435761) % 4096);
  const runStarted = performance.now();
  await session.run({ ids: { type: "int64", dims: [1, 32], data: ids } });
  const runMs = Math.round(performance.now() - runStarted);
  gc();
  const serving = {
    recipe: "int4",
    variantMiB,
    loadMs,
    loadUpperMiB,
    loadedMiB,
    kernelMemoryMiB,
    heldMiB: +(session.heldBytes / MiB).toFixed(1),
    afterRunMiB: held(base, kernelBytes(session)),
    runMs,
  };
  console.log(JSON.stringify(serving));
  expect(session.heldBytes).toBeLessThan(4 * MiB);
  writeFileSync(fileURLToPath(new URL("./results/bounded.json", import.meta.url)), `${JSON.stringify({ date: new Date().toISOString(), model: "encoder-75m", rows, serving }, null, 1)}\n`);
});
