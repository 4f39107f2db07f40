// Constant normalization: Constant nodes (tensor and scalar/list attributes) become initializers, constant
// Identity/Cast/Transpose/Reshape/Unsqueeze/Squeeze chains fold into one, in If bodies too (outer constants read
// from a body included); the normalized model computes the same outputs in onnxruntime-node, and a model of plain
// initializers comes back as the very same object.
import { describe, expect, it } from "vitest";
import type { ModelProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { ifNode } from "@test/support/graphs";
import { encodeModel } from "@worker/onnx/codec";
import { normalizeConstants } from "@worker/onnx/constants";
import { DT } from "@worker/onnx/dtype";
import { weightedLayers } from "@worker/onnx/operators";
import { makeTensor, readFloat32, tensorDims } from "@worker/onnx/tensor";
import { mlpModel } from "@test/support/models";
import { uniform } from "@test/support/numbers";
import { floatTensor, ort, runReference } from "@test/support/ort-node";

const float = (name: string, dims: number[], seed: number) => makeTensor(name, DT.FLOAT, dims, uniform(dims.reduce((a, b) => a * b, 1), seed));
const int64 = (name: string, values: number[]) => makeTensor(name, DT.INT64, [values.length], new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer));

async function sameOutputs(a: ModelProto, b: ModelProto, feeds: Record<string, ort.Tensor>) {
  const ra = await runReference(encodeModel(a), feeds);
  const rb = await runReference(encodeModel(b), feeds);
  for (const k of Object.keys(ra)) expect(Array.from(rb[k]!.data as Float32Array)).toEqual(Array.from(ra[k]!.data as Float32Array));
}

describe("normalizeConstants", () => {
  it("turns a Constant node's tensor into an initializer of the same name, read by the same MatMul", async () => {
    // x[2,8] -> MatMul(Constant W[8,4]) -> y[2,4]; plus value_floats / value_ints forms feeding Add and Reshape.
    const model = makeModel(
      makeGraph(
        [
          makeNode("Constant", [], ["W"], "w_const", { value: float("", [8, 4], 1) }),
          makeNode("Constant", [], ["b"], "b_const", { value_floats: { floats: [0.5, -1, 2, 0.25] } }),
          makeNode("Constant", [], ["shape"], "shape_const", { value_ints: [4, 2] }),
          makeNode("MatMul", ["x", "W"], ["h"], "fc"),
          makeNode("Add", ["h", "b"], ["z"], "bias"),
          makeNode("Reshape", ["z", "shape"], ["y"], "reshape"),
        ],
        "g",
        [makeValueInfo("x", DT.FLOAT, [2, 8])],
        [makeValueInfo("y", DT.FLOAT, [4, 2])],
      ),
    );
    const out = normalizeConstants(model);
    expect(out.graph!.node.map((n) => n.opType)).toEqual(["MatMul", "Add", "Reshape"]);
    expect(out.graph!.initializer.map((t) => [t.name, t.dataType, tensorDims(t)])).toEqual([
      ["W", DT.FLOAT, [8, 4]],
      ["b", DT.FLOAT, [4]],
      ["shape", DT.INT64, [2]],
    ]);
    expect(Array.from(readFloat32(out.graph!.initializer[1]!))).toEqual([0.5, -1, 2, 0.25]);
    expect(weightedLayers(out.graph!).map((l) => [l.label, l.weight.name])).toEqual([["fc", "W"]]);
    await sameOutputs(model, out, { x: floatTensor(uniform(16, 7), [2, 8]) });
  });

  it("folds Constant -> Identity -> Cast(float) -> Transpose into one initializer named after the chain's end, and drops the source", async () => {
    const model = makeModel(
      makeGraph(
        [
          makeNode("Constant", [], ["Wsrc"], "c", { value: float("", [4, 8], 2) }),
          makeNode("Identity", ["Wsrc"], ["Wid"], "id"),
          makeNode("Cast", ["Wid"], ["Wcast"], "cast", { to: DT.FLOAT }),
          makeNode("Transpose", ["Wcast"], ["Wt"], "t", { perm: [1, 0] }),
          makeNode("MatMul", ["x", "Wt"], ["y"], "fc"),
        ],
        "g",
        [makeValueInfo("x", DT.FLOAT, [3, 8])],
        [makeValueInfo("y", DT.FLOAT, [3, 4])],
      ),
    );
    const out = normalizeConstants(model);
    expect(out.graph!.node.map((n) => n.opType)).toEqual(["MatMul"]);
    expect(out.graph!.initializer.map((t) => [t.name, tensorDims(t)])).toEqual([["Wt", [8, 4]]]);
    // Element (k, n) of the folded weight is element (n, k) of the source.
    const src = uniform(32, 2);
    expect(readFloat32(out.graph!.initializer[0]!)[3 * 4 + 1]).toBe(src[1 * 8 + 3]);
    await sameOutputs(model, out, { x: floatTensor(uniform(24, 3), [3, 8]) });
  });

  it("folds Reshape, Unsqueeze and Squeeze with constant shapes and axes (opset 13 inputs)", async () => {
    const model = makeModel(
      makeGraph(
        [
          makeNode("Reshape", ["W", "shape"], ["W2"], "r"),
          makeNode("Unsqueeze", ["W2", "axes"], ["W3"], "u"),
          makeNode("Squeeze", ["W3", "axes"], ["W4"], "s"),
          makeNode("MatMul", ["x", "W4"], ["y"], "fc"),
        ],
        "g",
        [makeValueInfo("x", DT.FLOAT, [2, 6])],
        [makeValueInfo("y", DT.FLOAT, [2, 4])],
        [float("W", [24], 4), int64("shape", [6, -1]), int64("axes", [0])],
      ),
    );
    const out = normalizeConstants(model);
    expect(out.graph!.node.map((n) => n.opType)).toEqual(["MatMul"]);
    expect(out.graph!.initializer.map((t) => [t.name, tensorDims(t)])).toEqual([["W4", [6, 4]]]);
    await sameOutputs(model, out, { x: floatTensor(uniform(12, 5), [2, 6]) });
  });

  it("normalizes If branches: a body Constant becomes a body initializer, an outer constant behind a body Transpose folds into the body", async () => {
    const branch = (name: string, nodes: ReturnType<typeof makeNode>[]) => makeGraph(nodes, name, [], [makeValueInfo(`${name}_y`, DT.FLOAT, [2, 4])]);
    const then = branch("then", [
      makeNode("Constant", [], ["Wthen"], "wc", { value: float("", [8, 4], 6) }),
      makeNode("MatMul", ["x", "Wthen"], ["then_y"], "fc_then"),
    ]);
    const otherwise = branch("else", [makeNode("Transpose", ["Wouter"], ["Welse"], "t", { perm: [1, 0] }), makeNode("MatMul", ["x", "Welse"], ["else_y"], "fc_else")]);
    const model = makeModel(
      makeGraph(
        [ifNode("cond", ["y"], then, otherwise)],
        "g",
        [makeValueInfo("cond", DT.BOOL, []), makeValueInfo("x", DT.FLOAT, [2, 8])],
        [makeValueInfo("y", DT.FLOAT, [2, 4])],
        [float("Wouter", [4, 8], 7)],
      ),
    );
    const out = normalizeConstants(model);
    const [e, t] = out.graph!.node[0]!.attribute.map((a) => a.g!);
    expect(out.graph!.initializer.map((x) => x.name)).toEqual([]);
    expect(t!.node.map((n) => n.opType)).toEqual(["MatMul"]);
    expect(t!.initializer.map((x) => x.name)).toEqual(["Wthen"]);
    expect(e!.initializer.map((x) => [x.name, tensorDims(x)])).toEqual([["Welse", [8, 4]]]);
    expect(weightedLayers(out.graph!).map((l) => [l.label, l.weight.name, l.nested])).toEqual([
      ["fc_else", "Welse", true],
      ["fc_then", "Wthen", true],
    ]);
    for (const c of [true, false]) {
      await sameOutputs(model, out, { cond: new ort.Tensor("bool", [c], []), x: floatTensor(uniform(16, 8), [2, 8]) });
    }
  });

  it("leaves a large constant that another node still reads, when the folded copy would feed no weight", () => {
    const model = makeModel(
      makeGraph(
        [makeNode("Transpose", ["T"], ["Tt"], "t"), makeNode("Add", ["x", "Tt"], ["y"], "add"), makeNode("Add", ["x2", "T"], ["y2"], "add2")],
        "g",
        [makeValueInfo("x", DT.FLOAT, [64, 64]), makeValueInfo("x2", DT.FLOAT, [64, 64])],
        [makeValueInfo("y", DT.FLOAT, [64, 64]), makeValueInfo("y2", DT.FLOAT, [64, 64])],
        [float("T", [64, 64], 9)],
      ),
    );
    expect(normalizeConstants(model)).toBe(model);
  });

  it("leaves a weight's Transpose unfolded when the weight stays for another reader (a tied embedding): no second copy", () => {
    // The table is read by Gather (the ids) and, transposed, by the output MatMul: folding the Transpose would
    // store the 2048-element table twice.
    const model = makeModel(
      makeGraph(
        [
          makeNode("Gather", ["table", "ids"], ["h"], "embed"),
          makeNode("Transpose", ["table"], ["tableT"], "t", { perm: [1, 0] }),
          makeNode("MatMul", ["h", "tableT"], ["logits"], "head"),
        ],
        "g",
        [makeValueInfo("ids", DT.INT64, [3])],
        [makeValueInfo("logits", DT.FLOAT, [3, 64])],
        [float("table", [64, 32], 10)],
      ),
    );
    expect(normalizeConstants(model)).toBe(model);
  });

  it("is the identity (same object, same bytes) on a model of plain initializers", () => {
    const model = mlpModel([16, 32, 10]);
    expect(normalizeConstants(model)).toBe(model);
  });
});
