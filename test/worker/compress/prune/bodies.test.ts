// Pruning finds every weight the operator table does: LSTM/GRU recurrent weights (R as well as W) and weights inside
// If branches (the branch's own initializers and outer ones a branch reads). Each is checked against a model the test
// prunes itself (the smallest half of each weight's magnitudes zeroed, per layer), both run in onnxruntime-node.
import { describe, expect, it } from "vitest";
import type { GraphProto, ModelProto, TensorProto } from "onnx-buf";
import { pruneModel } from "@worker/compress/prune";
import { PruneRecipeSchema } from "@worker/compress/recipe";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor, readFloat32 } from "@worker/onnx/tensor";
import { ifNode } from "@test/support/graphs";
import { uniform } from "@test/support/numbers";
import { floatTensor, ort, runReference } from "@test/support/ort-node";

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const float = (name: string, dims: number[], seed: number) => makeTensor(name, DT.FLOAT, dims, uniform(count(dims), seed, 0.3));
const perLayerHalf = PruneRecipeSchema.parse({ sparsity: 0.5, scope: "per-layer" });

/** The tensor with its smallest `share` of magnitudes set to zero: the reference pruning. */
function zeroSmallest(t: TensorProto, share: number): TensorProto {
  const data = readFloat32(t).slice();
  const order = [...data.keys()].sort((a, b) => Math.abs(data[a]!) - Math.abs(data[b]!));
  for (const i of order.slice(0, Math.round(share * data.length))) data[i] = 0;
  return makeTensor(t.name, DT.FLOAT, t.dims.map(Number), data);
}

/** The model with the named initializers (main graph or bodies) pruned by zeroSmallest. */
function referencePruned(model: ModelProto, names: string[]): ModelProto {
  const walk = (g: GraphProto): GraphProto => ({
    ...g,
    initializer: g.initializer.map((t) => (names.includes(t.name) ? zeroSmallest(t, 0.5) : t)),
    node: g.node.map((n) => ({ ...n, attribute: n.attribute.map((a) => (a.g ? { ...a, g: walk(a.g) } : a)) })),
  });
  return { ...model, graph: walk(model.graph!) };
}

async function expectSameOutputs(a: ModelProto, b: ModelProto, feeds: Record<string, ort.Tensor>) {
  const x = await runReference(encodeModel(a), feeds);
  const y = await runReference(encodeModel(b), feeds);
  for (const k of Object.keys(y)) expect(Array.from(x[k]!.data as Float32Array)).toEqual(Array.from(y[k]!.data as Float32Array));
}

describe("recurrent weights", () => {
  for (const op of ["LSTM", "GRU"] as const) {
    it(`${op}: W and R are both pruned, as the reference prunes them`, async () => {
      const gates = op === "LSTM" ? 4 : 3;
      const model = makeModel(
        makeGraph(
          [makeNode(op, ["x", "W", "R"], ["y"], "rnn", { hidden_size: 16 })],
          "recurrent",
          [makeValueInfo("x", DT.FLOAT, [5, 1, 8])],
          [makeValueInfo("y", DT.FLOAT, [5, 1, 1, 16])],
          [float("W", [1, gates * 16, 8], 1), float("R", [1, gates * 16, 16], 2)],
        ),
      );
      const r = pruneModel(model, perLayerHalf);
      expect(r.layers.map((l) => l.name)).toEqual(["W", "R"]);
      for (const l of r.layers) expect(l.sparsity).toBeCloseTo(0.5, 2);
      await expectSameOutputs(r.model, referencePruned(model, ["W", "R"]), { x: floatTensor(uniform(40, 3), [5, 1, 8]) });
    });
  }
});

/** If(cond): then MatMul(x, Wthen) (the branch's own initializer), else MatMul(x, Welse) (the outer graph's). */
function branches(): ModelProto {
  const branch = (name: string, w: string, init: TensorProto[]) =>
    makeGraph([makeNode("MatMul", ["x", w], [`${name}_y`], `fc_${name}`)], name, [], [makeValueInfo(`${name}_y`, DT.FLOAT, [2, 32])], init);
  return makeModel(
    makeGraph(
      [ifNode("cond", ["y"], branch("then", "Wthen", [float("Wthen", [32, 32], 4)]), branch("else", "Welse", []))],
      "branches",
      [makeValueInfo("cond", DT.BOOL, []), makeValueInfo("x", DT.FLOAT, [2, 32])],
      [makeValueInfo("y", DT.FLOAT, [2, 32])],
      [float("Welse", [32, 32], 5)],
    ),
  );
}

describe("weights inside If branches", () => {
  it("prunes the branch's own weight and the outer weight a branch reads, both branches as the reference", async () => {
    const model = branches();
    const r = pruneModel(model, perLayerHalf);
    expect(r.layers.map((l) => l.name).sort()).toEqual(["Welse", "Wthen"]);
    const reference = referencePruned(model, ["Wthen", "Welse"]);
    for (const cond of [true, false]) {
      await expectSameOutputs(r.model, reference, { cond: new ort.Tensor("bool", [cond], []), x: floatTensor(uniform(64, 6), [2, 32]) });
    }
  });

  it("takes names inside branches in exclude, and leaves branch weights alone under channel pruning, saying why", () => {
    const excluded = pruneModel(branches(), PruneRecipeSchema.parse({ sparsity: 0.5, exclude: ["Wthen"] }));
    expect(excluded.layers.map((l) => l.name)).toEqual(["Welse"]);
    expect(excluded.skipped).toEqual([{ name: "Wthen", node: "fc_then", reason: "excluded by the recipe" }]);
    const channels = pruneModel(branches(), PruneRecipeSchema.parse({ sparsity: 0.5, structure: "channel" }));
    expect(channels.layers).toEqual([]);
    expect(channels.skipped).toContainEqual({ name: "Wthen", node: "fc_then", reason: "inside an If/Loop/Scan body: channel pruning rewrites the main graph only" });
  });

  it("does not remove channels of a layer whose output a branch reads", () => {
    // x -> MatMul(W1) -> h; If(cond) then Relu(h) else Neg(h): h's channels run into the branches.
    const relu = makeGraph([makeNode("Relu", ["h"], ["a_y"], "relu")], "a", [], [makeValueInfo("a_y", DT.FLOAT, [2, 16])]);
    const neg = makeGraph([makeNode("Neg", ["h"], ["b_y"], "neg")], "b", [], [makeValueInfo("b_y", DT.FLOAT, [2, 16])]);
    const model = makeModel(
      makeGraph(
        [makeNode("MatMul", ["x", "W1"], ["h"], "fc1"), ifNode("cond", ["y"], relu, neg)],
        "g",
        [makeValueInfo("cond", DT.BOOL, []), makeValueInfo("x", DT.FLOAT, [2, 8])],
        [makeValueInfo("y", DT.FLOAT, [2, 16])],
        [float("W1", [8, 16], 7)],
      ),
    );
    const r = pruneModel(model, PruneRecipeSchema.parse({ sparsity: 0.5, structure: "channel" }));
    expect(r.layers).toEqual([]);
    expect(r.skipped).toContainEqual({ name: "W1", node: "fc1", reason: expect.stringMatching(/If node 'if'/) });
  });
});
