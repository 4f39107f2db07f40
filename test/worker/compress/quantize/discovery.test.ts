// Every weight the operator table can reach is compressed, whatever form the exporter gave it: Constant-node
// weights, constants behind Identity/Transpose, one weight read by three MatMuls (quantized once), weights in both
// If branches, LSTM and GRU W/R, a Gather embedding table, ConvTranspose, MatMul with the weight on the left, Einsum, and
// float16 weights (cast back to float16 after dequantizing).
// Each variant is run in onnxruntime-node against the FP32 original: cosine >= 0.999 at int8, >= 0.99 at int4;
// and each is smaller than the original.
import { describe, expect, it } from "vitest";
import type { ModelProto, NodeProto } from "onnx-buf";
import { compressModel } from "@worker/compress/pipeline";
import { RecipeSchema } from "@worker/compress/recipe";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { fromHalf, toHalf } from "@formats/half.js";
import { makeTensor } from "@worker/onnx/tensor";
import { ifNode } from "@test/support/graphs";
import { cosine } from "@test/support/zoo";
import { uniform } from "@test/support/numbers";
import { floatTensor, ort, runReference } from "@test/support/ort-node";

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const float = (name: string, dims: number[], seed: number, a = 0.5) => makeTensor(name, DT.FLOAT, dims, uniform(count(dims), seed, a));
const feedsOf = (inputs: [string, number[]][], seed: number) => Object.fromEntries(inputs.map(([n, d], i) => [n, floatTensor(uniform(count(d), seed + i), d)]));

interface Case {
  model: ModelProto;
  feeds: Record<string, ort.Tensor>[];
  /** Weights the variant must report quantized. */
  weights: string[];
}


/** Compresses `c` per `quantize`, checks the reported weights, the size and the outputs against FP32. */
async function expectCompressed(c: Case, quantize: Record<string, unknown>, minCosine: number) {
  const original = encodeModel(c.model);
  const out = compressModel(decodeModel(original), RecipeSchema.parse({ quantize }));
  expect([...new Set(out.tensors.map((t) => t.name))].sort()).toEqual([...c.weights].sort());
  expect(out.tensors).toHaveLength(c.weights.length);
  expect(out.bytes.byteLength).toBeLessThan(original.byteLength);
  for (const feeds of c.feeds) {
    const ref = await runReference(original, feeds);
    const got = await runReference(out.bytes, feeds);
    for (const k of Object.keys(ref)) expect(cosine(got[k]!.data as Float32Array, ref[k]!.data as Float32Array)).toBeGreaterThanOrEqual(minCosine);
  }
  return { out, variant: decodeModel(out.bytes) };
}

const opTypes = (m: ModelProto) => m.graph!.node.map((n) => n.opType);

/** x[4,64] -> MatMul(Constant W[64,64]) -> Relu -> MatMul(Identity(Transpose(Constant V[48,64]))) -> y[4,48]. */
function constantNodes(): Case {
  const model = makeModel(
    makeGraph(
      [
        makeNode("Constant", [], ["W"], "w", { value: float("", [64, 64], 1) }),
        makeNode("Constant", [], ["V"], "v", { value: float("", [48, 64], 2) }),
        makeNode("Transpose", ["V"], ["Vt"], "vt", { perm: [1, 0] }),
        makeNode("Identity", ["Vt"], ["Vid"], "vid"),
        makeNode("MatMul", ["x", "W"], ["h"], "fc1"),
        makeNode("Relu", ["h"], ["r"], "relu"),
        makeNode("MatMul", ["r", "Vid"], ["y"], "fc2"),
      ],
      "constants",
      [makeValueInfo("x", DT.FLOAT, [4, 64])],
      [makeValueInfo("y", DT.FLOAT, [4, 48])],
    ),
  );
  return { model, feeds: [feedsOf([["x", [4, 64]]], 3)], weights: ["W", "Vid"] };
}

/** One W[64,64] read by three MatMuls in a row (an exporter's deduplicated initializer). */
function sharedWeight(): Case {
  const model = makeModel(
    makeGraph(
      [
        makeNode("MatMul", ["x", "W"], ["h1"], "fc1"),
        makeNode("Relu", ["h1"], ["r1"], "relu1"),
        makeNode("MatMul", ["r1", "W"], ["h2"], "fc2"),
        makeNode("Relu", ["h2"], ["r2"], "relu2"),
        makeNode("MatMul", ["r2", "W"], ["y"], "fc3"),
      ],
      "shared",
      [makeValueInfo("x", DT.FLOAT, [4, 64])],
      [makeValueInfo("y", DT.FLOAT, [4, 64])],
      [float("W", [64, 64], 4, 0.2)],
    ),
  );
  return { model, feeds: [feedsOf([["x", [4, 64]]], 5)], weights: ["W"] };
}

/** If(cond): then MatMul(x, Wthen) with the branch's own initializer, else MatMul(x, Welse) from the outer graph. */
function ifBranches(): Case {
  const branch = (name: string, w: string, init: ReturnType<typeof float>[]) =>
    makeGraph([makeNode("MatMul", ["x", w], [`${name}_y`], `fc_${name}`)], name, [], [makeValueInfo(`${name}_y`, DT.FLOAT, [2, 64])], init);
  const model = makeModel(
    makeGraph(
      [ifNode("cond", ["y"], branch("then", "Wthen", [float("Wthen", [64, 64], 6)]), branch("else", "Welse", []))],
      "branches",
      [makeValueInfo("cond", DT.BOOL, []), makeValueInfo("x", DT.FLOAT, [2, 64])],
      [makeValueInfo("y", DT.FLOAT, [2, 64])],
      [float("Welse", [64, 64], 7)],
    ),
  );
  const x = floatTensor(uniform(128, 8), [2, 64]);
  return { model, feeds: [true, false].map((c) => ({ cond: new ort.Tensor("bool", [c], []), x })), weights: ["Wthen", "Welse"] };
}

/** Both branches hold an initializer named W (legal: each body is its own scope), of different values and widths. */
function sameNamedBranchWeights(): Case {
  const branch = (name: string, seed: number, width: number) =>
    makeGraph(
      [makeNode("MatMul", ["x", "W"], ["h"], `fc_${name}`), makeNode("ReduceMean", ["h"], [`${name}_y`], `mean_${name}`, { axes: [1], keepdims: 1 })],
      name,
      [],
      [makeValueInfo(`${name}_y`, DT.FLOAT, [2, 1])],
      [float("W", [64, width], seed)],
    );
  const model = makeModel(
    makeGraph(
      [ifNode("cond", ["y"], branch("then", 6, 64), branch("else", 7, 48))],
      "same_named",
      [makeValueInfo("cond", DT.BOOL, []), makeValueInfo("x", DT.FLOAT, [2, 64])],
      [makeValueInfo("y", DT.FLOAT, [2, 1])],
      [],
    ),
  );
  const x = floatTensor(uniform(128, 8), [2, 64]);
  return { model, feeds: [true, false].map((c) => ({ cond: new ort.Tensor("bool", [c], []), x })), weights: ["W", "W_1"] };
}

/** A MatMul of the outer graph (which the dynamic scheme rewrites) in front of the If: x -> MatMul(W0) -> h, and
 * each branch a MatMul of h, the then branch by its own weight, the else branch by an outer one only it reads. */
function layerThenBranches(): Case {
  const branch = (name: string, w: string, init: ReturnType<typeof float>[]) =>
    makeGraph([makeNode("MatMul", ["h", w], [`${name}_y`], `fc_${name}`)], name, [], [makeValueInfo(`${name}_y`, DT.FLOAT, [2, 64])], init);
  const model = makeModel(
    makeGraph(
      [makeNode("MatMul", ["x", "W0"], ["h"], "fc0"), ifNode("cond", ["y"], branch("then", "Wthen", [float("Wthen", [64, 64], 6)]), branch("else", "Welse", []))],
      "layer_then_branches",
      [makeValueInfo("cond", DT.BOOL, []), makeValueInfo("x", DT.FLOAT, [2, 64])],
      [makeValueInfo("y", DT.FLOAT, [2, 64])],
      [float("W0", [64, 64], 5), float("Welse", [64, 64], 7)],
    ),
  );
  const x = floatTensor(uniform(128, 8), [2, 64]);
  return { model, feeds: [true, false].map((c) => ({ cond: new ort.Tensor("bool", [c], []), x })), weights: ["W0", "Wthen", "Welse"] };
}

/** An LSTM (4 gates) or GRU (3 gates), hidden 32, input 32, sequence 5: W and R initializers. */
function recurrent(op: "LSTM" | "GRU"): Case {
  const gates = op === "LSTM" ? 4 : 3;
  const model = makeModel(
    makeGraph(
      [makeNode(op, ["x", "W", "R"], ["y"], "rnn", { hidden_size: 32 })],
      "recurrent",
      [makeValueInfo("x", DT.FLOAT, [5, 1, 32])],
      [makeValueInfo("y", DT.FLOAT, [5, 1, 1, 32])],
      [float("W", [1, gates * 32, 32], 9, 0.3), float("R", [1, gates * 32, 32], 10, 0.3)],
    ),
  );
  return { model, feeds: [feedsOf([["x", [5, 1, 32]]], 11)], weights: ["W", "R"] };
}

/** Gather(E[100,32], ids) -> y[6,32]: an embedding table. */
function embedding(): Case {
  const model = makeModel(
    makeGraph(
      [makeNode("Gather", ["E", "ids"], ["y"], "embed")],
      "embedding",
      [makeValueInfo("ids", DT.INT64, [6])],
      [makeValueInfo("y", DT.FLOAT, [6, 32])],
      [float("E", [100, 32], 12)],
    ),
  );
  const ids = new ort.Tensor("int64", BigInt64Array.from([0n, 5n, 17n, 42n, 99n, 5n]), [6]);
  return { model, feeds: [{ ids }], weights: ["E"] };
}

/**
 * A learned position table cut to the sequence's length, as torch exports `pos[:, :T]`:
 * Slice(P[64,32], starts 0, ends Shape(x)[0]) + x[T,32] -> y, with an int64 constant sliced too (which stays data).
 */
function positionTable(): Case {
  const int64 = (name: string, values: bigint[]) => makeTensor(name, DT.INT64, [values.length], new Uint8Array(BigInt64Array.from(values).buffer));
  const model = makeModel(
    makeGraph(
      [
        makeNode("Shape", ["x"], ["shape"], "shape"),
        makeNode("Slice", ["shape", "zero", "one"], ["T"], "length"),
        makeNode("Slice", ["P", "zero", "T", "zero"], ["p"], "positions"),
        makeNode("Add", ["x", "p"], ["y"], "add"),
      ],
      "positions",
      [makeValueInfo("x", DT.FLOAT, ["T", 32])],
      [makeValueInfo("y", DT.FLOAT, ["T", 32])],
      [float("P", [64, 32], 19), int64("zero", [0n]), int64("one", [1n])],
    ),
  );
  return { model, feeds: [feedsOf([["x", [10, 32]]], 20), feedsOf([["x", [64, 32]]], 21)], weights: ["P"] };
}

/** ConvTranspose(x[1,16,5,5], W[16,8,3,3], B[8]) -> y[1,8,7,7]. */
function convTranspose(): Case {
  const model = makeModel(
    makeGraph(
      [makeNode("ConvTranspose", ["x", "W", "B"], ["y"], "up")],
      "deconv",
      [makeValueInfo("x", DT.FLOAT, [1, 16, 5, 5])],
      [makeValueInfo("y", DT.FLOAT, [1, 8, 7, 7])],
      [float("W", [16, 8, 3, 3], 13), float("B", [8], 14)],
    ),
  );
  return { model, feeds: [feedsOf([["x", [1, 16, 5, 5]]], 15)], weights: ["W"] };
}

/** MatMul(W[48,64], x[64,8]) -> y[48,8]: the weight on the left. */
function matmulLeft(): Case {
  const model = makeModel(
    makeGraph(
      [makeNode("MatMul", ["W", "x"], ["y"], "left")],
      "left",
      [makeValueInfo("x", DT.FLOAT, [64, 8])],
      [makeValueInfo("y", DT.FLOAT, [48, 8])],
      [float("W", [48, 64], 16)],
    ),
  );
  return { model, feeds: [feedsOf([["x", [64, 8]]], 17)], weights: ["W"] };
}

/** Einsum with a constant operand: "bij,jk->bik" (right), Keras' EinsumDense "abc,cde->abde", and "kj,bij->bik" (left). */
function einsum(equation: string, w: number[], x: number[], y: number[]): Case {
  const right = !equation.startsWith("kj,");
  const model = makeModel(
    makeGraph(
      [makeNode("Einsum", right ? ["x", "W"] : ["W", "x"], ["y"], "dense", { equation })],
      "einsum",
      [makeValueInfo("x", DT.FLOAT, x)],
      [makeValueInfo("y", DT.FLOAT, y)],
      [float("W", w, 18)],
    ),
    { "": 13 },
  );
  return { model, feeds: [feedsOf([["x", x]], 19)], weights: ["W"] };
}

/** A tied embedding: Gather(E[256,32], ids) -> MatMul(h, Transpose(E)) -> logits[6,256]; E is stored once. */
function tiedEmbedding(): Case {
  const model = makeModel(
    makeGraph(
      [
        makeNode("Gather", ["E", "ids"], ["h"], "embed"),
        makeNode("Transpose", ["E"], ["Et"], "tie", { perm: [1, 0] }),
        makeNode("MatMul", ["h", "Et"], ["logits"], "head"),
      ],
      "tied",
      [makeValueInfo("ids", DT.INT64, [6])],
      [makeValueInfo("logits", DT.FLOAT, [6, 256])],
      [float("E", [256, 32], 18)],
    ),
  );
  const ids = new ort.Tensor("int64", BigInt64Array.from([0n, 5n, 17n, 42n, 255n, 5n]), [6]);
  return { model, feeds: [{ ids }], weights: ["E"] };
}

const dequantizers = (nodes: NodeProto[]) => nodes.filter((n) => n.opType === "DequantizeLinear");

describe("weights behind Constant nodes and Identity/Transpose chains", () => {
  it("int8: both weights quantized, each consumer reading its DequantizeLinear", async () => {
    const { variant } = await expectCompressed(constantNodes(), { bits: 8 }, 0.999);
    expect(opTypes(variant).filter((o) => o === "Constant" || o === "Transpose")).toEqual([]);
    expect(dequantizers(variant.graph!.node)).toHaveLength(2);
  });

  it("int4 and dynamic", async () => {
    await expectCompressed(constantNodes(), { bits: 4 }, 0.99);
    const { variant } = await expectCompressed(constantNodes(), { bits: 8, scheme: "dynamic" }, 0.999);
    expect(opTypes(variant).filter((o) => o === "MatMulInteger")).toHaveLength(2);
  });
});

describe("a weight read by three MatMuls", () => {
  it("int8: quantized once, one DequantizeLinear all three read, no float copy left", async () => {
    const { variant } = await expectCompressed(sharedWeight(), { bits: 8 }, 0.999);
    expect(dequantizers(variant.graph!.node)).toHaveLength(1);
    const dq = dequantizers(variant.graph!.node)[0]!.output[0]!;
    expect(variant.graph!.node.filter((n) => n.opType === "MatMul").map((n) => n.input[1])).toEqual([dq, dq, dq]);
    expect(variant.graph!.initializer.filter((t) => t.dataType === DT.INT8 && t.dims.length === 2)).toHaveLength(1);
    expect(variant.graph!.initializer.some((t) => t.name === "W")).toBe(false);
  });

  it("int4: one INT4 copy", async () => {
    const { variant } = await expectCompressed(sharedWeight(), { bits: 4 }, 0.99);
    expect(variant.graph!.initializer.filter((t) => t.dataType === DT.INT4)).toHaveLength(1);
  });

  it("dynamic: three MatMulIntegers sharing one 8-bit weight (uint8 around zero point 128) and its scales", async () => {
    const { variant } = await expectCompressed(sharedWeight(), { bits: 8, scheme: "dynamic" }, 0.999);
    const integer = variant.graph!.node.filter((n) => n.opType === "MatMulInteger");
    expect(integer).toHaveLength(3);
    expect(new Set(integer.map((n) => n.input[1])).size).toBe(1);
    expect(variant.graph!.initializer.filter((t) => t.dataType === DT.UINT8 && t.dims.length === 2)).toHaveLength(1);
  });

  it("a reader that cannot take the quantized weight (an Add) keeps it float, with the reason", () => {
    const c = sharedWeight();
    c.model.graph!.node.push(makeNode("Add", ["W", "W"], ["w2"], "reuse"));
    c.model.graph!.output.push(makeValueInfo("w2", DT.FLOAT, [64, 64]));
    const out = () => compressModel(c.model, RecipeSchema.parse({ quantize: { bits: 8 } }));
    expect(out).toThrow(/W \(fc1\): weight also read by Add node 'reuse'/);
  });
});

describe("weights inside If branches", () => {
  it("int8: the branch's own weight and the outer weight it reads, both quantized, both branches within tolerance", async () => {
    const { variant } = await expectCompressed(ifBranches(), { bits: 8 }, 0.999);
    // The outer weight's DequantizeLinear sits in the outer graph, in front of the If; the branch's in the branch.
    expect(opTypes(variant)).toEqual(["DequantizeLinear", "If"]);
  });

  it("int4 and dynamic (bodies go weight-only)", async () => {
    await expectCompressed(ifBranches(), { bits: 4 }, 0.99);
    await expectCompressed(ifBranches(), { bits: 8, scheme: "dynamic" }, 0.999);
  });

  it("dynamic with an outer layer rewritten: the outer weight only a branch reads is kept (and quantized weight-only)", async () => {
    const { variant } = await expectCompressed(layerThenBranches(), { bits: 8, scheme: "dynamic" }, 0.999);
    expect(opTypes(variant)).toContain("MatMulInteger");
  });
});

describe("same-named weights in two If branches", () => {
  it("are two weights: each quantized for its own branch (the else branch's as W_1), both branches within tolerance", async () => {
    const { variant } = await expectCompressed(sameNamedBranchWeights(), { bits: 8 }, 0.999);
    // Each branch dequantizes its own weight in front of its MatMul, and no float W is left in either.
    for (const branch of ["then_branch", "else_branch"]) {
      const body = variant.graph!.node[0]!.attribute.find((a) => a.name === branch)!.g!;
      expect(body.node.map((n) => n.opType)).toEqual(["DequantizeLinear", "MatMul", "ReduceMean"]);
      expect(body.initializer.filter((t) => t.dataType === DT.FLOAT && t.dims.length === 2)).toEqual([]);
    }
    await expectCompressed(sameNamedBranchWeights(), { bits: 4 }, 0.99);
    await expectCompressed(sameNamedBranchWeights(), { bits: 8, scheme: "dynamic" }, 0.999);
  });
});

describe("recurrent weights", () => {
  for (const op of ["LSTM", "GRU"] as const) {
    it(`${op}: W and R int8 per gate row, weight-only under dynamic too`, async () => {
      const { out } = await expectCompressed(recurrent(op), { bits: 8 }, 0.999);
      expect(out.tensors.map((t) => t.axis)).toEqual([1, 1]);
      await expectCompressed(recurrent(op), { bits: 8, scheme: "dynamic" }, 0.999);
    });

    it(`${op}: int4, one scale per gate row (axis 1 of [directions, gates, input])`, async () => {
      const { out, variant } = await expectCompressed(recurrent(op), { bits: 4 }, 0.99);
      expect(out.tensors.map((t) => t.axis)).toEqual([1, 1]);
      const scales = variant.graph!.initializer.filter((t) => t.name.endsWith("_scale"));
      expect(scales.map((t) => t.dims.map(Number))).toEqual([[(op === "LSTM" ? 4 : 3) * 32], [(op === "LSTM" ? 4 : 3) * 32]]);
    });
  }
});

describe("Gather embedding tables", () => {
  it("int8 per row, DequantizeLinear then Gather; int4; dynamic falls back to weight-only", async () => {
    const { variant, out } = await expectCompressed(embedding(), { bits: 8 }, 0.999);
    expect(opTypes(variant)).toEqual(["DequantizeLinear", "Gather"]);
    expect(out.tensors[0]!.axis).toBe(0);
    await expectCompressed(embedding(), { bits: 4 }, 0.99);
    await expectCompressed(embedding(), { bits: 8, scheme: "dynamic" }, 0.999);
  });
});

describe("tables read by Slice (learned positions)", () => {
  it("int8 per row and int4 in blocks, DequantizeLinear then Slice, the integer Slice left as it is", async () => {
    const { variant, out } = await expectCompressed(positionTable(), { bits: 8 }, 0.999);
    expect(opTypes(variant)).toEqual(["Shape", "Slice", "DequantizeLinear", "Slice", "Add"]);
    expect(out.tensors[0]).toMatchObject({ op: "Slice", axis: 0 });
    const int4 = await expectCompressed(positionTable(), { bits: 4 }, 0.99);
    expect(int4.out.tensors[0]).toMatchObject({ op: "Slice", bits: 4 });
    await expectCompressed(positionTable(), { bits: 8, scheme: "dynamic" }, 0.999);
  });
});

describe("a tied embedding table (Gather, and MatMul through a Transpose)", () => {
  it("is quantized once: one DequantizeLinear that Gather and the Transpose both read, no float copy, a ~4x smaller file", async () => {
    const original = encodeModel(tiedEmbedding().model).byteLength;
    for (const [quantize, minCosine] of [[{ bits: 8 }, 0.999], [{ bits: 4 }, 0.99], [{ bits: 8, scheme: "dynamic" }, 0.999]] as const) {
      const { variant, out } = await expectCompressed(tiedEmbedding(), quantize, minCosine);
      expect(out.skipped).toEqual([]);
      const [dq, ...others] = dequantizers(variant.graph!.node);
      expect(others).toEqual([]);
      expect(variant.graph!.node.filter((n) => n.input.includes(dq!.output[0]!)).map((n) => n.opType).sort()).toEqual(["Gather", "Transpose"]);
      expect(variant.graph!.initializer.filter((t) => t.dataType === DT.FLOAT && count(t.dims.map(Number)) === 256 * 32)).toEqual([]);
      expect(original / out.bytes.byteLength).toBeGreaterThan(quantize.bits === 4 ? 5 : 3);
    }
  });
});

describe("ConvTranspose", () => {
  it("int8 per output channel (axis 1); dynamic falls back to weight-only", async () => {
    const { out } = await expectCompressed(convTranspose(), { bits: 8 }, 0.999);
    expect(out.tensors[0]!.axis).toBe(1);
    await expectCompressed(convTranspose(), { bits: 8, scheme: "dynamic" }, 0.999);
  });

  it("int4 per output channel (axis 1 of [in, out, kh, kw]): one scale per output channel over every input channel", async () => {
    const { out, variant } = await expectCompressed(convTranspose(), { bits: 4 }, 0.99);
    expect(out.tensors[0]!.axis).toBe(1);
    expect(variant.graph!.initializer.find((t) => t.name.endsWith("_scale"))!.dims.map(Number)).toEqual([8]);
  });
});

describe("MatMul with the weight on the left", () => {
  it("int8 per row (axis 0), int4 in blocks along the row, dynamic falls back to weight-only", async () => {
    const { out } = await expectCompressed(matmulLeft(), { bits: 8 }, 0.999);
    expect(out.tensors[0]!.axis).toBe(0);
    await expectCompressed(matmulLeft(), { bits: 4 }, 0.99);
    await expectCompressed(matmulLeft(), { bits: 8, scheme: "dynamic" }, 0.999);
  });
});

describe("Einsum with a constant operand", () => {
  it("bij,jk->bik: int8 per output channel (k, axis 1), int4 in blocks along j, dynamic falls back to weight-only", async () => {
    const c = () => einsum("bij,jk->bik", [64, 48], [2, 5, 64], [2, 5, 48]);
    const { out, variant } = await expectCompressed(c(), { bits: 8 }, 0.999);
    expect(out.tensors[0]!.axis).toBe(1);
    expect(variant.graph!.node.map((n) => n.opType)).toEqual(["DequantizeLinear", "Einsum"]);
    await expectCompressed(c(), { bits: 4 }, 0.99);
    await expectCompressed(c(), { bits: 8, scheme: "dynamic" }, 0.999);
  });

  it("Keras' EinsumDense abc,cde->abde: scales along e (the last output index), the sum along c", async () => {
    const { out } = await expectCompressed(einsum("abc,cde->abde", [32, 4, 16], [1, 6, 32], [1, 6, 4, 16]), { bits: 8 }, 0.999);
    expect(out.tensors[0]!.axis).toBe(2);
  });

  it("kj,bij->bik: the constant on the left, scales along k (axis 0)", async () => {
    const { out } = await expectCompressed(einsum("kj,bij->bik", [40, 64], [2, 3, 64], [2, 3, 40]), { bits: 8 }, 0.999);
    expect(out.tensors[0]!.axis).toBe(0);
  });
});

/** A model exported in half precision: x[4,64] float16 -> MatMul(W[64,64]) -> Relu -> Gemm(V[32,64], transB, bias) -> y. */
function halfPrecision(): ModelProto {
  const half = (name: string, dims: number[], seed: number) => makeTensor(name, DT.FLOAT16, dims, Uint16Array.from(uniform(count(dims), seed, 0.5), toHalf));
  return makeModel(
    makeGraph(
      [
        makeNode("MatMul", ["x", "W"], ["h"], "fc1"),
        makeNode("Relu", ["h"], ["r"], "relu"),
        makeNode("Gemm", ["r", "V", "b"], ["y"], "fc2", { transB: 1 }),
      ],
      "half",
      [makeValueInfo("x", DT.FLOAT16, [4, 64])],
      [makeValueInfo("y", DT.FLOAT16, [4, 32])],
      [half("W", [64, 64], 31), half("V", [32, 64], 32), half("b", [32], 33)],
    ),
    { "": 13 },
  );
}

describe("float16 weights (a model exported in half precision)", () => {
  const x = new ort.Tensor("float16", Uint16Array.from(uniform(4 * 64, 34), toHalf), [4, 64]);
  const values = (t: ort.Tensor) => Float32Array.from(t.data as Uint16Array, fromHalf);

  // Ratios of a 12 KB file: the float16 bias, the float32 scales and the graph weigh in (2x / 4x is the bound).
  it.each([
    [{ bits: 8 }, 0.999, 1.6],
    [{ bits: 4 }, 0.99, 2.5],
  ])("%j: both weights quantized, each DequantizeLinear cast back to float16, within tolerance of the original", async (quantize, minCosine, minRatio) => {
    const original = encodeModel(halfPrecision());
    const out = compressModel(decodeModel(original), RecipeSchema.parse({ quantize }));
    expect(out.tensors.map((t) => t.name).sort()).toEqual(["V", "W"]);
    expect(original.byteLength / out.bytes.byteLength).toBeGreaterThanOrEqual(minRatio);
    const variant = decodeModel(out.bytes);
    const casts = variant.graph!.node.filter((n) => n.opType === "Cast");
    expect(casts.map((n) => n.attribute.find((a) => a.name === "to")!.i)).toEqual([BigInt(DT.FLOAT16), BigInt(DT.FLOAT16)]);
    expect(variant.graph!.node.filter((n) => n.opType === "MatMul" || n.opType === "Gemm").map((n) => n.input[1])).toEqual(casts.map((n) => n.output[0]));
    const ref = await runReference(original, { x });
    const got = await runReference(out.bytes, { x });
    expect(got.y!.type).toBe("float16");
    expect(cosine(values(got.y!), values(ref.y!))).toBeGreaterThanOrEqual(minCosine);
  });

  it("bits 16 leaves them, saying they are float16 already", () => {
    expect(() => compressModel(halfPrecision(), RecipeSchema.parse({ quantize: { bits: 16 } }))).toThrow(/W \(fc1\): weight is float16 already/);
  });
});
