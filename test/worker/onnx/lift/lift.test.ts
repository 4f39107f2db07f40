// liftDefaultOpset as a whole: subgraphs are lifted with their parents, and what cannot be lifted is refused
// with the op, the node and the opset named.
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, AttributeProto_AttributeType as AT, FunctionProtoSchema, type ModelProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { LIFT_FROM, liftDefaultOpset, OP_HISTORY } from "@worker/onnx/lift";
import { LEGACY_STEPS } from "@worker/onnx/lift/legacy-history";
import { makeTensor } from "@worker/onnx/tensor";
import { defaultOpset } from "@worker/onnx/validate";
import { floatTensor, ort, runReference } from "@test/support/ort-node";

function unary(op: string, opset: number, domain = ""): ModelProto {
  const g = makeGraph([makeNode(op, ["x"], ["y"], "n", {}, domain)], "g", [makeValueInfo("x", DT.FLOAT, [2, 3])], [makeValueInfo("y", DT.FLOAT, [2, 3])]);
  return makeModel(g, domain ? { "": opset, [domain]: 1 } : { "": opset }, 8);
}

/** If(cond) then ReduceMean(x, axes=[1]) else ReduceMax(x, axes=[1]): both bodies need the opset-18 rewrite. */
function ifModel(opset: number): ModelProto {
  const branch = (op: string, name: string) =>
    makeGraph([makeNode(op, ["x"], [`${name}_y`], name, { axes: [1], keepdims: 0 })], name, [], [makeValueInfo(`${name}_y`, DT.FLOAT, [2])]);
  const iff = makeNode("If", ["cond"], ["y"], "if");
  iff.attribute.push(create(AttributeProtoSchema, { name: "then_branch", type: AT.GRAPH, g: branch("ReduceMean", "mean") }));
  iff.attribute.push(create(AttributeProtoSchema, { name: "else_branch", type: AT.GRAPH, g: branch("ReduceMax", "max") }));
  const g = makeGraph([iff], "g", [makeValueInfo("x", DT.FLOAT, [2, 3]), makeValueInfo("cond", DT.BOOL, [])], [makeValueInfo("y", DT.FLOAT, [2])]);
  return makeModel(g, { "": opset }, 8);
}

describe("liftDefaultOpset", () => {
  it("rewrites nodes inside If branches, putting their constants in the branch", async () => {
    const m = ifModel(13);
    const r = liftDefaultOpset(m, 25);
    if ("reason" in r) throw new Error(r.reason);
    expect(defaultOpset(r.model)).toBe(25);
    const branches = r.model.graph!.node[0]!.attribute.map((a) => a.g!);
    for (const b of branches) {
      expect(b.node[0]!.input).toHaveLength(2);
      expect(b.initializer.map((t) => t.name)).toEqual([b.node[0]!.input[1]]);
    }
    for (const cond of [true, false]) {
      const feeds = { x: floatTensor([1, 5, 3, -2, 0, 4], [2, 3]), cond: new ort.Tensor("bool", [cond], []) };
      const before = await runReference(encodeModel(m), feeds);
      const after = await runReference(encodeModel({ ...r.model, irVersion: 13n }), feeds);
      expect(Array.from(after.y!.data as Float32Array)).toEqual(Array.from(before.y!.data as Float32Array));
    }
  });

  it("returns models already at the target unchanged, refuses opsets below 7 and lifts older models to 13 at least", () => {
    const m = unary("Relu", 21);
    expect(liftDefaultOpset(m, 21)).toEqual({ model: m });
    expect(liftDefaultOpset(unary("Relu", 6), 21)).toEqual({ reason: `opset 6 models are not lifted (opsets below ${LIFT_FROM} broadcast differently)` });
    expect(liftDefaultOpset(unary("Relu", 9), 11)).toEqual({ reason: "opset 9 models are lifted to 13 or above, not to 11" });
    const r = liftDefaultOpset(unary("Relu", 12), 21);
    expect("model" in r && defaultOpset(r.model)).toBe(21);
  });

  it("refuses GroupNormalization from 18 to 21: its scale and bias changed from per group to per channel", () => {
    expect(liftDefaultOpset(unary("GroupNormalization", 18), 21)).toEqual({
      reason: "lifting from opset 18: GroupNormalization node 'n' changed meaning at opset 21 (scale and bias changed from per-group to per-channel)",
    });
    // Written at 21 already, it lifts to 25 (only types changed since).
    expect("model" in liftDefaultOpset(unary("GroupNormalization", 21), 25)).toBe(true);
  });

  it("refuses an op that its opset does not define, an unknown op, another domain and local functions", () => {
    expect(liftDefaultOpset(unary("Gelu", 17), 21)).toEqual({ reason: "lifting from opset 17: Gelu is not defined at opset 17 (it came with opset 20)" });
    expect(liftDefaultOpset(unary("Upsample", 13), 21)).toEqual({ reason: "lifting from opset 13: Upsample was removed at opset 10" });
    expect(liftDefaultOpset(unary("FancyOp", 13), 21)).toEqual({ reason: "lifting from opset 13: FancyOp is not a standard ONNX op" });
    expect(liftDefaultOpset(unary("FusedGemm", 13, "com.microsoft"), 21)).toEqual({
      reason: "lifting from opset 13: com.microsoft.FusedGemm nodes are not lifted (only the default ONNX domain is)",
    });
    const withFunction = { ...unary("Relu", 13), functions: [create(FunctionProtoSchema, { name: "f", domain: "local" })] };
    expect(liftDefaultOpset(withFunction, 21)).toEqual({ reason: "models with local functions are not lifted" });
  });

  it("finds a refused op inside a Loop body", () => {
    const body = makeGraph([makeNode("GroupNormalization", ["x"], ["z"], "gn")], "body", [], []);
    const loop = makeNode("Loop", ["", ""], ["y"], "loop");
    loop.attribute.push(create(AttributeProtoSchema, { name: "body", type: AT.GRAPH, g: body }));
    const m = makeModel(makeGraph([loop], "g", [makeValueInfo("x", DT.FLOAT, [2])], [makeValueInfo("y", DT.FLOAT, [2])]), { "": 18 }, 8);
    expect(liftDefaultOpset(m, 21)).toEqual({ reason: expect.stringContaining("GroupNormalization node 'gn' changed meaning at opset 21") });
  });

  it("names fresh constants apart from every existing name", () => {
    const g = makeGraph(
      [makeNode("ReduceMean", ["x"], ["y"], "r", { axes: [1] })],
      "g",
      [makeValueInfo("x", DT.FLOAT, [2, 3])],
      [makeValueInfo("y", DT.FLOAT, [2, 1])],
      [makeTensor("r_axes", DT.FLOAT, [1], new Float32Array([0]))],
    );
    const r = liftDefaultOpset(makeModel(g, { "": 13 }), 21);
    if ("reason" in r) throw new Error(r.reason);
    expect(r.model.graph!.node[0]!.input[1]).toBe("r_axes_1");
  });
});

describe("the op history tables", () => {
  it("lists opset 8-13 steps in order, for ops that exist then", () => {
    for (const [op, steps] of Object.entries(LEGACY_STEPS)) {
      const ats = steps.map((s) => s.at);
      expect(ats, op).toEqual([...ats].sort((a, b) => a - b));
      for (const at of ats) {
        expect(at, op).toBeGreaterThanOrEqual(8);
        expect(at, op).toBeLessThanOrEqual(13);
        expect(at, op).toBeGreaterThan(OP_HISTORY[op]!.since);
      }
    }
  });

  it("lists steps in order, between opset 14 and 25, after each op's introduction", () => {
    for (const [op, h] of Object.entries(OP_HISTORY)) {
      const ats = h.steps.map((s) => s.at);
      expect(ats, op).toEqual([...ats].sort((a, b) => a - b));
      for (const at of ats) {
        expect(at, op).toBeGreaterThanOrEqual(14);
        expect(at, op).toBeLessThanOrEqual(25);
        expect(at, op).toBeGreaterThan(h.since);
      }
    }
  });
});
