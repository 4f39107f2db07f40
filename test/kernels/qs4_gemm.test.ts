// qs4_gemm_wasmsimd_1x4 against the scalar reference around its 32-input block and 4-column tile.
import { describe, expect, it } from "vitest";
import { refQs4Gemm } from "../../kernels/reference/qs4_gemm";
import { refQuantizeRows } from "../../kernels/reference/qs8_gemm";
import { packQs4, padded, weightMatrix } from "../../worker/serve/kernels/packing";
import { integers, kernelInstance, relError, tileSizes, uniform } from "../support/kernels";

function run(M: number, K: number, N: number, lo = -Infinity, hi = Infinity) {
  const A = uniform(M * K, M * 3 + K, 2);
  const W = integers(K * N, N * 11 + K, -8, 7);
  const blocks = Math.ceil(K / 32);
  const scales = uniform(blocks * N, blocks + N, 0.1).map((v) => Math.abs(v) + 0.01);
  const scaleOf = (n: number, b: number) => scales[b * N + n]!;
  const kx = kernelInstance();
  const packed = packQs4(weightMatrix(W, K, N, "kn"), scaleOf);
  const a = kx.put(A);
  const q = kx.alloc(M * packed.Kp);
  const s = kx.alloc(M * 4);
  kx.k.qs8_quantize_rows(M, K, packed.Kp, a, K, q, s);
  const w = kx.put(packed.data);
  const wsT = kx.put(packed.scalesT);
  const bias = uniform(N, N, 1);
  const bp = kx.put(padded(bias, packed.Np));
  const c = kx.alloc(M * N * 4);
  kx.k.qs4_gemm_wasmsimd_1x4(M, packed.Kp, N, q, s, w, wsT, packed.Np, bp, c, N, lo, hi);
  const ref = refQuantizeRows(M, K, A);
  return { got: kx.f32(c, M * N).slice(), want: refQs4Gemm(M, K, N, ref.q, ref.scales, W, scaleOf, bias, lo, hi) };
}

describe("qs4_gemm_wasmsimd_1x4", () => {
  for (const K of tileSizes(32)) {
    it(`matches the reference within 1e-5 relative at K=${K}, M in {1, 3}, N around 4`, () => {
      for (const M of [1, 3]) {
        for (const N of tileSizes(4)) {
          const { got, want } = run(M, K, N);
          expect(relError(got, want), `M=${M} N=${N}`).toBeLessThan(1e-5);
        }
      }
    });
  }

  it("applies the clamp at a large shape (M=17, K=520, N=66)", () => {
    const { got, want } = run(17, 520, 66, 0, Infinity);
    expect(relError(got, want)).toBeLessThan(1e-5);
    expect(Math.min(...got)).toBe(0);
  });
});
