// qs8_pointwise_quantize + qs8_pointwise_4x8 (int8 1x1 convolution on NCHW planes) and its unsigned 7-bit sibling
// qu7_pointwise_* (the relaxed dot's form; here the plain build's emulation, the relaxed one in relaxed.worker.test.ts)
// against the scalar references bit for bit: channels around the 4-channel panel, inputs around the pair (odd K), pixels around the 8-pixel step
// and the 64-pixel block, with and without bias and clamp; all-zero pixels; and within int8 quantization error of
// the float convolution. qs8/qu7_patch_quantize, reading a stride-1 filter's patches from the zero-padded input
// (f32_pad_planes), write what im2planes then the pointwise quantizers write, byte for byte; so do the static grid's
// qs8_pointwise_quantize_static (against qs8_quantize_rows_static's reference) and qs8_patch_quantize_static.
import { describe, expect, it } from "vitest";
import { outputSize } from "@kernels/reference/f32_conv";
import { refPointwise } from "@kernels/reference/f32_dwconv";
import { refQuantizeRowsStatic } from "@kernels/reference/f32_quantize";
import { refQs8Pointwise, refQu7Pointwise } from "@kernels/reference/qs8_pointwise";
import { packQs8Pointwise } from "@worker/serve/wasm/packing";
import { qu7Pointwise } from "@test/support/qu7";
import { gridValues, integers, kernelInstance, relError, STATIC_GRIDS, tileSizes, uniform } from "@test/support/kernels";

function run(M: number, K: number, P: number, X: Float32Array, W: Int8Array, ws: Float32Array, bias: Float32Array | null, lo = -Infinity, hi = Infinity) {
  const kx = kernelInstance();
  const Pp = Math.ceil(P / 8) * 8;
  const q = kx.alloc(Math.ceil(K / 2) * Pp * 2);
  const as = kx.alloc(Pp * 4);
  const y = kx.alloc(M * P * 4);
  const x = kx.put(X);
  kx.k.qs8_pointwise_quantize(K, P, x, q, as);
  const wsPadded = new Float32Array(Math.ceil(M / 4) * 4);
  wsPadded.set(ws);
  kx.k.qs8_pointwise_4x8(M, K, P, q, as, kx.put(packQs8Pointwise((m, k) => W[m * K + k]!, M, K)), kx.put(wsPadded), bias ? kx.put(bias) : 0, lo, hi, y);
  return kx.f32(y, M * P).slice();
}

describe("qs8_pointwise_4x8", () => {
  it("matches the reference bit for bit for M around 4, K around 2 and P around 8 and 64", () => {
    for (const M of tileSizes(4)) {
      for (const K of [1, 2, 3, 16, 17]) {
        for (const P of [...tileSizes(8), 63, 64, 65, 130]) {
          const X = uniform(K * P, M * 131 + K * 7 + P, 2);
          const W = integers(M * K, M + K * 3, -127, 127);
          const ws = uniform(M, M + 1, 0.02).map((v) => Math.abs(v) + 1e-3);
          const bias = uniform(M, M + 2, 1);
          const got = run(M, K, P, X, W, ws, bias);
          expect(Array.from(got), `M=${M} K=${K} P=${P}`).toEqual(Array.from(refQs8Pointwise(M, K, P, X, W, ws, bias)));
        }
      }
    }
  });

  it("clamps (ReLU6), runs without bias, and gives all-zero pixels exactly the bias", () => {
    const [M, K, P] = [6, 9, 21];
    const X = uniform(K * P, 3, 4);
    for (let k = 0; k < K; k++) X[k * P + 5] = X[k * P + 20] = 0;
    const W = integers(M * K, 4, -127, 127);
    const ws = Float32Array.from({ length: M }, (_, m) => 0.01 * (m + 1));
    const bias = uniform(M, 5, 1);
    expect(Array.from(run(M, K, P, X, W, ws, bias, 0, 6))).toEqual(Array.from(refQs8Pointwise(M, K, P, X, W, ws, bias, 0, 6)));
    expect(Array.from(run(M, K, P, X, W, ws, null))).toEqual(Array.from(refQs8Pointwise(M, K, P, X, W, ws, null)));
    const y = run(M, K, P, X, W, ws, bias);
    for (let m = 0; m < M; m++) expect([y[m * P + 5], y[m * P + 20]]).toEqual([bias[m], bias[m]]);
  });

  it("stays within int8 quantization error of the float convolution (2% of the output's range)", () => {
    const [M, K, P] = [24, 96, 196];
    const X = uniform(K * P, 9, 1);
    const Wf = uniform(M * K, 10, 0.5);
    const ws = new Float32Array(M);
    const W = new Int8Array(M * K);
    for (let m = 0; m < M; m++) {
      let mx = 0;
      for (let k = 0; k < K; k++) mx = Math.max(mx, Math.abs(Wf[m * K + k]!));
      ws[m] = mx / 127;
      for (let k = 0; k < K; k++) W[m * K + k] = Math.round(Wf[m * K + k]! / ws[m]!);
    }
    expect(relError(run(M, K, P, X, W, ws, null), refPointwise(M, K, P, X, Wf, null, -Infinity, Infinity))).toBeLessThan(0.02);
  });
});

describe("qu7_pointwise_4x8 (plain build)", () => {
  it("matches the reference bit for bit for M around 4, K around 4 and P around 8 and 64, signed and non-negative inputs", () => {
    for (const M of tileSizes(4)) {
      for (const K of [1, 3, 4, 5, 17]) {
        for (const P of [...tileSizes(8), 63, 65]) {
          for (const nonNegative of [false, true]) {
            const X = uniform(K * P, M * 131 + K * 7 + P, 2).map((v) => (nonNegative ? Math.abs(v) : v));
            const W = integers(M * K, M + K * 3, -127, 127);
            const ws = uniform(M, M + 1, 0.02).map((v) => Math.abs(v) + 1e-3);
            const bias = uniform(M, M + 2, 1);
            const got = qu7Pointwise(kernelInstance(), M, K, P, X, W, ws, bias, 0, 6);
            expect(Array.from(got), `M=${M} K=${K} P=${P}`).toEqual(Array.from(refQu7Pointwise(M, K, P, X, W, ws, bias, 0, 6)));
          }
        }
      }
    }
  });
});

describe("qs8_pointwise_quantize_static", () => {
  for (const g of STATIC_GRIDS) {
    it(`writes each pixel's ${g.label} levels less ${g.shift} in pairs of channels (qs8_quantize_rows_static's rule), zeros past K and P`, () => {
      const kx = kernelInstance();
      for (const K of [1, 2, 3, 16, 17]) {
        for (const P of [...tileSizes(8), 63, 64, 65]) {
          const X = gridValues(K * P, K * 100 + P, g.s);
          const Pp = Math.ceil(P / 8) * 8;
          const Kh = Math.ceil(K / 2);
          const mark = kx.mark();
          const q = kx.alloc(Kh * Pp * 2);
          kx.k.qs8_pointwise_quantize_static(K, P, kx.put(X), q, g.s, g.zp, g.lo, g.hi, g.shift);
          const columns = new Float32Array(P * K);
          for (let k = 0; k < K; k++) for (let p = 0; p < P; p++) columns[p * K + k] = X[k * P + p]!;
          const levels = refQuantizeRowsStatic(P, K, columns, g.s, g.zp, g.lo, g.hi, g.shift);
          const want = new Int8Array(Kh * Pp * 2);
          for (let k = 0; k < K; k++) for (let p = 0; p < P; p++) want[((k >> 1) * Pp + p) * 2 + (k & 1)] = levels[p * K + k]!;
          expect([...new Int8Array(kx.k.memory.buffer, q, Kh * Pp * 2)], `K=${K} P=${P}`).toEqual([...want]);
          kx.reset(mark);
        }
      }
    });
  }
});

describe("qs8_patch_quantize and qu7_patch_quantize", () => {
  it("write im2planes' patches quantized as the pointwise quantizers do, byte for byte, at stride 1 over widths, filters, pads and dilations", () => {
    const kx = kernelInstance();
    let cases = 0;
    for (const W of [1, 3, 4, 5, 7, 8, 9, 12, 13, 17, 28]) {
      for (const [kh, kw] of [[1, 1], [3, 3], [1, 3], [5, 2], [7, 7]] as const) {
        for (const [ph, pw] of [[0, 0], [1, 1], [1, 3], [2, 0]] as const) {
          for (const dw of [1, 2]) {
            const s = { C: W % 3 === 0 ? 16 : (W % 3) + 1, H: 6, W, kh, kw, sh: 1, sw: 1, ph, pw, dh: 1 + (W % 2), dw };
            const { OH, OW } = outputSize(s);
            if (OH <= 0 || OW <= 0) continue;
            const [P, K] = [OH * OW, s.C * kh * kw];
            const Pp = Math.ceil(P / 8) * 8;
            // Rows as wide as the kernels read: 8 output pixels at a time, whole groups.
            const [Hp, Wp] = [OH + (kh - 1) * s.dh, Math.ceil(OW / 8) * 8 + (kw - 1) * dw];
            const mark = kx.mark();
            // Negative, positive and zero inputs, and a plane of zeros (a pixel whose patch is all zero when C is 1).
            const X = uniform(s.C * s.H * W, W * 100 + kh * 10 + ph, 2).map((v, i) => (i % 7 === 0 || i < s.H * W * (s.C > 2 ? 1 : 0) ? 0 : v));
            const x = kx.put(X);
            const planes = kx.alloc(K * P * 4);
            kx.k.f32_im2planes(x, s.C, s.H, W, kh, kw, 1, 1, ph, pw, s.dh, dw, OH, OW, planes);
            const padded = kx.alloc(s.C * Hp * Wp * 4);
            kx.k.f32_pad_planes(x, s.C, s.H, W, ph, pw, Hp, Wp, padded);
            const label = JSON.stringify(s);
            // qs8: pairs of channels, a scale per pixel.
            const [q8, as8, q8p, as8p] = [kx.alloc(Math.ceil(K / 2) * Pp * 2), kx.alloc(Pp * 4), kx.alloc(Math.ceil(K / 2) * Pp * 2), kx.alloc(Pp * 4)];
            kx.k.qs8_pointwise_quantize(K, P, planes, q8, as8);
            kx.k.qs8_patch_quantize(padded, s.C, Hp, Wp, kh, kw, s.dh, dw, OH, OW, q8p, as8p);
            expect([...kx.u8(q8p, Math.ceil(K / 2) * Pp * 2)], label).toEqual([...kx.u8(q8, Math.ceil(K / 2) * Pp * 2)]);
            expect([...kx.f32(as8p, Pp)], label).toEqual([...kx.f32(as8, Pp)]);
            // qu7: quads of channels, a scale and a zero point per pixel.
            const n7 = Math.ceil(K / 4) * Pp * 4;
            const [q7, as7, zp7, q7p, as7p, zp7p] = [kx.alloc(n7), kx.alloc(Pp * 4), kx.alloc(Pp * 4), kx.alloc(n7), kx.alloc(Pp * 4), kx.alloc(Pp * 4)];
            kx.k.qu7_pointwise_quantize(K, P, planes, q7, as7, zp7);
            kx.k.qu7_patch_quantize(padded, s.C, Hp, Wp, kh, kw, s.dh, dw, OH, OW, q7p, as7p, zp7p);
            expect([...kx.u8(q7p, n7)], label).toEqual([...kx.u8(q7, n7)]);
            expect([...kx.f32(as7p, Pp)], label).toEqual([...kx.f32(as7, Pp)]);
            expect([...kx.u8(zp7p, Pp * 4)], label).toEqual([...kx.u8(zp7, Pp * 4)]);
            // Static grids: the same pairs layout, each entry its level; padding at the zero point's.
            for (const g of STATIC_GRIDS) {
              const [qs, qsp] = [kx.alloc(Math.ceil(K / 2) * Pp * 2), kx.alloc(Math.ceil(K / 2) * Pp * 2)];
              kx.k.qs8_pointwise_quantize_static(K, P, planes, qs, g.s, g.zp, g.lo, g.hi, g.shift);
              kx.k.qs8_patch_quantize_static(padded, s.C, Hp, Wp, kh, kw, s.dh, dw, OH, OW, qsp, g.s, g.zp, g.lo, g.hi, g.shift);
              expect([...kx.u8(qsp, Math.ceil(K / 2) * Pp * 2)], `${label} ${g.label}`).toEqual([...kx.u8(qs, Math.ceil(K / 2) * Pp * 2)]);
            }
            kx.reset(mark);
            cases++;
          }
        }
      }
    }
    expect(cases).toBeGreaterThan(300);
  });
});
