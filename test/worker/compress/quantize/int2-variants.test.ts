// 2-bit (ternary) and 1-bit variants as onnxruntime-node runs them, against a plain reference: the INT2 weights
// unpacked here from the spec's bit layout, multiplied by their scales (per axis or per block), put back as float
// weights, and the same graph run again. The INT2 DequantizeLinear must compute exactly that (within 1e-5).
import { describe, expect, it } from "vitest";
import { Int2OpsetError, quantizeModel, type QuantizeOptions } from "@worker/compress/quantize";
import { quantizeByRecipe } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { defaultOpset } from "@worker/onnx/validate";
import type { ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { buildCnn, buildMlp, buildUnliftableMlp, randomInput } from "@test/support/models";
import { maxRelDiff, runReference } from "@test/support/engine";

const attr = (n: NodeProto, name: string, fallback: number) => {
  const a = n.attribute.find((x) => x.name === name);
  return a ? Number(a.i) : fallback;
};

/** Spec unpacking: field j of byte i holds element 4i+j, two's complement in two bits. */
function levelsOf(t: TensorProto): number[] {
  const count = t.dims.map(Number).reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, (_, i) => {
    const v = (t.rawData[i >> 2]! >> (2 * (i % 4))) & 3;
    return v >= 2 ? v - 4 : v;
  });
}

/** The variant with every INT2 DequantizeLinear replaced by the float weight it stands for, computed plainly. */
function dequantizedPlainly(model: ModelProto): { model: ModelProto; levels: number[][] } {
  const g = model.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const levels: number[][] = [];
  const floats: TensorProto[] = [];
  const keep: NodeProto[] = [];
  for (const n of g.node) {
    const q = inits.get(n.input[0] ?? "");
    if (n.opType !== "DequantizeLinear" || q?.dataType !== DT.INT2) {
      keep.push(n);
      continue;
    }
    const dims = q.dims.map(Number);
    const scaleT = inits.get(n.input[1]!)!;
    const scales = new Float32Array(scaleT.rawData.slice().buffer);
    const axis = attr(n, "axis", 1);
    const block = attr(n, "block_size", 0);
    const l = levelsOf(q);
    levels.push(l);
    const stride = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const w = new Float32Array(l.length);
    for (let i = 0; i < l.length; i++) {
      const a = Math.floor(i / stride) % dims[axis]!;
      let s: number;
      if (block === 0) s = scales[a]!;
      else {
        // Blocked scale tensor: the weight's dims with dims[axis] replaced by ceil(dims[axis] / block).
        const outer = Math.floor(i / (stride * dims[axis]!));
        const blocks = Math.ceil(dims[axis]! / block);
        s = scales[(outer * blocks + Math.floor(a / block)) * stride + (i % stride)]!;
      }
      w[i] = l[i]! * s;
    }
    floats.push(makeTensor(n.output[0]!, DT.FLOAT, dims, w));
  }
  const used = new Set(keep.flatMap((n) => n.input));
  const graph = { ...g, node: keep, initializer: [...g.initializer.filter((t) => used.has(t.name)), ...floats] };
  return { model: { ...model, graph }, levels };
}

const cases: { name: string; bytes: () => Uint8Array; options: QuantizeOptions; shape: number[]; values: number[]; dq: number[][] }[] = [
  { name: "2-bit MLP, blocks of 32", bytes: () => buildMlp([64, 96, 50, 10], 4), options: { bits: 2, block: 32 }, shape: [64], values: [-1, 0, 1], dq: [[0, 32], [0, 32], [1, 32]] },
  { name: "2-bit MLP, per channel", bytes: () => buildMlp([64, 96, 50, 10], 4), options: { bits: 2, block: 0 }, shape: [64], values: [-1, 0, 1], dq: [[1, 0], [1, 0], [0, 0]] },
  // The CNN's head is a MatMul with 16 inputs: one block of 16 (block_size is capped at the input length).
  { name: "2-bit CNN (Conv per output channel)", bytes: () => buildCnn(5), options: { bits: 2, block: 32 }, shape: [1, 12, 12], values: [-1, 0, 1], dq: [[0, 0], [0, 0], [0, 16]] },
  // INT2's four levels (string order, as the check sorts them); some scales negative.
  { name: "2-bit MLP on INT2's grid, blocks of 32", bytes: () => buildMlp([64, 96, 50, 10], 4), options: { bits: 2, block: 32, grid: "int2" }, shape: [64], values: [-1, -2, 0, 1], dq: [[0, 32], [0, 32], [1, 32]] },
  { name: "2-bit CNN on INT2's grid (Conv per output channel)", bytes: () => buildCnn(5), options: { bits: 2, block: 32, grid: "int2" }, shape: [1, 12, 12], values: [-1, -2, 0, 1], dq: [[0, 0], [0, 0], [0, 16]] },
  { name: "1-bit MLP", bytes: () => buildMlp([64, 96, 50, 10], 4), options: { bits: 1 }, shape: [64], values: [-1, 1], dq: [[1, 0], [1, 0], [0, 0]] },
  { name: "1-bit CNN", bytes: () => buildCnn(5), options: { bits: 1 }, shape: [1, 12, 12], values: [-1, 1], dq: [[0, 0], [0, 0], [1, 0]] },
];

describe("INT2 variants in onnxruntime-node", () => {
  for (const c of cases) {
    it(`${c.name}: levels in {${c.values.join(", ")}}, opset 25, outputs within 1e-5 of dequantize-then-matmul`, async () => {
      const variant = quantizeModel(decodeModel(c.bytes()), c.options).model;
      expect(defaultOpset(variant)).toBe(25);
      const dq = variant.graph!.node.filter((n) => n.opType === "DequantizeLinear");
      expect(dq.map((n) => [attr(n, "axis", 1), attr(n, "block_size", 0)])).toEqual(c.dq);
      const plain = dequantizedPlainly(variant);
      expect(plain.levels).toHaveLength(3);
      for (const l of plain.levels) expect([...new Set(l)].sort()).toEqual(c.values);
      const dims = [3, ...c.shape];
      const feeds = { input: { dims, data: Float32Array.from(randomInput(dims.reduce((a, b) => a * b, 1), 11)) } };
      const [got, want] = await Promise.all([runReference(encodeModel(variant), feeds), runReference(encodeModel(plain.model), feeds)]);
      expect(got.logits!.dims).toEqual([3, 10]);
      expect(maxRelDiff(got.logits!.data, want.logits!.data)).toBeLessThan(1e-5);
    });
  }

  it("refuses 2 bits on a model that cannot be lifted, with the reason, and keeps 1 bit's float form there", () => {
    const unliftable = () => decodeModel(buildUnliftableMlp([32, 16, 4], 3));
    expect(() => quantizeModel(unliftable(), { bits: 2, block: 32 })).toThrow(Int2OpsetError);
    expect(() => quantizeModel(unliftable(), { bits: 2, block: 32 })).toThrow(/quantize bits 2: int2 weights need opset 25; lifting from opset 9: Dropout/);
    const binary = quantizeModel(unliftable(), { bits: 1 }).model;
    expect(defaultOpset(binary)).toBe(9);
    expect(binary.graph!.initializer.some((t) => t.dataType === DT.INT2)).toBe(false);
  });
});

describe("2-bit per-node overrides", () => {
  it("mixes int8 dynamic layers with a 2-bit layer at opset 25, and onnxruntime-node runs the INT2 layer as dequantized plainly", async () => {
    const bytes = buildMlp([64, 96, 50, 10], 4);
    const model = decodeModel(bytes);
    const layers = model.graph!.node.filter((n) => n.opType === "MatMul" || n.opType === "Gemm").map((n) => n.name || n.output[0]!);
    const recipe = RecipeSchema.parse({ quantize: { bits: 8, scheme: "dynamic", overrides: { [layers[1]!]: 2 } } });
    const r = quantizeByRecipe(model, recipe.quantize!);
    expect(defaultOpset(r.model)).toBe(25);
    expect(r.tensors.map((t) => t.bits).sort()).toEqual([2, 8, 8]);
    expect(r.model.graph!.node.some((n) => n.opType === "MatMulInteger")).toBe(true);
    expect(r.model.graph!.initializer.filter((t) => t.dataType === DT.INT2)).toHaveLength(1);
    const feeds = { input: { dims: [2, 64], data: Float32Array.from(randomInput(128, 5)) } };
    const plain = dequantizedPlainly(r.model);
    expect(plain.levels).toHaveLength(1);
    const [got, want] = await Promise.all([runReference(encodeModel(r.model), feeds), runReference(encodeModel(plain.model), feeds)]);
    expect(maxRelDiff(got.logits!.data, want.logits!.data)).toBeLessThan(1e-5);
  });
});
