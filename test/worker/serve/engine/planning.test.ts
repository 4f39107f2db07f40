// The engine's planner: graphs in any topological order, plans specialised per input shape (shape arithmetic folds
// for each shape; weights are packed once, also where shape arithmetic makes an equal constant again), integer and
// bool graph inputs and outputs, per-node profiles.
import { describe, expect, it } from "vitest";
import * as ortNode from "onnxruntime-node";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { createKernelSession, foldsNearUse, kernelCoverage, topoOrder, type NodeTiming } from "@worker/serve/engine";
import { decodeModel } from "@worker/onnx/codec";
import { loadKernels, maxRelDiff, runReference } from "@test/support/engine";
import { plainKernelModule } from "@test/support/kernels";
import { inputMaker } from "@test/support/op-graphs";

const { rand } = inputMaker(20261202);

/** x [B, 6] -> MatMul W [6, 6] -> Reshape to Shape(y) (y [B, 2, 3], a second input) -> Relu: a shape read at run time. */
function shapeFollowingModel(): Uint8Array {
  const w = makeTensor("w", DT.FLOAT, [6, 6], rand(36));
  const nodes = [
    makeNode("MatMul", ["x", "w"], ["h"], "mm"),
    makeNode("Shape", ["y"], ["target"], "shape"),
    makeNode("Reshape", ["h", "target"], ["r"], "reshape"),
    makeNode("Relu", ["r"], ["out"], "relu"),
  ];
  const graph = makeGraph(
    nodes,
    "shape-following",
    [makeValueInfo("x", DT.FLOAT, ["batch", 6]), makeValueInfo("y", DT.FLOAT, ["batch", 2, 3])],
    [makeValueInfo("out", DT.FLOAT, ["batch", 2, 3])],
    [w],
  );
  return encodeModel(makeModel(graph));
}

describe("the kernel engine's planner", () => {
  it("orders nodes listed out of dependency order, and runs them as onnxruntime does", async () => {
    const w = makeTensor("w", DT.FLOAT, [5, 4], rand(20));
    const nodes = [makeNode("Relu", ["h"], ["out"], "relu"), makeNode("Sigmoid", ["m"], ["h"], "sig"), makeNode("MatMul", ["x", "w"], ["m"], "mm")];
    const graph = makeGraph(nodes, "reversed", [makeValueInfo("x", DT.FLOAT, [3, 5])], [makeValueInfo("out", DT.FLOAT, [3, 4])], [w]);
    const bytes = encodeModel(makeModel(graph));
    const feeds = { x: { dims: [3, 5], data: rand(15) } };
    const session = loadKernels(bytes);
    const got = await session.run({ x: { type: "float32", ...feeds.x } });
    const ref = await runReference(bytes, feeds);
    expect(maxRelDiff(got.out!.data as Float32Array, ref.out!.data)).toBeLessThan(1e-5);
  });

  it("orders a 20000-node chain given in reverse", () => {
    const n = 20000;
    const nodes = Array.from({ length: n }, (_, i) => makeNode("Relu", [i === 0 ? "x" : `t${i - 1}`], [`t${i}`], `r${i}`)).reverse();
    const order = topoOrder(nodes, new Set(["x"]));
    expect(order.map((node) => node.name)).toEqual(Array.from({ length: n }, (_, i) => `r${i}`));
  });

  it("plans each weight's fold just before the node that reads it, and a fused chain's constants before its linear op", () => {
    // Kahn's order puts every node of constants first: all weights would be decoded before the first is packed.
    const nodes = [
      makeNode("DequantizeLinear", ["q1", "s1"], ["w1"], "dq1"),
      makeNode("DequantizeLinear", ["q2", "s2"], ["w2"], "dq2"),
      makeNode("Constant", [], ["hi"], "six"),
      makeNode("MatMul", ["x", "w1"], ["h"], "mm1"),
      makeNode("Clip", ["h", "", "hi"], ["c"], "clip"),
      makeNode("MatMul", ["c", "w2"], ["y"], "mm2"),
    ];
    const order = foldsNearUse(topoOrder(nodes, new Set(["x", "q1", "s1", "q2", "s2"])), new Set(["q1", "s1", "q2", "s2"]));
    expect(order.map((n) => n.name)).toEqual(["dq1", "six", "mm1", "clip", "dq2", "mm2"]);
  });

  it("moves folds behind a chain of 50000 constant nodes without deep recursion", () => {
    const n = 50000;
    const chain = Array.from({ length: n }, (_, i) => makeNode("Identity", [i === 0 ? "w" : `c${i - 1}`], [`c${i}`], `id${i}`));
    const order = foldsNearUse([...chain, makeNode("MatMul", ["x", `c${n - 1}`], ["y"], "mm")], new Set(["w"]));
    expect(order).toHaveLength(n + 1);
    expect(order[0]!.name).toBe("id0");
    expect(order[n]!.name).toBe("mm");
  });

  it("refuses a graph that reads a tensor nothing produces", () => {
    const graph = makeGraph([makeNode("Relu", ["ghost"], ["out"], "relu")], "g", [makeValueInfo("x", DT.FLOAT, [2])], [makeValueInfo("out", DT.FLOAT, [2])], []);
    expect(kernelCoverage(makeModel(graph), plainKernelModule)).toMatch(/'ghost'/);
  });

  it("specialises the plan per input shape: a reshape target read from a run-time shape follows each batch size", async () => {
    const bytes = shapeFollowingModel();
    const session = loadKernels(bytes);
    for (const batch of [1, 3, 7, 3, 1]) {
      const feeds = { x: { dims: [batch, 6], data: rand(batch * 6) }, y: { dims: [batch, 2, 3], data: rand(batch * 6) } };
      const got = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { type: "float32", ...v }])));
      const ref = await runReference(bytes, feeds);
      expect(got.out!.dims).toEqual([batch, 2, 3]);
      expect(maxRelDiff(got.out!.data as Float32Array, ref.out!.data)).toBeLessThan(1e-5);
    }
  });

  it("packs weights once: more input shapes grow only the activation arena, never the packed weights", async () => {
    const session = loadKernels(shapeFollowingModel());
    const run = (batch: number) => session.run({ x: { type: "float32", dims: [batch, 6], data: rand(batch * 6) }, y: { type: "float32", dims: [batch, 2, 3], data: rand(batch * 6) } });
    for (const batch of [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]) await run(batch); // more shapes than the plans kept
    const after = session.residentBytes;
    for (const batch of [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]) await run(batch);
    expect(session.residentBytes).toBe(after);
  });

  it("keeps a node's plan and packed weights where shape arithmetic makes an equal constant again (torch's LSTM initial state)", async () => {
    // h0 = ConstantOfShape([1, batch, H]) with batch read from Shape(x), as torch exports nn.LSTM: each new sequence
    // length makes h0 again, equal in value; the LSTM must not pack W and R once more for it.
    const [I, H] = [64, 128];
    const i64 = (name: string, dims: number[], v: number[]) => makeTensor(name, DT.INT64, dims, new Int32Array(v.flatMap((x) => [x, 0])));
    const nodes = [
      makeNode("Shape", ["x"], ["shape"], "shape"),
      makeNode("Gather", ["shape", "one"], ["batch"], "batch", { axis: 0 }),
      makeNode("Unsqueeze", ["batch", "axes"], ["batch1"], "batch1"),
      makeNode("Concat", ["ones", "batch1", "hidden"], ["h0shape"], "h0shape", { axis: 0 }),
      makeNode("ConstantOfShape", ["h0shape"], ["h0"], "h0"),
      makeNode("LSTM", ["x", "w", "r", "", "", "h0"], ["", "y"], "lstm", { hidden_size: H }),
    ];
    const graph = makeGraph(
      nodes,
      "lstm-h0",
      [makeValueInfo("x", DT.FLOAT, ["seq", 1, I])],
      [makeValueInfo("y", DT.FLOAT, [1, 1, H])],
      [
        i64("one", [], [1]),
        i64("axes", [1], [0]),
        i64("ones", [1], [1]),
        i64("hidden", [1], [H]),
        makeTensor("w", DT.FLOAT, [1, 4 * H, I], rand(4 * H * I, 0.2)),
        makeTensor("r", DT.FLOAT, [1, 4 * H, H], rand(4 * H * H, 0.2)),
      ],
    );
    const bytes = encodeModel(makeModel(graph));
    const session = loadKernels(bytes);
    const atLoad = session.residentBytes;
    for (const seq of [2, 3, 4, 5]) {
      const feeds = { x: { dims: [seq, 1, I], data: rand(seq * I) } };
      const got = await session.run({ x: { type: "float32", ...feeds.x } });
      const ref = await runReference(bytes, feeds);
      expect(maxRelDiff(got.y!.data as Float32Array, ref.y!.data)).toBeLessThan(1e-5);
    }
    // Packing W and R again for each of the four shapes would add four times weightBytes; their arenas are small.
    expect(session.weightBytes).toBeGreaterThan(4 * H * (I + H) * 4);
    expect(session.residentBytes - atLoad).toBeLessThan(session.weightBytes / 2);
  });

  it("accepts int64 inputs and declares int64 outputs, as onnxruntime reads and writes them", async () => {
    const nodes = [makeNode("Cast", ["ids"], ["f"], "cast", { to: DT.FLOAT }), makeNode("Relu", ["f"], ["out"], "relu"), makeNode("Identity", ["ids"], ["echo"], "echo")];
    const graph = makeGraph(
      nodes,
      "ints",
      [makeValueInfo("ids", DT.INT64, [2, 5])],
      [makeValueInfo("out", DT.FLOAT, [2, 5]), makeValueInfo("echo", DT.INT64, [2, 5])],
      [],
    );
    const bytes = encodeModel(makeModel(graph));
    const ids = BigInt64Array.from([3, -2, 0, 70000, 5, 1, 9, -8, 2, 16777216].map(BigInt));
    const loaded = createKernelSession(decodeModel(bytes), plainKernelModule);
    expect(loaded.reason).toBeNull();
    const got = await loaded.session!.run({ ids: { type: "int64", dims: [2, 5], data: ids } });
    const ort = await ortNode.InferenceSession.create(bytes);
    const ref = await ort.run({ ids: new ortNode.Tensor("int64", ids, [2, 5]) });
    expect(Array.from(got.out!.data as Float32Array)).toEqual(Array.from(ref.out!.data as Float32Array));
    expect(got.echo!.type).toBe("int64");
    expect(Array.from(got.echo!.data as BigInt64Array)).toEqual(Array.from(ref.echo!.data as BigInt64Array));
  });

  it("refuses integer inputs beyond 2^24, which float32 would not hold exactly", async () => {
    const graph = makeGraph([makeNode("Identity", ["ids"], ["echo"], "echo")], "ints", [makeValueInfo("ids", DT.INT64, [1])], [makeValueInfo("echo", DT.INT64, [1])], []);
    const session = loadKernels(encodeModel(makeModel(graph)));
    await expect(session.run({ ids: { type: "int64", dims: [1], data: BigInt64Array.from([16777217n]) } })).rejects.toThrow(/2\^24/);
  });

  it("times each step when asked for a profile", async () => {
    const session = loadKernels(shapeFollowingModel());
    const profile: NodeTiming[] = [];
    await session.run({ x: { type: "float32", dims: [2, 6], data: rand(12) }, y: { type: "float32", dims: [2, 2, 3], data: rand(12) } }, { profile });
    expect(profile.map((p) => p.op)).toEqual(["MatMul", "Reshape", "Relu"]);
    for (const p of profile) expect(p.ms).toBeGreaterThanOrEqual(0);
  });
});
