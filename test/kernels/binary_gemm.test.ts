// 1-bit kernels: activation binarization and XNOR-popcount bit for bit, sign-select within a float tolerance,
// at sizes around the 128-bit row block and the 4-column tile.
import { describe, expect, it } from "vitest";
import { refBinaryPackRows, refSignGemm, refXnorGemm } from "@kernels/reference/binary_gemm";
import { packBinary, padded, weightMatrix } from "@worker/serve/wasm/packing";
import { kernelInstance, relError, tileSizes, uniform } from "@test/support/kernels";

function setup(M: number, K: number, N: number) {
  const A = uniform(M * K, M * 5 + K, 1);
  const ws = uniform(N, N + 1, 0.2).map((v) => Math.abs(v) + 0.01);
  const signs = uniform(K * N, K + N * 3, 1);
  const W = Float32Array.from(signs, (v, i) => (v >= 0 ? 1 : -1) * ws[i % N]!);
  const bias = uniform(N, N + 2, 1);
  const kx = kernelInstance();
  const packed = packBinary(weightMatrix(W, K, N, "kn"));
  return {
    A, W, ws, bias, kx, packed,
    a: kx.put(A), w: kx.put(packed.bits), wsp: kx.put(padded(ws, packed.Np)), bp: kx.put(padded(bias, packed.Np)),
  };
}

describe("binary_xnor_gemm_wasmsimd_1x4", () => {
  for (const K of [1, 7, 8, 9, 127, 128, 129, 256, 4000]) {
    it(`binarizes and multiplies bit-exactly at K=${K}, M in {1, 2}, N around 4`, () => {
      for (const M of [1, 2]) {
        for (const N of tileSizes(4)) {
          const s = setup(M, K, N);
          const { Kp } = s.packed;
          const xa = s.kx.alloc((M * Kp) / 8);
          const as = s.kx.alloc(M * 4);
          s.kx.k.binary_pack_rows(M, K, Kp, s.a, K, xa, as);
          const ref = refBinaryPackRows(M, K, s.A);
          expect(relError(s.kx.f32(as, M), ref.scales)).toBeLessThan(1e-6);
          const c = s.kx.alloc(M * N * 4);
          s.kx.k.binary_xnor_gemm_wasmsimd_1x4(M, K, Kp, N, xa, as, s.w, s.wsp, s.bp, c, N, -Infinity, Infinity);
          const want = refXnorGemm(M, K, N, ref.signs, s.kx.f32(as, M), s.W, s.ws, s.bias);
          expect([...s.kx.f32(c, M * N)], `M=${M} N=${N}`).toEqual([...want]);
        }
      }
    });
  }
});

describe("binary_sign_gemm_wasmsimd_1x4", () => {
  for (const K of [1, 7, 8, 9, 31, 32, 33, 128, 129, 1000]) {
    it(`matches the reference within 1e-5 relative at K=${K}, M in {1, 3}, N around 4`, () => {
      for (const M of [1, 3]) {
        for (const N of tileSizes(4)) {
          const s = setup(M, K, N);
          const c = s.kx.alloc(M * N * 4);
          s.kx.k.binary_sign_gemm_wasmsimd_1x4(M, K, s.packed.Kp, N, s.a, K, s.w, s.wsp, s.bp, c, N, 0, Infinity);
          const want = refSignGemm(M, K, N, s.A, s.W, s.ws, s.bias, 0, Infinity);
          expect(relError(s.kx.f32(c, M * N), want), `M=${M} N=${N}`).toBeLessThan(1e-5);
        }
      }
    });
  }
});
