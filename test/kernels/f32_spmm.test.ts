// Sparse fp32 kernels (1x16 block-sparse and CSR) against the dense reference on pruned weights.
import { describe, expect, it } from "vitest";
import { refF32Gemm } from "@kernels/reference/f32_gemm";
import { packBlockSparse1x16, packCsr, padded, roundUp, sparsityOf, weightMatrix } from "@worker/serve/wasm/packing";
import { kernelInstance, relError, tileSizes, uniform } from "@test/support/kernels";

/** W [K, N] with ~`zeroFraction` of its 1x16 blocks (or elements) set to zero. */
function pruned(K: number, N: number, zeroFraction: number, blockWise: boolean, seed: number): Float32Array {
  const W = uniform(K * N, seed, 1);
  const pick = uniform(K * N, seed + 1, 1);
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) {
      const key = blockWise ? pick[k * N + (n - (n % 16))]! : pick[k * N + n]!;
      if ((key + 1) / 2 < zeroFraction) W[k * N + n] = 0;
    }
  return W;
}

describe("f32_bsr1x16_gemm_wasmsimd_2x16", () => {
  for (const N of tileSizes(16)) {
    it(`matches the dense reference within 1e-5 relative at N=${N}, M around 2, 90% zero blocks`, () => {
      for (const M of tileSizes(2)) {
        const K = 45;
        const W = pruned(K, N, 0.9, true, N * 7);
        const A = uniform(M * K, M + 100, 1);
        const bias = uniform(N, N, 1);
        const kx = kernelInstance();
        const p = packBlockSparse1x16(weightMatrix(W, K, N, "kn"));
        const c = kx.alloc(M * N * 4);
        const args = [kx.put(A), K, kx.put(p.ptr), kx.put(p.kidx), kx.put(p.vals), kx.put(padded(bias, roundUp(N, 16))), c, N] as const;
        kx.k.f32_bsr1x16_gemm_wasmsimd_2x16(M, N, ...args, -1, 1);
        expect(relError(kx.f32(c, M * N), refF32Gemm(M, K, N, A, W, bias, -1, 1)), `M=${M}`).toBeLessThan(1e-5);
      }
    });
  }

  it("packs only the nonzero blocks", () => {
    const W = pruned(64, 64, 0.9, true, 3);
    const p = packBlockSparse1x16(weightMatrix(W, 64, 64, "kn"));
    const s = sparsityOf(weightMatrix(W, 64, 64, "kn"));
    expect(p.kidx.length).toBe(Math.round((1 - s.blocks) * 64 * 4));
    expect(p.vals.length).toBe(p.kidx.length * 16);
  });
});

describe("f32_csr_gemm_scalar_1x4", () => {
  for (const M of tileSizes(4)) {
    it(`matches the dense reference within 1e-5 relative at M=${M}, N in {1, 5, 33}`, () => {
      for (const N of [1, 5, 33]) {
        const K = 70;
        const W = pruned(K, N, 0.8, false, N + M);
        const A = uniform(M * K, M, 1);
        const bias = uniform(N, N + 4, 1);
        const kx = kernelInstance();
        const p = packCsr(weightMatrix(W, K, N, "kn"));
        const c = kx.alloc(M * N * 4);
        kx.k.f32_csr_gemm_scalar_1x4(M, N, kx.put(A), K, kx.put(p.ptr), kx.put(p.kidx), kx.put(p.vals), kx.put(bias), c, N, -Infinity, Infinity);
        expect(relError(kx.f32(c, M * N), refF32Gemm(M, K, N, A, W, bias)), `N=${N}`).toBeLessThan(1e-5);
      }
    });
  }
});
