// qs4_quantize_rows + qs4_gemm_wasmsimd_rx4 against the scalar reference around the 32-input block, the 4-column
// group and the row tile (2 rows in this plain build), on weights stored offset by 8 in column-group blocks; and
// qs4z_gemm_wasmsimd_rx4 on an asymmetric grid's levels (-15..15, 16 consecutive integers per block), stored offset
// per block.
import { describe, expect, it } from "vitest";
import { refQs4Gemm } from "@kernels/reference/qs4_gemm";
import { refQuantizeRows } from "@kernels/reference/qs8_gemm";
import { packQs4, padded, qs4Offsets, weightMatrix } from "@worker/serve/wasm/packing";
import { asymmetricLevels, integers, kernelInstance, relError, tileSizes, uniform } from "@test/support/kernels";

function run(M: number, K: number, N: number, opts: { lo?: number; hi?: number; W?: Int8Array; A?: Float32Array; asymmetric?: boolean } = {}) {
  const { lo = -Infinity, hi = Infinity } = opts;
  const A = opts.A ?? uniform(M * K, M * 3 + K, 2);
  const W = opts.W ?? (opts.asymmetric ? asymmetricLevels(K, N, N * 11 + K) : integers(K * N, N * 11 + K, -8, 7));
  const blocks = Math.ceil(K / 32);
  const scales = uniform(blocks * N, blocks + N, 0.1).map((v) => Math.abs(v) + 0.01);
  const scaleOf = (n: number, b: number) => scales[b * N + n]!;
  const kx = kernelInstance();
  const offsets = opts.asymmetric ? qs4Offsets(weightMatrix(W, K, N, "kn")) : undefined;
  if (offsets === null) throw new Error("levels span more than 16 integers in a block");
  const packed = packQs4(weightMatrix(W, K, N, "kn"), scaleOf, offsets);
  const a = kx.put(A);
  const q = kx.alloc(M * packed.Kp);
  const s = kx.alloc(M * 4);
  const sums = kx.alloc(M * (packed.Kp / 32) * 4);
  kx.k.qs4_quantize_rows(M, K, packed.Kp, a, K, q, s, sums);
  const w = kx.put(packed.data);
  const wsT = kx.put(packed.scalesT);
  const bias = uniform(N, N, 1);
  const bp = kx.put(padded(bias, packed.Np));
  const c = kx.alloc(M * N * 4);
  if (offsets) kx.k.qs4z_gemm_wasmsimd_rx4(M, packed.Kp, N, q, s, sums, w, wsT, kx.put(offsets), packed.Np, bp, c, N, lo, hi);
  else kx.k.qs4_gemm_wasmsimd_rx4(M, packed.Kp, N, q, s, sums, w, wsT, packed.Np, bp, c, N, lo, hi);
  const ref = refQuantizeRows(M, K, A);
  const wantSums = Array.from({ length: M * (packed.Kp / 32) }, (_, i) => {
    const [m, b] = [Math.floor(i / (packed.Kp / 32)), i % (packed.Kp / 32)];
    let t = 0;
    for (let k = 32 * b; k < Math.min(K, 32 * b + 32); k++) t += ref.q[m * K + k]!;
    return -8 * t;
  });
  return {
    got: kx.f32(c, M * N).slice(),
    want: refQs4Gemm(M, K, N, ref.q, ref.scales, W, scaleOf, bias, lo, hi),
    sums: [...new Int32Array(kx.k.memory.buffer, sums, M * (packed.Kp / 32))],
    wantSums,
  };
}

describe("qs4_gemm_wasmsimd_rx4", () => {
  for (const K of tileSizes(32)) {
    it(`matches the reference within 1e-5 relative at K=${K}, M in {1, 2, 3, 5, 33}, N around 4`, () => {
      for (const M of [1, 2, 3, 5, 33]) {
        for (const N of tileSizes(4)) {
          const { got, want } = run(M, K, N);
          expect(relError(got, want), `M=${M} N=${N}`).toBeLessThan(1e-5);
        }
      }
    });
  }

  it("gives each block's activation sum times -8 for the offset-by-8 weights (M=3, K=97)", () => {
    const { sums, wantSums } = run(3, 97, 5);
    expect(sums).toEqual(wantSums);
    expect(sums.some((v) => v !== 0)).toBe(true);
  });

  it("is exact at the extremes: weights all -8 or all 7 against activations at +-127", () => {
    const [M, K, N] = [5, 96, 6];
    const A = Float32Array.from({ length: M * K }, (_, i) => (i % 3 === 0 ? -1 : 1));
    for (const v of [-8, 7]) {
      const { got, want } = run(M, K, N, { A, W: new Int8Array(K * N).fill(v) });
      expect(relError(got, want), `w=${v}`).toBeLessThan(1e-6);
    }
  });

  it("applies the clamp at a large shape (M=17, K=520, N=66)", () => {
    const { got, want } = run(17, 520, 66, { lo: 0 });
    expect(relError(got, want)).toBeLessThan(1e-5);
    expect(Math.min(...got)).toBe(0);
  });
});

describe("qs4z_gemm_wasmsimd_rx4 (asymmetric levels)", () => {
  for (const K of tileSizes(32)) {
    it(`matches the reference within 1e-5 relative at K=${K}, M in {1, 2, 3, 5, 33}, N around 4`, () => {
      for (const M of [1, 2, 3, 5, 33]) {
        for (const N of tileSizes(4)) {
          const { got, want } = run(M, K, N, { asymmetric: true });
          expect(relError(got, want), `M=${M} N=${N}`).toBeLessThan(1e-5);
        }
      }
    });
  }

  it("is exact at the extremes: blocks of all -15 or all 15 against activations at +-127", () => {
    const [M, K, N] = [5, 96, 6];
    const A = Float32Array.from({ length: M * K }, (_, i) => (i % 3 === 0 ? -1 : 1));
    for (const v of [-15, 15]) {
      const { got, want } = run(M, K, N, { A, W: new Int8Array(K * N).fill(v), asymmetric: true });
      expect(relError(got, want), `w=${v}`).toBeLessThan(1e-6);
    }
  });

  it("offsets only the blocks that -8..7 does not hold, and refuses a block that spans more than 16 integers", () => {
    const [K, N] = [64, 5];
    const W = new Int8Array(K * N);
    W[0 * N + 1] = 12; // block 0 of column 1: 0..12, stored as it is (offset 8 - 8)
    W[40 * N + 2] = -15; // block 1 of column 2: -15..0, offset by 8 + 7
    const offsets = qs4Offsets(weightMatrix(W, K, N, "kn"))!;
    expect([...offsets]).toEqual([0, -8, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0]);
    expect([...qs4Offsets(weightMatrix(new Int8Array(K * N).fill(3), K, N, "kn"))!]).toEqual(new Array(16).fill(0));
    W[1 * N + 1] = -4; // block 0 of column 1 now spans -4..12, 17 integers
    expect(qs4Offsets(weightMatrix(W, K, N, "kn"))).toBeNull();
  });
});
