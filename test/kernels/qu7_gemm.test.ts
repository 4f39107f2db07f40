// The unsigned 7-bit activation path (what the relaxed-SIMD int8 dot needs), plain SIMD128 build, bit for bit.
import { describe, expect, it } from "vitest";
import { refQu7Gemm, refQuantizeRowsU7 } from "@kernels/reference/qs8_gemm";
import { kernelInstance, tileSizes } from "@test/support/kernels";
import { qu7Case } from "@test/support/qu7";

describe("qu7_quantize_rows + qu7_gemm_wasmsimd_2x4 (simd128)", () => {
  for (const M of tileSizes(2)) {
    it(`is bit-exact at M=${M}, N around 4, K in {1, 15, 16, 17, 48}, signed and non-negative rows`, () => {
      for (const N of tileSizes(4)) {
        for (const K of [1, 15, 16, 17, 48]) {
          for (const nonNegative of [false, true]) {
            const r = qu7Case(kernelInstance(), M, K, N, nonNegative);
            const ref = refQuantizeRowsU7(M, K, r.A);
            expect([...r.q], `q M=${M} K=${K}`).toEqual([...ref.q]);
            expect([...r.zeroPoints]).toEqual([...ref.zeroPoints]);
            expect([...r.got], `N=${N} K=${K}`).toEqual([...refQu7Gemm(M, K, N, ref.q, ref.scales, ref.zeroPoints, r.W, r.ws, r.bias)]);
          }
        }
      }
    });
  }
});
