// Evaluation's batches: rows per session call follow the measured time per row towards SLICE_MS (one call is one
// thread nothing else on the isolate gets), in powers of two, growing at most twofold, between 1 and BATCH rows; one
// row a call where the batch dim is fixed at 1; and every row reaches the callback once, in order, with its outputs.
import { describe, expect, it } from "vitest";
import { BATCH, forEachBatch, nextRows, SLICE_MS, type Batching } from "@worker/evaluate/runner";
import type { Dataset } from "@worker/datasets/dataset";
import type { LoadedSession } from "@worker/serve/session-cache";
import { buildMlp } from "@test/support/models";
import { loadKernels } from "@test/support/engine";
import { floatTensor, runReference } from "@test/support/ort-node";

describe("nextRows", () => {
  it("shrinks a batch that took longer than the slice to the power of two that fits it", () => {
    // 64 rows through two sessions in 12 s: 94 ms a row per session, so 2 rows fit 250 ms.
    expect(nextRows(64, 12_000, 2)).toBe(2);
    // One row alone over the slice still runs: at least 1.
    expect(nextRows(1, 10 * SLICE_MS, 1)).toBe(1);
    expect(nextRows(16, 16 * SLICE_MS, 1)).toBe(1);
  });

  it("grows a fast batch at most twofold per step, up to BATCH", () => {
    expect(nextRows(4, 1, 2)).toBe(8);
    expect(nextRows(4, 0, 2)).toBe(8);
    let rows = 4;
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push((rows = nextRows(rows, 0, 1)));
    expect(seen).toEqual([8, 16, 32, 64, BATCH, BATCH]);
  });

  it("keeps a batch whose calls take about the slice, and rounds down to a power of two", () => {
    // 32 rows, one session, 250 ms: exactly the slice.
    expect(nextRows(32, SLICE_MS, 1)).toBe(32);
    // 48 rows fit (150 ms for 32): 32, a power of two.
    expect(nextRows(32, (SLICE_MS * 32) / 48, 1)).toBe(32);
    for (const [rows, ms, sessions] of [[64, 900, 2], [8, 37, 1], [3, 5, 2], [1, 1000, 3]] as const) {
      const r = nextRows(rows, ms, sessions);
      expect(Number.isInteger(Math.log2(r))).toBe(true);
      expect(r).toBeGreaterThanOrEqual(1);
      expect(r).toBeLessThanOrEqual(Math.min(BATCH, 2 * rows));
    }
  });
});

describe("forEachBatch", () => {
  const sizes = [20, 32, 5];
  const bytes = buildMlp(sizes, 9);
  const rows = 150;
  const x = Float32Array.from({ length: rows * sizes[0]! }, (_, i) => Math.sin(i * 0.61));
  const dataset: Dataset = { format: "npz", samples: rows, inputs: new Map([["input", { dtype: "float32", shape: [rows, sizes[0]!], data: x }]]), labels: null };

  /** Each batch's size and the outputs the callback saw, row by row, on the kernel engine. */
  async function run(batching: Batching, batchDim: number | string = "N") {
    const kernels = loadKernels(bytes);
    // The kernel engine's session as the evaluation opens it (a LoadedSession), without onnxruntime-web.
    const session = { engine: "kernels", residentBytes: 0, retain() {}, release: async () => {}, run: (f: never) => kernels.run(f) } as unknown as LoadedSession;
    const starts: number[] = [];
    const got = new Float32Array(rows * sizes[2]!);
    await forEachBatch([session], dataset, [{ name: "input", type: "float32", shape: [batchDim, sizes[0]!] }], rows, (start, [out]) => {
      starts.push(start);
      got.set(out!.logits!.data, start * sizes[2]!);
    }, batching);
    await kernels.release();
    expect(starts[0]).toBe(0);
    const batches = starts.map((s, i) => (starts[i + 1] ?? rows) - s);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(rows);
    const want = (await runReference(bytes, { input: floatTensor(x, [rows, sizes[0]!]) })).logits!.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4);
    return batches;
  }

  it("timed: every row once, in order, in power-of-two batches from 4, each row's outputs as onnxruntime-node's on it", async () => {
    const batches = await run("timed");
    expect(batches[0]).toBe(4);
    for (const b of batches.slice(0, -1)) expect(Number.isInteger(Math.log2(b)) && b <= BATCH).toBe(true);
  });

  it("a model whose batch dim is fixed at 1: one row a call, timed or not (onnxruntime refuses any other batch), each row a batch of its own", async () => {
    expect(await run("timed", 1)).toEqual(Array(rows).fill(1));
    let ends = 0;
    expect(await run({ rows: 64, batchEnd: () => void ends++ }, 1)).toEqual(Array(rows).fill(1));
    expect(ends).toBe(rows);
  });

  it("from row `first` on (rows a calibrated candidate was fitted to left out): those rows and no others, at their own index", async () => {
    const kernels = loadKernels(bytes);
    const session = { engine: "kernels", residentBytes: 0, retain() {}, release: async () => {}, run: (f: never) => kernels.run(f) } as unknown as LoadedSession;
    const seen: number[] = [];
    const got = new Float32Array(rows * sizes[2]!);
    await forEachBatch([session], dataset, [{ name: "input", type: "float32", shape: ["N", sizes[0]!] }], rows, (start, [out]) => {
      const n = out!.logits!.dims[0]!;
      for (let r = 0; r < n; r++) seen.push(start + r);
      got.set(out!.logits!.data, start * sizes[2]!);
    }, { rows: 16 }, 100);
    await kernels.release();
    // 150 asked for, 50 left after row 100.
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => 100 + i));
    const want = (await runReference(bytes, { input: floatTensor(x, [rows, sizes[0]!]) })).logits!.data as Float32Array;
    for (let i = 100 * sizes[2]!; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4);
  });

  it("fixed rows (calibration, whose statistics depend on the cut): a row a call on every run, and the batches' ends after rows 64, 128 and the last", async () => {
    const ends: number[] = [];
    let seen = 0;
    const kernels = loadKernels(bytes);
    const session = { engine: "kernels", residentBytes: 0, retain() {}, release: async () => {}, run: (f: never) => kernels.run(f) } as unknown as LoadedSession;
    await forEachBatch([session], dataset, [{ name: "input", type: "float32", shape: ["N", sizes[0]!] }], rows, (start, [out]) => {
      expect(out!.logits!.dims[0]).toBe(1);
      seen = start + 1;
    }, { rows: 64, batchEnd: () => void ends.push(seen) });
    await kernels.release();
    expect(ends).toEqual([64, 128, 150]);
    expect(await run({ rows: 64 })).toEqual(Array(rows).fill(1));
  });
});
