// The relaxed-SIMD build, run where it is served: in workerd (Node 20's baseline tier computes a relaxed op wrongly).
import { describe, expect, it } from "vitest";
import { refExpActivation, refGeluErf, refLogSoftmaxRows, refSoftmaxRows, refSwish } from "@kernels/reference/f32_activation";
import { dwOutputSize, packPointwise, refDwConv2d, refPointwise } from "@kernels/reference/f32_dwconv";
import { refF32Gemm } from "@kernels/reference/f32_gemm";
import { refLut4Gemm } from "@kernels/reference/lut4_gemm";
import { refPqGemm } from "@kernels/reference/pq_gemm";
import { refQs4Gemm } from "@kernels/reference/qs4_gemm";
import { refQu7Gemm, refQuantizeRows, refQuantizeRowsU7 } from "@kernels/reference/qs8_gemm";
import { refQu7Pointwise } from "@kernels/reference/qs8_pointwise";
import { qu7Case, qu7Pointwise } from "@test/support/qu7";
import { KernelInstance } from "@worker/serve/wasm/runtime";
import { createKernelSession } from "@worker/serve/engine";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { kernelModule, kernelModules, relaxedSimdSupported } from "@worker/serve/wasm/builds";
import { packBlockSparse1x16, packF32Panels, packLut4, packPq, packQs4, padded, qs4Offsets, roundUp, weightMatrix } from "@worker/serve/wasm/packing";
import { asymmetricLevels, integers, relError, tileSizes, uniform } from "@test/support/numbers";

const relaxed = () => new KernelInstance(kernelModules.relaxed);

describe("relaxed-SIMD kernels in workerd", () => {
  it("are the build workerd serves (feature detection finds relaxed SIMD)", () => {
    expect(relaxedSimdSupported()).toBe(true);
    expect(kernelModule()).toBe(kernelModules.relaxed);
    expect(relaxed().relaxed).toBe(true);
    expect(new KernelInstance(kernelModules.plain).relaxed).toBe(false);
  });

  for (const M of tileSizes(4)) {
    it(`f32 GEMM with fused multiply-add matches the reference within 1e-5 at M=${M}, N around 8`, () => {
      for (const N of tileSizes(8)) {
        const K = 37;
        const A = uniform(M * K, M + K, 1);
        const B = uniform(K * N, N, 1);
        const bias = uniform(N, N + 1, 1);
        const kx = relaxed();
        const c = kx.alloc(M * N * 4);
        kx.k.f32_gemm_wasmsimd_4x8(M, K, N, kx.put(A), K, kx.put(packF32Panels(weightMatrix(B, K, N, "kn"))), kx.put(padded(bias, roundUp(N, 8))), c, N, -Infinity, Infinity);
        expect(relError(kx.f32(c, M * N), refF32Gemm(M, K, N, A, B, bias)), `N=${N}`).toBeLessThan(1e-5);
      }
    });
  }

  it("depthwise 3x3/5x5 at strides 1 and 2 and the pointwise 4x8 tile with fused multiply-add match the references within 1e-5", () => {
    for (const k of [3, 5]) {
      for (const stride of [1, 2]) {
        for (const W of [5, 8, 13]) {
          const pad = (k - 1) >> 1;
          const s = { C: 3, H: k + 4, W: W + 2, kh: k, kw: k, sh: stride, sw: stride, pt: pad, pl: pad, pb: pad, pr: pad, dh: 1, dw: 1 };
          const { OH, OW } = dwOutputSize(s);
          const X = uniform(s.C * s.H * s.W, W + k, 1);
          const Wt = uniform(s.C * k * k, k, 1);
          const bias = uniform(s.C, 7, 1);
          const kx = relaxed();
          const PH = (OH - 1) * stride + k;
          const PW = (OW - 1) * stride + k;
          const y = kx.alloc(s.C * OH * OW * 4);
          kx.k.f32_dwconv2d(kx.put(X), s.C, s.H, s.W, kx.put(Wt), k, k, stride, stride, pad, pad, 1, 1, OH, OW, kx.put(bias), -Infinity, Infinity, kx.alloc((PH * PW + 8) * 4), y);
          expect(relError(kx.f32(y, s.C * OH * OW), refDwConv2d(X, Wt, bias, s, -Infinity, Infinity)), `${k} ${stride} ${W}`).toBeLessThan(1e-5);
        }
      }
    }
    for (const [M, K, P] of [[5, 17, 13], [8, 40, 70]] as const) {
      const X = uniform(K * P, K, 1);
      const Wd = uniform(M * K, M, 1);
      const bias = uniform(M, 3, 1);
      const kx = relaxed();
      const y = kx.alloc(M * P * 4);
      kx.k.f32_pointwise_4x8(M, K, P, kx.put(X), kx.put(packPointwise(Wd, M, K)), kx.put(bias), 0, Infinity, y);
      expect(relError(kx.f32(y, M * P), refPointwise(M, K, P, X, Wd, bias, 0, Infinity)), `M=${M} K=${K} P=${P}`).toBeLessThan(1e-5);
    }
  });

  it("the u7 1x1 convolution on the relaxed dot matches the reference bit for bit (M, K, P around its tiles)", () => {
    for (const [M, K, P] of [[1, 1, 1], [5, 3, 9], [4, 17, 64], [7, 40, 65]] as const) {
      for (const nonNegative of [false, true]) {
        const X = uniform(K * P, M + K + P, 2).map((v) => (nonNegative ? Math.abs(v) : v));
        const W = integers(M * K, M * 3 + K, -127, 127);
        const ws = uniform(M, M + 1, 0.02).map((v) => Math.abs(v) + 1e-3);
        const bias = uniform(M, M + 2, 1);
        expect(Array.from(qu7Pointwise(relaxed(), M, K, P, X, W, ws, bias)), `M=${M} K=${K} P=${P}`).toEqual(Array.from(refQu7Pointwise(M, K, P, X, W, ws, bias)));
      }
    }
  });

  it("serves an int8 1x1 Conv (+ Relu) on the u7 pointwise kernel in the engine, within 2% of the float convolution", async () => {
    const [B, C, M, H, W] = [2, 24, 20, 6, 7];
    const P = H * W;
    const levels = integers(M * C, 5, -127, 127);
    const scales = uniform(M, 6, 0.02).map((v) => Math.abs(v) + 0.005);
    const bias = uniform(M, 7, 0.5);
    const graph = makeGraph(
      [makeNode("DequantizeLinear", ["q", "s"], ["w"], "dq", { axis: 0 }), makeNode("Conv", ["x", "w", "b"], ["c"], "pw", { kernel_shape: [1, 1] }), makeNode("Relu", ["c"], ["y"], "relu")],
      "pw-u7",
      [makeValueInfo("x", DT.FLOAT, [B, C, H, W])],
      [makeValueInfo("y", DT.FLOAT, [B, M, H, W])],
      [makeTensor("q", DT.INT8, [M, C, 1, 1], levels), makeTensor("s", DT.FLOAT, [M], scales), makeTensor("b", DT.FLOAT, [M], bias)],
    );
    const loaded = createKernelSession(makeModel(graph), kernelModules.relaxed);
    expect(loaded.session, loaded.reason ?? "").not.toBeNull();
    expect(Object.values(loaded.session!.kernels)).toEqual(["qu7-pointwise"]);
    const X = uniform(B * C * P, 8, 2);
    const out = await loaded.session!.run({ x: { type: "float32", dims: [B, C, H, W], data: X } } as never);
    const got = out.y!.data as Float32Array;
    const weights = Float32Array.from(levels, (v, i) => v * scales[Math.floor(i / C)]!);
    for (let b = 0; b < B; b++) {
      const want = refPointwise(M, C, P, X.subarray(b * C * P, (b + 1) * C * P), weights, bias, 0, Infinity);
      expect(relError(got.subarray(b * M * P, (b + 1) * M * P), want), `image ${b}`).toBeLessThan(0.02);
    }
  });

  it("serves convolutions on QDQ inputs (a padded 3x3 at stride 1, a 1x1) on the int8 pairs kernel, as the plain build does, bit for bit", async () => {
    const [B, C, M, H, W] = [2, 20, 12, 7, 9];
    const graph = makeGraph(
      [
        makeNode("QuantizeLinear", ["x", "xs", "xz"], ["xq"], "q"),
        makeNode("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], "dqx"),
        makeNode("DequantizeLinear", ["w3q", "w3s"], ["w3"], "dq3", { axis: 0 }),
        makeNode("Conv", ["xd", "w3", "b"], ["y"], "conv3", { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
        makeNode("DequantizeLinear", ["w1q", "w1s"], ["w1"], "dq1", { axis: 0 }),
        makeNode("Conv", ["xd", "w1"], ["z"], "conv1", { kernel_shape: [1, 1] }),
      ],
      "qdq-conv",
      [makeValueInfo("x", DT.FLOAT, [B, C, H, W])],
      [makeValueInfo("y", DT.FLOAT, [B, M, H, W]), makeValueInfo("z", DT.FLOAT, [B, M, H, W])],
      [
        makeTensor("xs", DT.FLOAT, [], Float32Array.of(0.02)),
        makeTensor("xz", DT.UINT8, [], Uint8Array.of(100)),
        makeTensor("w3q", DT.INT8, [M, C, 3, 3], integers(M * C * 9, 5, -127, 127)),
        makeTensor("w3s", DT.FLOAT, [M], uniform(M, 6, 0.002).map((v) => Math.abs(v) + 0.001)),
        makeTensor("w1q", DT.INT8, [M, C, 1, 1], integers(M * C, 7, -127, 127)),
        makeTensor("w1s", DT.FLOAT, [M], uniform(M, 8, 0.002).map((v) => Math.abs(v) + 0.001)),
        makeTensor("b", DT.FLOAT, [M], uniform(M, 9, 0.5)),
      ],
    );
    const X = uniform(B * C * H * W, 10, 3);
    const outputs = [];
    for (const module of [kernelModules.relaxed, kernelModules.plain]) {
      const loaded = createKernelSession(makeModel(graph), module);
      expect(loaded.session, loaded.reason ?? "").not.toBeNull();
      expect([loaded.session!.kernels.conv3, loaded.session!.kernels.conv1]).toEqual(["qs8-grid-pointwise", "qs8-grid-pointwise"]);
      const out = await loaded.session!.run({ x: { type: "float32", dims: [B, C, H, W], data: X } } as never);
      outputs.push([...(out.y!.data as Float32Array), ...(out.z!.data as Float32Array)]);
    }
    expect(outputs[0]).toEqual(outputs[1]);
    expect(outputs[0]!.some((v) => v !== 0)).toBe(true);
  });

  it("softmax and log-softmax rows, GELU, SiLU and the exp-based activations with fused multiply-add in their polynomials match float64 within 1e-6", () => {
    for (const len of [3, 4, 9, 128]) {
      const X = uniform(2 * len, len, 20);
      const kx = relaxed();
      const y = kx.alloc(X.length * 4);
      kx.k.f32_softmax_rows(2, len, kx.put(X), y);
      const want = refSoftmaxRows(X, 2, len);
      const got = kx.f32(y, X.length);
      for (let i = 0; i < X.length; i++) expect(Math.abs(got[i]! - want[i]!) / Math.max(want[i]!, 1e-30), `len ${len}`).toBeLessThan(1e-6);
      // LogSoftmax's pass: the shifted rows and their exp sums, -log added per row.
      const s = kx.alloc(8);
      kx.k.f32_shifted_exp_sums(2, len, kx.put(X), y, s);
      kx.k.f32_rows_affine(2, len, y, 0, kx.put(Float32Array.from(kx.f32(s, 2), (v) => -Math.log(v))), -Infinity, Infinity, y);
      const wantLog = refLogSoftmaxRows(X, 2, len);
      const gotLog = kx.f32(y, X.length);
      for (let i = 0; i < X.length; i++) expect(Math.abs(gotLog[i]! - wantLog[i]!) / Math.max(Math.abs(wantLog[i]!), 1), `log len ${len}`).toBeLessThan(1e-6);
    }
    const X = uniform(37, 5, 10);
    const kx = relaxed();
    const y = kx.alloc(37 * 4);
    kx.k.f32_gelu_erf(37, kx.put(X), y);
    expect(relError(kx.f32(y, 37), refGeluErf(X))).toBeLessThan(1e-6);
    kx.k.f32_swish(37, 1, kx.put(X), y);
    expect(relError(kx.f32(y, 37), refSwish(X, 1))).toBeLessThan(1e-6);
    // Elu, Selu, Celu, Softplus and Mish (exp and log polynomials with fused multiply-add).
    const wide = uniform(37, 7, 60);
    for (const [kind, alpha, beta] of [[0, 1, 0], [1, 1.6733, 1.0507], [2, 2, 0], [3, 0, 0], [4, 0, 0]] as const) {
      kx.k.f32_exp_activation(kind, 37, alpha, beta, kx.put(wide), y);
      const want = refExpActivation(kind, wide, alpha, beta);
      const got = kx.f32(y, 37);
      for (let i = 0; i < 37; i++) expect(Math.abs(got[i]! - want[i]!) / Math.max(Math.abs(want[i]!), 1), `kind ${kind}`).toBeLessThan(2e-6);
    }
  });

  it("int4 GEMM on the relaxed dot (4-row tiles) matches the reference within 1e-5 at M in {1, 3, 4, 5, 33}", () => {
    for (const K of tileSizes(32)) {
      for (const [M, N] of [[1, 9], [3, 9], [4, 5], [5, 4], [33, 7]] as const) {
        const A = uniform(M * K, K + M, 1);
        const W = integers(K * N, K + 1, -8, 7);
        const scales = uniform(Math.ceil(K / 32) * N, 3, 0.1).map((v) => Math.abs(v) + 0.01);
        const scaleOf = (n: number, b: number) => scales[b * N + n]!;
        expect(qs4RelError(M, K, N, A, W, scaleOf), `M=${M} K=${K} N=${N}`).toBeLessThan(1e-5);
      }
    }
  });

  it("int4 GEMM on an asymmetric grid's levels (-15..15, offset per block) matches the reference within 1e-5", () => {
    for (const K of tileSizes(32)) {
      for (const [M, N] of [[1, 9], [3, 9], [4, 5], [5, 4], [33, 7]] as const) {
        const A = uniform(M * K, K + M, 1);
        const W = asymmetricLevels(K, N, K + 1);
        const scales = uniform(Math.ceil(K / 32) * N, 3, 0.1).map((v) => Math.abs(v) + 0.01);
        const scaleOf = (n: number, b: number) => scales[b * N + n]!;
        expect(qs4RelError(M, K, N, A, W, scaleOf, true), `M=${M} K=${K} N=${N}`).toBeLessThan(1e-5);
      }
    }
  });

  it("int4 GEMM on the relaxed dot is exact at the extremes: weights all -8 or all 7, activations at +-127", () => {
    const [M, K, N] = [5, 96, 6];
    const A = Float32Array.from({ length: M * K }, (_, i) => (i % 3 === 0 ? -1 : 1));
    for (const v of [-8, 7]) {
      const W = new Int8Array(K * N).fill(v);
      const scaleOf = () => 0.5;
      expect(qs4RelError(M, K, N, A, W, scaleOf), `w=${v}`).toBeLessThan(1e-6);
    }
  });

  it("int8 x unsigned 7-bit GEMM on the relaxed dot is bit-exact", () => {
    for (const [M, K, N] of [[1, 16, 4], [2, 17, 5], [3, 48, 9], [5, 300, 13]] as const) {
      for (const nonNegative of [false, true]) {
        const r = qu7Case(relaxed(), M, K, N, nonNegative);
        const ref = refQuantizeRowsU7(M, K, r.A);
        expect([...r.q]).toEqual([...ref.q]);
        expect([...r.got], `M=${M} K=${K} N=${N}`).toEqual([...refQu7Gemm(M, K, N, ref.q, ref.scales, ref.zeroPoints, r.W, r.ws, r.bias)]);
      }
    }
  });

  it("codebook GEMM (lut4) with fused multiply-add matches the reference within 1e-5 around its 4x8 tile", () => {
    for (const M of [1, 3, 4, 5, 9])
      for (const [K, N] of [[1, 1], [7, 9], [33, 16], [64, 13]] as const) {
        const A = uniform(M * K, M + K, 1);
        const idx = integers(K * N, K + 2 * N, 0, 15);
        const table = uniform(16, K, 0.5);
        const packed = packLut4(weightMatrix(idx, K, N, "kn"));
        const bias = uniform(N, N + 5, 1);
        const kx = relaxed();
        const c = kx.alloc(M * N * 4);
        kx.k.lut4_gemm_wasmsimd_4x8(M, K, N, kx.put(A), K, kx.put(packed.data), kx.put(table), 0, kx.put(padded(bias, packed.Np)), c, N, -Infinity, Infinity);
        expect(relError(kx.f32(c, M * N), refLut4Gemm(M, K, N, A, idx, table, null, bias)), `${M}x${K}x${N}`).toBeLessThan(1e-5);
      }
  });

  it("product-quantized GEMM (pq) with fused multiply-add matches the reference within 1e-5 over sub-vector lengths and codebook sizes", () => {
    for (const M of [1, 4, 5])
      for (const [d, entries] of [[4, 7], [8, 64], [16, 20], [8, 256]] as const) {
        const [K, N] = [3 * d, 4 * entries];
        const A = uniform(M * K, M + K, 1);
        const book = uniform(entries * d, entries, 0.5);
        const idx = Uint16Array.from(uniform(N * 3, N + d, 1), (v) => Math.min(entries - 1, Math.floor(((v + 1) / 2) * entries)));
        const W = new Float32Array(K * N);
        for (let n = 0; n < N; n++) for (let b = 0; b < 3; b++) for (let j = 0; j < d; j++) W[(b * d + j) * N + n] = book[idx[n * 3 + b]! * d + j]!;
        const packed = packPq(weightMatrix(W, K, N, "kn"))!;
        const bias = uniform(N, N + 5, 1);
        const kx = relaxed();
        const c = kx.alloc(M * N * 4);
        kx.k.pq_gemm_wasmsimd(M, K, N, packed.d, packed.kp, kx.put(A), K, kx.put(packed.idx), kx.put(packed.bookT), 0, kx.put(bias), c, N, -Infinity, Infinity, kx.alloc(3 * packed.kp * 4));
        expect(relError(kx.f32(c, M * N), refPqGemm(M, K, N, d, A, idx, book, null, bias)), `${M}x${K}x${N} d ${d}`).toBeLessThan(1e-5);
      }
  });

  it("block-sparse GEMM with fused multiply-add matches the dense reference within 1e-5", () => {
    for (const N of tileSizes(16)) {
      const [M, K] = [5, 40];
      const W = uniform(K * N, N, 1).map((v, i) => (Math.floor(i / 16) % 3 === 0 ? v : 0));
      const A = uniform(M * K, M, 1);
      const kx = relaxed();
      const p = packBlockSparse1x16(weightMatrix(W, K, N, "kn"));
      const c = kx.alloc(M * N * 4);
      kx.k.f32_bsr1x16_gemm_wasmsimd_2x16(M, N, kx.put(A), K, kx.put(p.ptr), kx.put(p.kidx), kx.put(p.vals), 0, c, N, -Infinity, Infinity);
      expect(relError(kx.f32(c, M * N), refF32Gemm(M, K, N, A, W, null)), `N=${N}`).toBeLessThan(1e-5);
    }
  });
});

/** The relaxed int4 GEMM (row quantization, block sums, rx4 kernel) against the scalar reference: max relative error. */
function qs4RelError(M: number, K: number, N: number, A: Float32Array, W: Int8Array, scaleOf: (n: number, b: number) => number, asymmetric = false): number {
  const kx = relaxed();
  const offsets = asymmetric ? qs4Offsets(weightMatrix(W, K, N, "kn")) : undefined;
  if (offsets === null) throw new Error("levels span more than 16 integers in a block");
  const p = packQs4(weightMatrix(W, K, N, "kn"), scaleOf, offsets);
  const q = kx.alloc(M * p.Kp);
  const s = kx.alloc(M * 4);
  const sums = kx.alloc((M * p.Kp) / 8);
  kx.k.qs4_quantize_rows(M, K, p.Kp, kx.put(A), K, q, s, sums);
  const c = kx.alloc(M * N * 4);
  if (offsets) kx.k.qs4z_gemm_wasmsimd_rx4(M, p.Kp, N, q, s, sums, kx.put(p.data), kx.put(p.scalesT), kx.put(offsets), p.Np, 0, c, N, -Infinity, Infinity);
  else kx.k.qs4_gemm_wasmsimd_rx4(M, p.Kp, N, q, s, sums, kx.put(p.data), kx.put(p.scalesT), p.Np, 0, c, N, -Infinity, Infinity);
  const ref = refQuantizeRows(M, K, A);
  return relError(kx.f32(c, M * N), refQs4Gemm(M, K, N, ref.q, ref.scales, W, scaleOf, null));
}
