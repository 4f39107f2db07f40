// The Hessian accumulator on the kernels' GEMM gives the sums of its plain float64 loops (within 1e-5 of the largest
// entry): MatMul rows and Conv patches, grouped and paired with float rows, whole batches and a partial last one; and
// a wide layer's diagonal blocks alone are those blocks of the whole sums.
import { describe, expect, it } from "vitest";
import { HessianAccumulator, type ConvWindow } from "@worker/compress/calibrate/hessian";
import { BATCH_ROWS, RowProducts } from "@worker/compress/calibrate/row-products";
import { plainKernelModule } from "@test/support/kernels";
import { rng } from "@test/support/models";

const products = new RowProducts(plainKernelModule);

function values(n: number, seed: number, zeros = 0.3): Float32Array {
  const next = rng(seed);
  // Some exact zeros, as after a Relu (the plain loop skips them).
  return Float32Array.from({ length: n }, () => (next() < zeros ? 0 : next() * 2 - 1));
}

function expectSame(got: Float64Array, want: Float64Array, label: string): void {
  const scale = Math.max(...want.map(Math.abs));
  expect(scale, label).toBeGreaterThan(0);
  for (let e = 0; e < want.length; e++) expect(Math.abs(got[e]! - want[e]!) / scale, `${label} [${e}]`).toBeLessThan(1e-5);
}

describe("the Hessian accumulator on the kernels' GEMM", () => {
  it("sums MatMul rows as the plain loops do, over whole batches and a partial last one, paired or not", () => {
    const k = 40;
    for (const rows of [BATCH_ROWS, 3 * BATCH_ROWS + 17]) {
      const x = values(rows * k, rows);
      const float = values(rows * k, rows + 1);
      const plain = new HessianAccumulator(k);
      const kernel = new HessianAccumulator(k, 1, products);
      // Two observations, so that a batch spans calls.
      const half = Math.floor(rows / 2) * k;
      for (const acc of [plain, kernel]) {
        acc.observe(x.subarray(0, half), float.subarray(0, half));
        acc.observe(x.subarray(half), float.subarray(half));
      }
      expect(kernel.rows).toBe(rows);
      expectSame(kernel.matrix(), plain.matrix(), `${rows} rows, Hessian`);
      expectSame(kernel.cross()!, plain.cross()!, `${rows} rows, cross`);
    }
  });

  it("keeps a wide layer's diagonal blocks alone: those of the whole sums, on the plain loops and the GEMM, paired too", () => {
    const [k, blocks] = [48, 3];
    const span = k / blocks;
    const rows = 2 * BATCH_ROWS + 9;
    const x = values(rows * k, 41);
    const float = values(rows * k, 42);
    const whole = new HessianAccumulator(k);
    whole.observe(x, float);
    const [h, c] = [whole.matrix(), whole.cross()!];
    const diagonal = (m: Float64Array) => {
      const out = new Float64Array(blocks * span * span);
      for (let b = 0; b < blocks; b++)
        for (let i = 0; i < span; i++) for (let j = 0; j < span; j++) out[(b * span + i) * span + j] = m[(b * span + i) * k + b * span + j]!;
      return out;
    };
    for (const acc of [new HessianAccumulator(k, 1, undefined, blocks), new HessianAccumulator(k, 1, products, blocks)]) {
      acc.observe(x, float);
      expect(acc.matrix().length).toBe(blocks * span * span);
      expectSame(acc.matrix(), diagonal(h), "Hessian blocks");
      expectSame(acc.cross()!, diagonal(c), "cross blocks");
    }
    expect(() => new HessianAccumulator(k, 1, undefined, 5)).toThrow(/do not split into 5 equal blocks/);
  });

  it("sums Conv patches with pads, strides and groups as the plain loops do", () => {
    const window: ConvWindow = { kernel: [3, 3], strides: [2, 1], dilations: [1, 1], pads: [1, 1, 1, 1], autoPad: "NOTSET" };
    for (const groups of [1, 2]) {
      const [n, c, h, w] = [2, 8, 9, 7];
      const k = (c / groups) * 9;
      const x = values(n * c * h * w, 5 + groups);
      const float = values(n * c * h * w, 7 + groups);
      const plain = new HessianAccumulator(k, groups);
      const kernel = new HessianAccumulator(k, groups, products);
      plain.observeConv(x, [n, c, h, w], window, float);
      kernel.observeConv(x, [n, c, h, w], window, float);
      expectSame(kernel.matrix(), plain.matrix(), `groups ${groups}, Hessian`);
      expectSame(kernel.cross()!, plain.cross()!, `groups ${groups}, cross`);
    }
  });
});
