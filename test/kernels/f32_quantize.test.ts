// The static 8-bit activation grid (ONNX QuantizeLinear / DequantizeLinear with one scale and zero point) against its
// scalar reference bit for bit: values on and half a level off the grid, out of range, NaN, both level types, every
// tail.
import { describe, expect, it } from "vitest";
import { refDequantize, refLevels, refQuantizeRowsStatic } from "@kernels/reference/f32_quantize";
import { gridValues, kernelInstance, STATIC_GRIDS } from "@test/support/kernels";

describe("f32_quantize_linear and f32_dequantize_linear", () => {
  for (const g of STATIC_GRIDS) {
    it(`map values to ${g.label} levels and back as QuantizeLinear and DequantizeLinear do, n from 0 to 37`, () => {
      const kx = kernelInstance();
      for (let n = 0; n <= 37; n++) {
        const x = gridValues(n, n + 1, g.s);
        const X = kx.put(x);
        const Y = kx.alloc(n * 4);
        kx.k.f32_quantize_linear(n, X, g.s, g.zp, g.lo, g.hi, Y);
        const levels = kx.f32(Y, n);
        expect([...levels], `n=${n}`).toEqual([...x].map((v) => refLevels(v, g.s, g.zp, g.lo, g.hi)));
        const Z = kx.alloc(n * 4);
        kx.k.f32_dequantize_linear(n, Y, g.s, g.zp, Z);
        expect([...kx.f32(Z, n)]).toEqual([...levels].map((q) => refDequantize(q, g.s, g.zp)));
      }
    });
  }
});

describe("f32_quantize_dequantize_linear", () => {
  for (const g of STATIC_GRIDS) {
    it(`writes what QuantizeLinear then DequantizeLinear write on ${g.label} levels, in one pass, in place too, n from 0 to 37`, () => {
      const kx = kernelInstance();
      for (let n = 0; n <= 37; n++) {
        const x = gridValues(n, n + 7, g.s);
        const expected = [...x].map((v) => refDequantize(refLevels(v, g.s, g.zp, g.lo, g.hi), g.s, g.zp));
        const X = kx.put(x);
        const Y = kx.alloc(n * 4);
        kx.k.f32_quantize_dequantize_linear(n, X, g.s, g.zp, g.lo, g.hi, Y);
        expect([...kx.f32(Y, n)], `n=${n}`).toEqual(expected);
        kx.k.f32_quantize_dequantize_linear(n, X, g.s, g.zp, g.lo, g.hi, X);
        expect([...kx.f32(X, n)], `n=${n}, in place`).toEqual(expected);
      }
    });
  }
});

describe("qs8_quantize_rows_static", () => {
  for (const g of STATIC_GRIDS) {
    it(`writes ${g.label} levels less ${g.shift} as int8 rows padded with zeros, K around 16`, () => {
      const kx = kernelInstance();
      for (const K of [1, 15, 16, 17, 33, 100]) {
        const M = 3;
        const Kp = Math.ceil(K / 16) * 16;
        const lda = K + 2;
        const rows = gridValues(M * lda, K, g.s);
        const A = kx.put(rows);
        const Q = kx.alloc(M * Kp);
        kx.k.qs8_quantize_rows_static(M, K, Kp, A, lda, g.s, g.zp, g.lo, g.hi, g.shift, Q);
        const got = new Int8Array(kx.k.memory.buffer, Q, M * Kp);
        for (let m = 0; m < M; m++) {
          const want = refQuantizeRowsStatic(1, K, rows.subarray(m * lda, m * lda + K), g.s, g.zp, g.lo, g.hi, g.shift);
          expect([...got.subarray(m * Kp, m * Kp + K)], `K=${K} m=${m}`).toEqual([...want]);
          expect([...got.subarray(m * Kp + K, (m + 1) * Kp)].every((v) => v === 0)).toBe(true);
        }
      }
    });
  }
});
