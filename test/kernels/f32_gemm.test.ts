// f32_gemm_wasmsimd_4x8 against the scalar reference at sizes around its 4x8 tile (and K odd/even for the 1-row path).
import { describe, expect, it } from "vitest";
import { refF32Gemm } from "@kernels/reference/f32_gemm";
import { packF32Panels, padded, roundUp, weightMatrix } from "@worker/serve/wasm/packing";
import { kernelInstance, relError, tileSizes, uniform } from "@test/support/kernels";

function run(M: number, K: number, N: number, lo = -Infinity, hi = Infinity, withBias = true) {
  const A = uniform(M * K, 1 + M * 31 + K, 1);
  const B = uniform(K * N, 2 + N * 17 + K, 1);
  const bias = withBias ? uniform(N, 3 + N, 1) : null;
  const kx = kernelInstance();
  const a = kx.put(A);
  const b = kx.put(packF32Panels(weightMatrix(B, K, N, "kn")));
  const bb = bias ? kx.put(padded(bias, roundUp(N, 8))) : 0;
  const c = kx.alloc(M * N * 4);
  kx.k.f32_gemm_wasmsimd_4x8(M, K, N, a, K, b, bb, c, N, lo, hi);
  return { got: kx.f32(c, M * N).slice(), want: refF32Gemm(M, K, N, A, B, bias, lo, hi) };
}

describe("f32_gemm_wasmsimd_4x8", () => {
  for (const M of tileSizes(4)) {
    for (const N of tileSizes(8)) {
      it(`matches the reference within 1e-5 relative at M=${M}, N=${N}, K in {1, 2, 7, 64}`, () => {
        for (const K of [1, 2, 7, 64]) {
          const { got, want } = run(M, K, N);
          expect(relError(got, want), `K=${K}`).toBeLessThan(1e-5);
        }
      });
    }
  }

  it("applies the clamp (relu and clip) after the bias", () => {
    const { got, want } = run(5, 33, 11, 0, 0.5);
    expect(relError(got, want)).toBeLessThan(1e-5);
    expect(Math.min(...got)).toBe(0);
    expect(Math.max(...got)).toBe(0.5);
  });

  it("runs without a bias", () => {
    const { got, want } = run(6, 40, 20, -Infinity, Infinity, false);
    expect(relError(got, want)).toBeLessThan(1e-5);
  });

  it("matches at a large shape (M=32, K=300, N=130)", () => {
    const { got, want } = run(32, 300, 130);
    expect(relError(got, want)).toBeLessThan(1e-5);
  });
});
