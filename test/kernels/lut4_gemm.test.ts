// lut4_gemm_wasmsimd_4x8 (16-entry codebook, 4-bit indices decoded by byte-plane table lookups) against the scalar
// reference around the 4-row tile, the 8-column panel and the 4-input quad, with and without scale and bias, with a
// clamp, and on tables whose floats have every byte pattern the decoding reassembles (negative, tiny, huge, zero).
import { describe, expect, it } from "vitest";
import { refLut4Gemm } from "@kernels/reference/lut4_gemm";
import { packLut4, padded, weightMatrix } from "@worker/serve/wasm/packing";
import { integers, kernelInstance, relError, tileSizes, uniform } from "@test/support/kernels";

function run(M: number, K: number, N: number, opts: { table?: Float32Array; scale?: boolean; bias?: boolean; lo?: number; hi?: number } = {}) {
  const { lo = -Infinity, hi = Infinity } = opts;
  const A = uniform(M * K, M * 5 + K, 2);
  const idx = integers(K * N, K * 13 + N, 0, 15);
  const table = opts.table ?? uniform(16, K + N, 0.5);
  const scale = opts.scale ? uniform(N, N + 3, 1).map((v) => Math.abs(v) + 0.1) : null;
  const bias = opts.bias ? uniform(N, N + 7, 1) : null;
  const packed = packLut4(weightMatrix(idx, K, N, "kn"));
  const kx = kernelInstance();
  const a = kx.put(A);
  const w = kx.put(packed.data);
  const t = kx.put(table);
  const s = scale ? kx.put(padded(scale, packed.Np)) : 0;
  const b = bias ? kx.put(padded(bias, packed.Np)) : 0;
  const c = kx.alloc(M * N * 4);
  kx.k.lut4_gemm_wasmsimd_4x8(M, K, N, a, K, w, t, s, b, c, N, lo, hi);
  return { got: kx.f32(c, M * N).slice(), want: refLut4Gemm(M, K, N, A, idx, table, scale, bias, lo, hi) };
}

describe("lut4_gemm_wasmsimd_4x8", () => {
  it("matches the scalar reference within 1e-5 (relative to the largest output) around the row tile, column panel and input quad", () => {
    for (const M of tileSizes(4))
      for (const N of tileSizes(8))
        for (const K of [...tileSizes(4), 33, 100]) {
          const { got, want } = run(M, K, N, { scale: (M + N) % 2 === 0, bias: (M + K) % 2 === 1 });
          expect(relError(got, want), `${M}x${K}x${N}`).toBeLessThan(1e-5);
        }
  });

  it("reassembles every byte of the table's floats: negatives, subnormal-sized, huge and zero entries", () => {
    const table = Float32Array.from([0, -0, 1e-30, -1e-30, 3.5e30, -3.5e30, 1, -1, 0.1, -0.1, 123456.7, -7.25e-5, 2 ** -20, 65504, -2.5, 1e10]);
    const { got, want } = run(5, 37, 11, { table });
    expect(relError(got, want)).toBeLessThan(1e-5);
    // One input row of 1 at a single k reads single table entries back exactly.
    const kx = kernelInstance();
    const idx = Int8Array.from({ length: 16 }, (_, j) => j);
    const packed = packLut4(weightMatrix(idx, 1, 16, "kn"));
    const c = kx.alloc(16 * 4);
    kx.k.lut4_gemm_wasmsimd_4x8(1, 1, 16, kx.put(Float32Array.of(1)), 1, kx.put(packed.data), kx.put(table), 0, 0, c, 16, -Infinity, Infinity);
    // (The accumulator starts at +0, so the -0 entry reads back as +0.)
    expect(Array.from(kx.f32(c, 16))).toEqual(Array.from(table, (v) => v + 0));
  });

  it("clamps to [lo, hi] after scale and bias", () => {
    const { got, want } = run(6, 20, 9, { scale: true, bias: true, lo: 0, hi: 0.5 });
    expect(relError(got, want)).toBeLessThan(1e-5);
    expect(Math.min(...got)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...got)).toBeLessThanOrEqual(0.5);
  });

  it("refuses to pack an index outside 0..15", () => {
    expect(() => packLut4(weightMatrix(Int8Array.of(3, 16), 1, 2, "kn"))).toThrow(/codebook index 16 at \(0, 1\)/);
  });
});
