// The fast load paths (weights read from flat arrays with strides) pinned to the generic ones (each element through
// view.index / WeightMatrix.at): for every weight form and layout the engine packs, the same kernel and byte for byte
// the same kernel memory; for each packer, the same packed arrays.
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { createLinear, type WeightView } from "@worker/serve/engine/linear";
import type { Epilogue } from "@worker/serve/engine/op";
import type { Constant, QuantizedForm } from "@worker/serve/engine/values";
import {
  binaryScales, packBinary, packBlockSparse1x16, packCsr, packF32Panels, packQs4, packQs8, sparsityOf, stridedMatrix,
  type StridedWeight,
} from "@worker/serve/wasm/packing";
import type { KernelInstance } from "@worker/serve/wasm/runtime";
import { runKernels } from "@test/support/engine";
import { integers, kernelInstance, uniform } from "@test/support/kernels";

interface Layout {
  name: string;
  dims: number[];
  strides: { offset: number; kStride: number; nStride: number };
}

/** MatMul's [K, N], Gemm transB's [N, K], and the second of two groups of a Conv [2N, C, 3, 3] (K = 9C). */
function layouts(K: number, N: number): Layout[] {
  const out: Layout[] = [
    { name: "MatMul [K, N]", dims: [K, N], strides: { offset: 0, kStride: N, nStride: 1 } },
    { name: "Gemm transB [N, K]", dims: [N, K], strides: { offset: 0, kStride: 1, nStride: K } },
  ];
  if (K % 9 === 0) out.push({ name: "Conv group 2 of 2", dims: [2 * N, K / 9, 3, 3], strides: { offset: N * K, kStride: 1, nStride: K } });
  return out;
}

const viewOf = (K: number, N: number, l: Layout, strided: boolean): WeightView => {
  const { offset, kStride, nStride } = l.strides;
  const index = (k: number, n: number) => offset + k * kStride + n * nStride;
  return strided ? { K, N, index, strides: l.strides } : { K, N, index };
};

/** The kernel instance's memory from its heap base to its allocator mark: everything a load packed. */
function packedMemory(kx: KernelInstance): Uint8Array {
  const base = kx.k.heap_base();
  return kx.u8(base, kx.mark() - base).slice();
}

/** Loads one layer both ways and returns the kernel each chose and both memories. */
function bothWays(c: Constant, K: number, N: number, l: Layout, ep: Epilogue) {
  const fast = kernelInstance();
  const generic = kernelInstance();
  const a = createLinear(fast, c, viewOf(K, N, l, true), ep);
  const b = createLinear(generic, c, viewOf(K, N, l, false), ep);
  return { fast: { kernel: a.kernel, bytes: a.bytes, memory: packedMemory(fast) }, generic: { kernel: b.kernel, bytes: b.bytes, memory: packedMemory(generic) } };
}

const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** Scale index of flat element f, written out from the ONNX definition (per tensor, per axis, blocked along axis). */
function scaleIndexOf(form: Omit<QuantizedForm, "q" | "bits">, dims: number[], f: number): number {
  if (form.scale.length === 1) return 0;
  const inner = size(dims.slice(form.axis + 1));
  const sizeAt = dims[form.axis]!;
  const a = Math.floor(f / inner) % sizeAt;
  if (form.blockSize <= 0) return a;
  const outer = Math.floor(f / (inner * sizeAt));
  return (outer * Math.ceil(sizeAt / form.blockSize) + Math.floor(a / form.blockSize)) * inner + (f % inner);
}

/** A DequantizeLinear'd constant: levels, scales and the float values they stand for. */
function quantized(dims: number[], bits: 8 | 4 | 2, q: Int8Array, axis: number, blockSize: number, scale: Float32Array): Constant {
  const form = { q, bits, scale, axis, blockSize };
  const data = Float32Array.from(q, (v, f) => v * scale[scaleIndexOf(form, dims, f)]!);
  return { dims, dtype: DT.FLOAT, data, quant: form };
}

/**
 * Positive scales along `axis` (-1: one scale), per index or in blocks of `block`; `share` consecutive blocks along
 * the axis get the same scale (1 << 20: one scale per channel along the whole axis).
 */
function scalesFor(dims: number[], axis: number, block: number, seed: number, share = 1): Float32Array {
  if (axis < 0) return Float32Array.of(0.05);
  const shape = block > 0 ? dims.map((d, i) => (i === axis ? Math.ceil(d / block) : d)) : [dims[axis]!];
  const ax = block > 0 ? axis : 0;
  const u = uniform(size(shape), seed, 1);
  return Float32Array.from({ length: size(shape) }, (_, i) => {
    const coords: number[] = [];
    for (let d = shape.length - 1, r = i; d >= 0; d--, r = Math.floor(r / shape[d + 1]!)) coords[d] = r % shape[d]!;
    coords[ax] = Math.floor(coords[ax]! / share) * share;
    const j = coords.reduce((acc, c, d) => acc * shape[d]! + c, 0);
    return 0.01 + Math.abs(u[j]!) * 0.1;
  });
}

const plainEp = (N: number): Epilogue => ({ scale: null, bias: uniform(N, 9, 0.5), lo: -Infinity, hi: Infinity });
const scaledEp = (N: number): Epilogue => ({ scale: uniform(N, 10, 2), bias: uniform(N, 11, 0.5), lo: 0, hi: Infinity });

interface QuantCase {
  name: string;
  bits: 8 | 4 | 2;
  levels: [number, number] | "signs";
  /** Scale layout per layout: axis and block (per tensor: axis -1). */
  scale: (l: Layout) => { axis: number; block: number; share?: number };
  kernel: string;
}

// Along K: axis 0 of [K, N], axis 1 of [N, K] and of the Conv weight (blocks of C there: not along K, generic path).
const kAxis = (l: Layout) => (l.name.startsWith("MatMul") ? 0 : 1);
const nAxis = (l: Layout) => (l.name.startsWith("MatMul") ? 1 : 0);

const QUANT_CASES: QuantCase[] = [
  { name: "int8 per channel", bits: 8, levels: [-127, 127], scale: (l) => ({ axis: nAxis(l), block: 0 }), kernel: "qs8" },
  { name: "int8 per tensor", bits: 8, levels: [-127, 127], scale: () => ({ axis: -1, block: 0 }), kernel: "qs8" },
  { name: "int8 with a -128 level (float kernel)", bits: 8, levels: [-128, 127], scale: (l) => ({ axis: nAxis(l), block: 0 }), kernel: "f32" },
  { name: "int8 in blocks of 16 (float kernel)", bits: 8, levels: [-127, 127], scale: (l) => ({ axis: kAxis(l), block: 16 }), kernel: "f32" },
  { name: "int8 in blocks of 16, equal along each channel", bits: 8, levels: [-127, 127], scale: (l) => ({ axis: kAxis(l), block: 16, share: 1 << 20 }), kernel: "qs8" },
  { name: "int8 in blocks of 8 along N (float kernel)", bits: 8, levels: [-127, 127], scale: (l) => ({ axis: nAxis(l), block: 8 }), kernel: "f32" },
  { name: "int4 in blocks of 32", bits: 4, levels: [-8, 7], scale: (l) => ({ axis: kAxis(l), block: 32 }), kernel: "qs4" },
  { name: "int4 in blocks of 16, pairs equal", bits: 4, levels: [-8, 7], scale: (l) => ({ axis: kAxis(l), block: 16, share: 2 }), kernel: "qs4" },
  { name: "int4 per channel", bits: 4, levels: [-8, 7], scale: (l) => ({ axis: nAxis(l), block: 0 }), kernel: "qs4" },
  { name: "uint4 less zero points (float kernel)", bits: 4, levels: [-15, 15], scale: (l) => ({ axis: kAxis(l), block: 32 }), kernel: "f32" },
  { name: "2-bit per channel", bits: 2, levels: [-2, 1], scale: (l) => ({ axis: nAxis(l), block: 0 }), kernel: "qs8" },
  { name: "2-bit in blocks of 32", bits: 2, levels: [-2, 1], scale: (l) => ({ axis: kAxis(l), block: 32 }), kernel: "qs4" },
  { name: "1-bit signs per channel", bits: 2, levels: "signs", scale: (l) => ({ axis: nAxis(l), block: 0 }), kernel: "qs8" },
];

// K below, at and past a block of 32 and not a multiple of it (45 = 5 x 3 x 3 for the Conv); N not a multiple of 4, 8 or 16.
const SIZES: [number, number][] = [[45, 19], [70, 13], [32, 37]];

describe("quantized weights load the same on the fast and the generic path", () => {
  for (const c of QUANT_CASES) {
    for (const [K, N] of SIZES) {
      for (const l of layouts(K, N)) {
        const { axis, block, share } = c.scale(l);
        // Conv blocks lie along C, so their scales change with kh, kw inside a block: no integer kernel (generic path).
        // A single block of 32 (K = 32) is one scale per channel: 2-bit levels go to the int8 kernel then.
        const conv = l.name.startsWith("Conv");
        const expected = conv && block > 0 && axis === 1 ? "f32" : c.bits === 2 && block === 32 && K <= 32 ? "qs8" : c.kernel;
        it(`packs ${c.name} as ${l.name}, K=${K} N=${N}, on ${expected} identically`, () => {
          const n = size(l.dims);
          const q = c.levels === "signs" ? Int8Array.from(integers(n, K * N, 0, 1), (v) => (v ? 1 : -1)) : integers(n, K + N, c.levels[0], c.levels[1]);
          if (c.levels !== "signs") q[l.strides.offset] = c.levels[0]; // the lowest level occurs in the layer
          const constant = quantized(l.dims, c.bits, q, axis, block, scalesFor(l.dims, axis, block, K * 7 + N, share));
          for (const ep of [plainEp(N), scaledEp(N)]) {
            const { fast, generic } = bothWays(constant, K, N, l, ep);
            expect(generic.kernel).toBe(expected);
            expect(fast.kernel).toBe(generic.kernel);
            expect(fast.bytes).toBe(generic.bytes);
            expect(fast.memory).toEqual(generic.memory);
          }
        });
      }
    }
  }
});

/** Float weights in the forms the float kernels take: dense, +-scale per channel, 1x16 blocks zeroed, elements zeroed. */
function floatWeight(form: string, l: Layout, K: number, N: number, seed: number): Float32Array {
  const { offset, kStride, nStride } = l.strides;
  const data = uniform(size(l.dims), seed, 1);
  const scales = uniform(N, seed + 2, 1);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const i = offset + k * kStride + n * nStride;
      if (form === "binary") data[i] = data[i]! > 0 ? Math.abs(scales[n]!) : -Math.abs(scales[n]!);
      if (form === "block-sparse" && uniform(1, 1 + k * 1000 + (n >> 4), 1)[0]! < 0.7) data[i] = 0;
      if (form === "element-sparse" && (7 * k + 3 * n) % 11 !== 0) data[i] = 0; // 10/11 zeros, in every 1x16 block
    }
  return data;
}

const FLOAT_CASES: { form: string; kernel: string }[] = [
  { form: "dense", kernel: "f32" },
  { form: "binary", kernel: "qs8" },
  { form: "block-sparse", kernel: "bsr1x16" },
  { form: "element-sparse", kernel: "csr" },
];

describe("float weights load the same on the fast and the generic path", () => {
  for (const c of FLOAT_CASES) {
    for (const [K, N] of [[45, 37], [72, 50]] as [number, number][]) {
      for (const l of layouts(K, N)) {
        it(`packs a ${c.form} weight as ${l.name}, K=${K} N=${N}, on ${c.kernel} identically`, () => {
          const constant: Constant = { dims: l.dims, dtype: DT.FLOAT, data: floatWeight(c.form, l, K, N, K + N) };
          // A per-channel epilogue scale keeps the binary form binary only when it is one magnitude: use a constant one.
          const eps = [plainEp(N), { ...scaledEp(N), scale: c.form === "binary" ? new Float32Array(N).fill(0.5) : scaledEp(N).scale }];
          for (const ep of eps) {
            const { fast, generic } = bothWays(constant, K, N, l, ep);
            expect(generic.kernel).toBe(c.kernel);
            expect(fast.kernel).toBe(generic.kernel);
            expect(fast.bytes).toBe(generic.bytes);
            expect(fast.memory).toEqual(generic.memory);
          }
        });
      }
    }
  }
});

describe("each packer gives the same arrays for a strided weight as through at()", () => {
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  for (const [K, N] of [[1, 1], [45, 19], [70, 130], [128, 4]] as [number, number][]) {
    for (const l of layouts(K, N)) {
      it(`packs a [${l.dims}] ${l.name} weight with K=${K} N=${N}`, () => {
        const n = size(l.dims);
        const dense: StridedWeight = { K, N, data: uniform(n, 3, 1).map((v) => (v > 0.6 || v < -0.6 ? v : 0)), ...l.strides, colScale: uniform(N, 4, 2) };
        const levels: StridedWeight = { K, N, data: integers(n, 5, -8, 7), ...l.strides, colScale: null };
        const signs: StridedWeight = { ...dense, data: Float32Array.from(integers(n, 6, 0, 1), (v) => (v ? 0.25 : -0.25)), colScale: null };
        const scaleOf = (c: number, b: number) => c * 0.5 + b;
        for (const w of [dense, levels, signs]) {
          const g = stridedMatrix(w);
          expect(bytes(packF32Panels(w))).toEqual(bytes(packF32Panels(g)));
          expect(bytes(packQs8(w).data)).toEqual(bytes(packQs8(g).data));
          const [q4, q4g] = [packQs4(w, scaleOf), packQs4(g, scaleOf)];
          expect(bytes(q4.data)).toEqual(bytes(q4g.data));
          expect(bytes(q4.scalesT)).toEqual(bytes(q4g.scalesT));
          expect(bytes(packBinary(w).bits)).toEqual(bytes(packBinary(g).bits));
          const [bs, bsg] = [binaryScales(w), binaryScales(g)];
          expect(bs && bytes(bs)).toEqual(bsg && bytes(bsg));
          for (const [p, pg] of [[packBlockSparse1x16(w), packBlockSparse1x16(g)], [packCsr(w), packCsr(g)]] as const) {
            expect(bytes(p.ptr)).toEqual(bytes(pg.ptr));
            expect(bytes(p.kidx)).toEqual(bytes(pg.kidx));
            expect(bytes(p.vals)).toEqual(bytes(pg.vals));
          }
          expect(sparsityOf(w)).toEqual(sparsityOf(g));
        }
        expect(binaryScales(signs)).not.toBeNull();
      });
    }
  }
});

describe("DequantizeLinear with zero points gives the weights the ONNX definition gives", () => {
  const [B, K, N] = [3, 45, 19];
  const cases: { name: string; axis: number; block: number; zpScalar: boolean; fits: boolean }[] = [
    { name: "per channel, levels within int8 (kept quantized, float kernel)", axis: 1, block: 0, zpScalar: false, fits: true },
    { name: "in blocks of 16 along K (kept quantized, float kernel)", axis: 0, block: 16, zpScalar: false, fits: true },
    { name: "per channel, levels past int8 (dequantized at load)", axis: 1, block: 0, zpScalar: false, fits: false },
    { name: "per tensor with one zero point", axis: 1, block: 0, zpScalar: true, fits: false },
  ];
  for (const c of cases) {
    it(`runs a uint8 MatMul weight ${c.name} exactly as the same weights in float32`, async () => {
      const q = Uint8Array.from(integers(K * N, 21, -128, 127), (v) => v + 128);
      q[0] = 0;
      const scaleShape = c.zpScalar ? [] : c.block > 0 ? [Math.ceil(K / c.block), N] : [N];
      const count = size(scaleShape);
      const scale = Float32Array.from(uniform(count, 22, 1), (v) => 0.01 + Math.abs(v) * 0.1);
      const zp = c.fits ? new Uint8Array(count).fill(128) : Uint8Array.from(integers(count, 23, -128, 127), (v) => v + 128);
      const form = { scale, axis: c.zpScalar ? -1 : c.axis, blockSize: c.block };
      const w = Float32Array.from(q, (v, f) => (v - zp[scaleIndexOf(form, [K, N], f)]!) * scale[scaleIndexOf(form, [K, N], f)]!);
      const io = [makeValueInfo("input", DT.FLOAT, ["B", K])];
      const out = [makeValueInfo("logits", DT.FLOAT, ["B", N])];
      const dq = makeNode("DequantizeLinear", ["w_q", "w_s", "w_zp"], ["w"], "dq", c.zpScalar ? {} : { axis: c.axis, ...(c.block ? { block_size: c.block } : {}) });
      const quantizedModel = makeModel(
        makeGraph([dq, makeNode("MatMul", ["input", "w"], ["logits"], "mm")], "dq", io, out, [
          makeTensor("w_q", DT.UINT8, [K, N], q), makeTensor("w_s", DT.FLOAT, scaleShape, scale), makeTensor("w_zp", DT.UINT8, scaleShape, zp),
        ]),
        { "": 21 },
      );
      const floatModel = makeModel(makeGraph([makeNode("MatMul", ["input", "w"], ["logits"], "mm")], "f", io, out, [makeTensor("w", DT.FLOAT, [K, N], w)]), { "": 21 });
      const feeds = { input: { dims: [B, K], data: uniform(B * K, 24, 1) } };
      const a = await runKernels(encodeModel(quantizedModel), feeds);
      const b = await runKernels(encodeModel(floatModel), feeds);
      expect(Object.values(a.session.kernels)).toEqual(["f32"]);
      expect(new Uint8Array(a.outputs.logits!.data.buffer)).toEqual(new Uint8Array(b.outputs.logits!.data.buffer));
    });
  }
});
