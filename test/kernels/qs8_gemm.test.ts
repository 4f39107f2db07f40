// The int8 path bit for bit: per-row activation quantization, the int32 dot products and the float epilogue.
import { describe, expect, it } from "vitest";
import { refQs8Dot, refQs8Epilogue, refQuantizeRows } from "@kernels/reference/qs8_gemm";
import { packQs8, padded, weightMatrix } from "@worker/serve/wasm/packing";
import { integers, kernelInstance, tileSizes, uniform } from "@test/support/kernels";

function quantize(M: number, K: number, A: Float32Array) {
  const kx = kernelInstance();
  const Kp = Math.ceil(K / 16) * 16;
  const a = kx.put(A);
  const q = kx.alloc(M * Kp);
  const s = kx.alloc(M * 4);
  kx.k.qs8_quantize_rows(M, K, Kp, a, K, q, s);
  return { kx, Kp, q, s };
}

describe("qs8_quantize_rows", () => {
  for (const K of tileSizes(16)) {
    it(`quantizes rows of ${K} values exactly as the reference (round half to even, zero padding)`, () => {
      const M = 3;
      const A = uniform(M * K, K, 3);
      A[0] = 1.5; // exact halves after scaling exercise the rounding rule
      const { kx, Kp, q, s } = quantize(M, K, A);
      const ref = refQuantizeRows(M, K, A);
      const got = kx.i8(q, M * Kp);
      for (let m = 0; m < M; m++) {
        expect([...got.subarray(m * Kp, m * Kp + K)]).toEqual([...ref.q.subarray(m * K, m * K + K)]);
        expect([...got.subarray(m * Kp + K, (m + 1) * Kp)].every((v) => v === 0)).toBe(true);
      }
      expect([...kx.f32(s, M)]).toEqual([...ref.scales]);
    });
  }

  it("gives an all-zero row scale 0 and zero values", () => {
    const { kx, Kp, q, s } = quantize(1, 20, new Float32Array(20));
    expect([...kx.i8(q, Kp)].every((v) => v === 0)).toBe(true);
    expect(kx.f32(s, 1)[0]).toBe(0);
  });
});

describe("qs8_gemm_wasmsimd_2x4", () => {
  function run(M: number, K: number, N: number, lo = -Infinity, hi = Infinity) {
    const A = uniform(M * K, M * 7 + K, 2);
    const W = integers(K * N, N * 13 + K, -127, 127);
    const ws = uniform(N, N + 5, 0.05).map(Math.abs);
    const bias = uniform(N, N + 9, 1);
    const { kx, Kp, q, s } = quantize(M, K, A);
    const packed = packQs8(weightMatrix(W, K, N, "kn"));
    const w = kx.put(packed.data);
    const wsp = kx.put(padded(ws, packed.Np));
    const bp = kx.put(padded(bias, packed.Np));
    const c = kx.alloc(M * N * 4);
    kx.k.qs8_gemm_wasmsimd_2x4(M, Kp, N, q, s, w, wsp, bp, c, N, lo, hi);
    const ref = refQuantizeRows(M, K, A);
    const acc = refQs8Dot(M, K, N, ref.q, W);
    return {
      got: kx.f32(c, M * N).slice(),
      want: refQs8Epilogue(M, N, acc, ref.scales, ws, bias, lo, hi),
    };
  }

  for (const M of tileSizes(2)) {
    for (const N of tileSizes(4)) {
      it(`is bit-exact at M=${M}, N=${N}, K in {1, 15, 16, 17, 48}`, () => {
        for (const K of [1, 15, 16, 17, 48]) {
          const r = run(M, K, N);
          expect([...r.got], `float K=${K}`).toEqual([...r.want]);
        }
      });
    }
  }

  it("is bit-exact with a clamp at a large shape (M=33, K=1000, N=70)", () => {
    const r = run(33, 1000, 70, 0, 3);
    expect([...r.got]).toEqual([...r.want]);
  });
});
