// distinctScopeNames: a name that sibling bodies both define (two If branches' initializers) is renamed in every
// body but the first to define it (in attribute order: else_branch sorts before then_branch), with the reads that
// resolve to each definition rewritten; the top graph's names never change, a body redefining a name of a graph
// around it is left as it is, the model computes the same outputs in onnxruntime-node, and a model without such
// names comes back as the same object.
import { describe, expect, it } from "vitest";
import type { GraphProto, ModelProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { distinctScopeNames } from "@worker/onnx/scopes";
import { makeTensor } from "@worker/onnx/tensor";
import { ifNode } from "@test/support/graphs";
import { mlpModel } from "@test/support/models";
import { uniform } from "@test/support/numbers";
import { floatTensor, ort, runReference } from "@test/support/ort-node";

const float = (name: string, dims: number[], seed: number) => makeTensor(name, DT.FLOAT, dims, uniform(dims.reduce((a, b) => a * b, 1), seed));
const branchOf = (model: ModelProto, which: "then_branch" | "else_branch", node = 0): GraphProto =>
  model.graph!.node[node]!.attribute.find((a) => a.name === which)!.g!;

/** If(cond) over x[2,4]: each branch Add(x, W) with its own initializer W, then Relu into an output named r. */
function twoBranchesNamedAlike(): ModelProto {
  const branch = (name: string, seed: number) =>
    makeGraph(
      [makeNode("Add", ["x", "W"], ["r_in"], `add_${name}`), makeNode("Relu", ["r_in"], ["r"], `relu_${name}`)],
      name,
      [],
      [makeValueInfo("r", DT.FLOAT, [2, 4])],
      [float("W", [2, 4], seed)],
    );
  return makeModel(
    makeGraph(
      [ifNode("cond", ["y"], branch("then", 1), branch("else", 2))],
      "g",
      [makeValueInfo("cond", DT.BOOL, []), makeValueInfo("x", DT.FLOAT, [2, 4])],
      [makeValueInfo("y", DT.FLOAT, [2, 4])],
    ),
  );
}

async function sameOutputs(a: ModelProto, b: ModelProto, feeds: Record<string, ort.Tensor>[]) {
  for (const f of feeds) {
    const ra = await runReference(encodeModel(a), f);
    const rb = await runReference(encodeModel(b), f);
    for (const k of Object.keys(ra)) expect(Array.from(rb[k]!.data as Float32Array)).toEqual(Array.from(ra[k]!.data as Float32Array));
  }
}

const feeds = [true, false].map((c) => ({ cond: new ort.Tensor("bool", [c], []), x: floatTensor(uniform(8, 3), [2, 4]) }));

describe("distinctScopeNames", () => {
  it("keeps the first branch's names and renames the second's initializer, node outputs and body output", async () => {
    const model = twoBranchesNamedAlike();
    const out = distinctScopeNames(model);
    const then = branchOf(out, "then_branch");
    expect(branchOf(out, "else_branch")).toBe(branchOf(model, "else_branch"));
    expect(then.initializer.map((t) => t.name)).toEqual(["W_1"]);
    expect(then.node.map((n) => [n.input, n.output])).toEqual([
      [["x", "W_1"], ["r_in_1"]],
      [["r_in_1"], ["r_1"]],
    ]);
    expect(then.output.map((v) => v.name)).toEqual(["r_1"]);
    expect(out.graph!.input.map((v) => v.name)).toEqual(["cond", "x"]);
    await sameOutputs(model, out, feeds);
  });

  it("leaves a body's definition that shadows an outer name as it is (onnxruntime reads the outer one)", () => {
    // Outer: W (initializer) read by the outer Add and by the then branch; the else branch defines its own W.
    const then = makeGraph([makeNode("Mul", ["x", "W"], ["t"], "mul_then")], "then", [], [makeValueInfo("t", DT.FLOAT, [2, 4])]);
    const otherwise = makeGraph([makeNode("Sub", ["x", "W"], ["e"], "sub_else")], "else", [], [makeValueInfo("e", DT.FLOAT, [2, 4])], [float("W", [2, 4], 5)]);
    const model = makeModel(
      makeGraph(
        [ifNode("cond", ["b"], then, otherwise), makeNode("Add", ["b", "W"], ["y"], "add")],
        "g",
        [makeValueInfo("cond", DT.BOOL, []), makeValueInfo("x", DT.FLOAT, [2, 4])],
        [makeValueInfo("y", DT.FLOAT, [2, 4])],
        [float("W", [2, 4], 4)],
      ),
    );
    expect(distinctScopeNames(model)).toBe(model);
  });

  it("resolves a nested body's read of a renamed name to its renamed definition", async () => {
    // The then branch (visited second) defines W again and holds an inner If whose branches read W: those reads are
    // the then branch's W, renamed with it; the else branch keeps its W.
    const leaf = (name: string) => makeGraph([makeNode("Neg", ["W"], [`n_${name}`], `neg_${name}`)], name, [], [makeValueInfo(`n_${name}`, DT.FLOAT, [2, 4])]);
    const otherwise = makeGraph([makeNode("Identity", ["x"], ["e"], "id_else")], "else", [], [makeValueInfo("e", DT.FLOAT, [2, 4])], [float("W", [2, 4], 6)]);
    const then = makeGraph([ifNode("cond", ["t"], leaf("a"), leaf("b"), "inner")], "then", [], [makeValueInfo("t", DT.FLOAT, [2, 4])], [float("W", [2, 4], 7)]);
    const model = makeModel(
      makeGraph([ifNode("cond", ["y"], then, otherwise)], "g", [makeValueInfo("cond", DT.BOOL, []), makeValueInfo("x", DT.FLOAT, [2, 4])], [makeValueInfo("y", DT.FLOAT, [2, 4])]),
    );
    const out = distinctScopeNames(model);
    const inner = branchOf(out, "then_branch").node[0]!;
    for (const b of inner.attribute) expect(b.g!.node[0]!.input).toEqual(["W_1"]);
    expect(branchOf(out, "then_branch").initializer.map((t) => t.name)).toEqual(["W_1"]);
    expect(branchOf(out, "else_branch").initializer.map((t) => t.name)).toEqual(["W"]);
    await sameOutputs(model, out, feeds);
  });

  it("gives back the same object when every name is defined once", () => {
    const model = mlpModel([8, 4, 2]);
    expect(distinctScopeNames(model)).toBe(model);
  });
});
