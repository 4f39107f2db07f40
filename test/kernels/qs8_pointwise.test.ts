// qs8_pointwise_quantize + qs8_pointwise_4x8 (int8 1x1 convolution on NCHW planes) and its unsigned 7-bit sibling
// qu7_pointwise_* (the relaxed dot's form; here the plain build's emulation, the relaxed one in relaxed.worker.test.ts)
// against the scalar references bit for bit: channels around the 4-channel panel, inputs around the pair (odd K), pixels around the 8-pixel step
// and the 64-pixel block, with and without bias and clamp; all-zero pixels; and within int8 quantization error of
// the float convolution.
import { describe, expect, it } from "vitest";
import { refPointwise } from "@kernels/reference/f32_dwconv";
import { refQs8Pointwise, refQu7Pointwise } from "@kernels/reference/qs8_pointwise";
import { packQs8Pointwise } from "@worker/serve/wasm/packing";
import { qu7Pointwise } from "@test/support/qu7";
import { integers, kernelInstance, relError, tileSizes, uniform } from "@test/support/kernels";

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
