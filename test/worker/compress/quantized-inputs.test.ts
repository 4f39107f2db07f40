// Calibrated PQ's Hessians on quantized inputs: level by level, each layer's Hessian is that of the inputs it sees
// with every layer upstream of it compressed. Checked against onnxruntime-node on the final variant itself (the
// layers upstream of a layer are compressed there exactly as when its Hessian was measured), and the float model's
// Hessians kept for the first level only. GPTQ rounds each level as it is measured: the same bytes as rounding once
// from every level's statistics. Also the levels of layers in a graph with a residual join.
import { describe, expect, it } from "vitest";
import type { ModelProto } from "onnx-buf";
import { HessianAccumulator, type LayerHessians } from "@worker/compress/calibrate/hessian";
import { compressModel } from "@worker/compress/pipeline";
import { quantizedInputHessians, quantizedInputRoundings } from "@worker/compress/quantized-inputs";
import { RecipeSchema } from "@worker/compress/recipe";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { makeGraph, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { layerLevels } from "@worker/onnx/operators";
import { mlpModel, randomInput } from "@test/support/models";
import { floatTensor, readBack } from "@test/support/ort-node";

const ROWS = 64;
const mlp = mlpModel([128, 256, 128, 64], 12);
const x = randomInput(ROWS * 128, 5);
const feeds = { input: floatTensor(x, [ROWS, 128]) };
const recipe = RecipeSchema.parse({ quantize: { pq: { subvector: 8, centroids: 32 }, calibration: { dataset: "d".repeat(24) } } });
const LAYERS: Record<string, number> = { "fc0/MatMul": 128, "fc1/MatMul": 256, "head/Gemm": 128 };

/** Each named layer's input Hessian (mean x xᵀ) when `model` runs on the feeds, in onnxruntime-node. */
async function hessiansOf(model: ModelProto, layers: ReadonlySet<string>): Promise<LayerHessians> {
  const out: LayerHessians = {};
  for (const layer of layers) {
    const k = LAYERS[layer]!;
    const acc = new HessianAccumulator(k);
    acc.observe(await readBack(model, layer, 0, [ROWS, k], feeds));
    out[layer] = { features: k, groups: 1, rows: acc.rows, matrix: acc.matrix() };
  }
  return out;
}

const maxRel = (a: Float64Array | Float32Array, b: Float64Array | Float32Array) => {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / scale;
};

describe("Hessians on quantized inputs (calibrated PQ)", () => {
  it("measures every layer on the inputs the final variant gives it; the first level keeps the float model's", async () => {
    const float = await hessiansOf(mlp, new Set(Object.keys(LAYERS)));
    const levels: number[] = [];
    const measured = await quantizedInputHessians(mlp, recipe, float, (bytes, layers) => hessiansOf(decodeModel(bytes), layers), async (level) => {
      levels.push(level);
    });
    expect(levels).toEqual([2, 3]);
    const variant = decodeModel(compressModel(mlp, recipe, undefined, undefined, measured).bytes);
    const seen = await hessiansOf(variant, new Set(Object.keys(LAYERS)));
    for (const layer of Object.keys(LAYERS)) expect(maxRel(measured[layer]!.matrix, seen[layer]!.matrix), layer).toBeLessThan(1e-6);
    expect(measured["fc0/MatMul"]!.matrix).toEqual(float["fc0/MatMul"]!.matrix);
    // Deeper layers' inputs moved with the quantization above them: not the float model's.
    for (const layer of ["fc1/MatMul", "head/Gemm"]) expect(maxRel(measured[layer]!.matrix, float[layer]!.matrix), layer).toBeGreaterThan(1e-3);
  });

  it("GPTQ rounded level by level, each level's statistics alone, gives the bytes of rounding from all levels' at once", async () => {
    for (const quantize of [{ bits: 2, granularity: { block: 16 } }, { bits: 4 }]) {
      const gptq = RecipeSchema.parse({ quantize: { ...quantize, rounding: { method: "gptq", inputs: "quantized" }, calibration: { dataset: "d".repeat(24) } } });
      const measure = (bytes: Uint8Array, layers: ReadonlySet<string>) => hessiansOf(decodeModel(bytes), layers);
      const all = await quantizedInputHessians(mlp, gptq, await hessiansOf(mlp, new Set(Object.keys(LAYERS))), measure);
      const once = compressModel(mlp, gptq, undefined, undefined, all);
      const measuredFloat: string[][] = [];
      const memo = await quantizedInputRoundings(mlp, gptq, (layers) => (measuredFloat.push([...layers]), hessiansOf(mlp, layers)), measure);
      expect([...memo.keys()].sort()).toEqual(["fc0.weight", "fc1.weight", "head.weight"]);
      expect(measuredFloat).toEqual([["fc0/MatMul"]]); // the first level alone runs on the float model
      const levelled = compressModel(mlp, gptq, undefined, undefined, {}, undefined, memo);
      expect(levelled.tensors.every((t) => t.compensated)).toBe(true);
      expect(levelled.bytes, JSON.stringify(quantize)).toEqual(once.bytes);
    }
  });

  it("levels count the labelled layers on the longest path to a node, through a residual join", () => {
    const graph = makeGraph(
      [
        makeNode("MatMul", ["x", "w0"], ["a"], "a"),
        makeNode("Relu", ["a"], ["r"], "relu"),
        makeNode("MatMul", ["r", "w1"], ["b"], "b"),
        makeNode("Add", ["a", "b"], ["s"], "join"),
        makeNode("MatMul", ["s", "w2"], ["c"], "c"),
        makeNode("MatMul", ["x", "w3"], ["side"], "side"),
      ],
      "g",
      [makeValueInfo("x", DT.FLOAT, [1, 4])],
      [makeValueInfo("c", DT.FLOAT, [1, 4]), makeValueInfo("side", DT.FLOAT, [1, 4])],
      [],
    );
    expect(Object.fromEntries(layerLevels(graph, new Set(["a", "b", "c", "side"])))).toEqual({ a: 1, b: 2, c: 3, side: 1 });
    // Unlabelled layers do not count.
    expect(Object.fromEntries(layerLevels(graph, new Set(["a", "c"])))).toEqual({ a: 1, c: 2 });
  });
});
