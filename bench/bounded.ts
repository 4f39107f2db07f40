// What compressing a model one weight at a time (worker/compress/bounded.ts) holds, measured in Node apart from any
// storage: the 300 MB encoder (.cache/big-models/encoder-75m.onnx, written by bench/big-models.mjs) is read by range
// from its file, spills go to files, the variant is written to a file through writeSegments, hashed as it goes. The
// JS heap and ArrayBuffer bytes (process.memoryUsage: heapUsed + arrayBuffers, what a Worker's isolate holds) are
// sampled at every read, spill, write and weight, and their peak over the level before (after a collection) is the
// first figure (garbage not yet collected counts: an upper bound); the second is the same after a collection, taken
// at each spill, when a weight's float bytes and its encoding are both live. Then the int4 variant is loaded on the
// kernel engine as the Worker serves it, from its bytes read whole and from ranged reads: the load's live peak, what
// the session holds once loaded, and after a batch-1 run.
// Writes bench/results/bounded.json.
import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { compressBounded } from "@worker/compress/bounded";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel } from "@worker/onnx/codec";
import { writeSegments } from "@worker/onnx/segments";
import { readSkeleton, SKELETON_LOCATION, type ByteSource } from "@worker/onnx/skeleton";
import { createKernelSession, loadKernelSession } from "@worker/serve/engine";
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
  // Serving the int4 variant, loaded on the kernel engine both ways the Worker loads one: from its bytes read whole,
  // and from its skeleton and ranged reads (variants over RANGED_LOAD_BYTES). What an isolate holds is the JS heap and
  // external memory (ArrayBuffers and the kernel instance's wasm memory) over the level before; the load's peak is
  // taken live, after collections (at each read for the ranged load, at its end for the whole one).
  // A collection, and time for freed ArrayBuffers to leave Node's count (freed off the main thread).
  const settle = async () => {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 300));
    (globalThis as { gc?: () => void }).gc?.();
  };
  const sessions = []; // each kept to the end, so that freeing one does not lower the next one's figures
  const ids = Float32Array.from({ length: 32 }, (_, i) => (i * 2654435761) % 4096);
  const serving = [];
  for (const path of ["whole", "ranged"] as const) {
    await settle();
    const base = process.memoryUsage();
    const held = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.external - base.heapUsed - base.external;
    };
    let peak = 0;
    let collecting = 0; // the measurement's collections, not the load's time
    const loadStarted = performance.now();
    let session;
    if (path === "whole") {
      let bytes: Uint8Array | null = new Uint8Array(readFileSync(int4Path));
      session = createKernelSession(decodeModel(bytes), plainKernelModule).session!;
      (globalThis as { gc?: () => void }).gc?.();
      peak = held(); // live at the end of the load: the variant's bytes and its packed weights
      bytes = null;
    } else {
      // Live at each read (after a collection): packed weights so far, the weights read ahead, the skeleton.
      const source = fileSource(int4Path, () => {
        const started = performance.now();
        (globalThis as { gc?: () => void }).gc?.();
        collecting += performance.now() - started;
        peak = Math.max(peak, held());
      });
      const skeleton = decodeModel((await readSkeleton(source)).bytes);
      session = (await loadKernelSession(skeleton, plainKernelModule, source)).session!;
      source.close();
      peak = Math.max(peak, held());
    }
    const loadMs = Math.round(performance.now() - loadStarted - collecting);
    sessions.push(session);
    await settle();
    const loaded = held();
    const runStarted = performance.now();
    await session.run({ ids: { type: "int64", dims: [1, 32], data: ids } });
    const runMs = Math.round(performance.now() - runStarted);
    await settle();
    const row = {
      recipe: "int4",
      load: path,
      variantMiB: +(statSync(int4Path).size / MiB).toFixed(1),
      loadMs,
      loadPeakMiB: +(peak / MiB).toFixed(1),
      loadedMiB: +(loaded / MiB).toFixed(1),
      kernelMemoryMiB: +((session.residentBytes - session.heldBytes) / MiB).toFixed(1),
      heldMiB: +(session.heldBytes / MiB).toFixed(1),
      afterRunMiB: +(held() / MiB).toFixed(1),
      runMs,
    };
    console.log(JSON.stringify(row));
    serving.push(row);
    expect(session.heldBytes).toBeLessThan(4 * MiB);
  }
  rmSync(kept, { recursive: true, force: true });
  writeFileSync(fileURLToPath(new URL("./results/bounded.json", import.meta.url)), `${JSON.stringify({ date: new Date().toISOString(), model: "encoder-75m", rows, serving }, null, 1)}\n`);
});
