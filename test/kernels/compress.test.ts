// The compression math kernels bit for bit against their scalar references.
import { describe, expect, it } from "vitest";
import {
  refAbsmaxCols, refAbsmaxRows, refHistogram, refMagnitudeThreshold, refMinmax, refPackInt4, refPackSignBits,
  refQuantizeRoundClamp,
} from "../../kernels/reference/compress";
import { integers, kernelInstance, tileSizes, uniform } from "../support/kernels";

describe("compression math kernels", () => {
  it("finds absmax and min/max per row and per column", () => {
    for (const cols of tileSizes(4)) {
      const rows = 5;
      const X = uniform(rows * cols, cols, 4);
      const kx = kernelInstance();
      const x = kx.put(X);
      const out = kx.alloc(2 * Math.max(rows, cols) * 4);
      kx.k.absmax_rows(rows, cols, x, out);
      expect([...kx.f32(out, rows)]).toEqual([...refAbsmaxRows(rows, cols, X)]);
      kx.k.absmax_cols(rows, cols, x, out);
      expect([...kx.f32(out, cols)]).toEqual([...refAbsmaxCols(rows, cols, X)]);
      kx.k.minmax_rows(rows, cols, x, out);
      expect([...kx.f32(out, 2 * rows)]).toEqual([...refMinmax(rows, cols, X, false)]);
      kx.k.minmax_cols(rows, cols, x, out);
      expect([...kx.f32(out, 2 * cols)]).toEqual([...refMinmax(rows, cols, X, true)]);
    }
  });

  it("rounds half to even and clamps, per row and per column, with zero points", () => {
    const rows = 3;
    const cols = 9;
    const X = uniform(rows * cols, 9, 2);
    // Exact halves in per-column mode: 0.75 / 0.5 = 1.5 -> 2 and 0.625 / 0.25 = 2.5 -> 2.
    X[2] = 0.75;
    X[3] = 0.625;
    const scales = Float32Array.from([0.1, 0.02, 0.5, 0.25, 0.01, 0.3, 0.2, 0.05, 0]);
    const zps = Int32Array.from([0, 3, -2, 0, 1, 0, 0, 5, 7]);
    for (const perCol of [0, 1]) {
      for (const [qmin, qmax] of [[-127, 127], [-8, 7], [0, 15]] as const) {
        const kx = kernelInstance();
        const q = kx.alloc(rows * cols);
        kx.k.quantize_round_clamp(rows, cols, kx.put(X), kx.put(scales), kx.put(zps), perCol, qmin, qmax, q);
        expect([...kx.i8(q, rows * cols)]).toEqual([...refQuantizeRoundClamp(rows, cols, X, scales, zps, perCol === 1, qmin, qmax)]);
      }
    }
  });

  it("packs int4 pairs and sign bits at odd and even lengths", () => {
    for (const n of [1, 2, 7, 8, 9, 16, 33]) {
      const q = integers(n, n, -8, 7);
      const x = uniform(n, n + 1, 1);
      const kx = kernelInstance();
      const o4 = kx.alloc(n);
      kx.k.pack_int4(n, kx.put(q), o4);
      expect([...kx.u8(o4, Math.ceil(n / 2))]).toEqual([...refPackInt4(q)]);
      const ob = kx.alloc(n);
      kx.k.pack_sign_bits(n, kx.put(x), ob);
      expect([...kx.u8(ob, Math.ceil(n / 8))]).toEqual([...refPackSignBits(x)]);
    }
  });

  it("counts a histogram with out-of-range values clamped into the end bins", () => {
    const x = uniform(1000, 5, 2);
    const kx = kernelInstance();
    const counts = kx.alloc(10 * 4);
    kx.u32(counts, 10).fill(0);
    kx.k.histogram(x.length, kx.put(x), -1.5, 1.5, 10, counts);
    const got = kx.u32(counts, 10);
    expect([...got]).toEqual([...refHistogram(x, -1.5, 1.5, 10)]);
    expect(got.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it("selects the k-th smallest magnitude exactly", () => {
    const x = uniform(777, 8, 3);
    x[5] = -0; // signed zero counts as magnitude zero
    for (const k of [0, 1, 100, 388, 700, 776]) {
      const kx = kernelInstance();
      expect(kx.k.magnitude_threshold(x.length, kx.put(x), k)).toBe(refMagnitudeThreshold(x, k));
    }
  });
});
