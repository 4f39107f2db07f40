// The kernel engine's activation arena (serve/engine/arena.ts): laid out from lifetimes, so a chain needs two tensors'
// room rather than all of them (one where elementwise maps run in place over values nothing reads after them), while values read late, graph outputs, and views that outlive the name they view keep
// their memory; a run whose sizes follow the data leaves the plan and stays correct. Each graph's outputs are checked
// against onnxruntime-node on the same model (1e-5 relative).
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { Arena } from "@worker/serve/engine/arena";
import { KernelInstance } from "@worker/serve/wasm/runtime";
import { loadKernels, maxRelDiff, runReference, type Feeds } from "@test/support/engine";
import { plainKernelModule } from "@test/support/kernels";
import { inputMaker } from "@test/support/op-graphs";

const { rand } = inputMaker(20261215);

const DIMS = [1, 64, 32, 32];
/** Bytes of one [1, 64, 32, 32] float32 tensor. */
const TENSOR = 64 * 32 * 32 * 4;

const int64 = (name: string, values: number[]) =>
  makeTensor(name, DT.INT64, [values.length], new Int32Array(values.flatMap((v) => [v, v < 0 ? -1 : 0])));

/** Runs `bytes` on a fresh engine session and on onnxruntime-node, twice with new data; every output agrees. */
async function agrees(bytes: Uint8Array, feeds: () => Feeds) {
  const session = loadKernels(bytes);
  for (let round = 0; round < 2; round++) {
    const f = feeds();
    const got = await session.run(Object.fromEntries(Object.entries(f).map(([k, v]) => [k, { type: "float32", ...v }])));
    const ref = await runReference(bytes, f);
    for (const [name, r] of Object.entries(ref)) {
      expect(got[name]!.dims, name).toEqual(r.dims);
      expect(maxRelDiff(got[name]!.data as Float32Array, r.data), name).toBeLessThan(1e-5);
    }
  }
  return session;
}

describe("the engine's activation arena", () => {
  it("runs an 8-op chain of maps in one tensor's room (each written over the value before it), not nine", async () => {
    const ops = ["Relu", "Sigmoid", "Tanh", "Neg", "Abs", "Sqrt", "Exp", "Log"];
    const nodes = ops.map((op, i) => makeNode(op, [i === 0 ? "x" : `t${i - 1}`], [i === ops.length - 1 ? "y" : `t${i}`], `n${i}`));
    const graph = makeGraph(nodes, "chain", [makeValueInfo("x", DT.FLOAT, DIMS)], [makeValueInfo("y", DT.FLOAT, DIMS)]);
    const bytes = encodeModel(makeModel(graph));
    const session = await agrees(bytes, () => ({ x: { dims: DIMS, data: rand(TENSOR / 4) } }));
    const activations = (ops.length + 1) * TENSOR; // x and every node's output
    expect(session.arenaBytes).toBe(TENSOR);
    expect(session.arenaBytes).toBeLessThan(activations / 8);
    // Resident memory is the instance's initial memory plus that arena (rounded up to whole 64 KiB pages): the arena
    // planned at load is all the runs needed.
    const initial = new KernelInstance(plainKernelModule).residentBytes;
    expect(session.residentBytes).toBeLessThanOrEqual(initial + TENSOR + 65536);
  });

  it("runs a chain of ops that write new tensors (same-shape Adds of a value and the input) in two tensors' room and x's", async () => {
    const nodes = Array.from({ length: 6 }, (_, i) => makeNode("Add", [i === 0 ? "x" : `t${i - 1}`, "x"], [i === 5 ? "y" : `t${i}`], `n${i}`));
    const graph = makeGraph(nodes, "adds", [makeValueInfo("x", DT.FLOAT, DIMS)], [makeValueInfo("y", DT.FLOAT, DIMS)]);
    const session = await agrees(encodeModel(makeModel(graph)), () => ({ x: { dims: DIMS, data: rand(TENSOR / 4) } }));
    expect(session.arenaBytes).toBe(3 * TENSOR);
  });

  it("keeps a value read early and late, and a graph output read on the way, through a diamond", async () => {
    // a feeds b, d and the last node; b is a graph output that e also reads: freeing either after its first reader,
    // or at all for b, would let later tensors overwrite them.
    const nodes = [
      makeNode("Relu", ["x"], ["a"], "a"),
      makeNode("Sigmoid", ["a"], ["b"], "b"),
      makeNode("Tanh", ["b"], ["c"], "c"),
      makeNode("Mul", ["c", "a"], ["d"], "d"),
      makeNode("Neg", ["d"], ["e0"], "e0"),
      makeNode("Add", ["e0", "b"], ["e"], "e"),
      makeNode("Exp", ["e"], ["f"], "f"),
      makeNode("Sub", ["f", "a"], ["y"], "y"),
    ];
    const graph = makeGraph(nodes, "diamond", [makeValueInfo("x", DT.FLOAT, DIMS)], [makeValueInfo("y", DT.FLOAT, DIMS), makeValueInfo("b", DT.FLOAT, DIMS)]);
    const bytes = encodeModel(makeModel(graph));
    const session = await agrees(bytes, () => ({ x: { dims: DIMS, data: rand(TENSOR / 4) } }));
    // Live at once at most: x or a, a, b, the value read and the one written.
    expect(session.arenaBytes).toBeLessThanOrEqual(5 * TENSOR);
    expect(session.arenaBytes).toBeLessThan(9 * TENSOR);
  });

  it("keeps a view's memory after the name it views is read for the last time, and a graph output that is a view", async () => {
    // r is a view of a (Reshape), so a's last reader is the Reshape; m is written after it while r is still to be
    // read. o is a graph output viewing m, whose name is dead after Flatten and Tanh. Reusing a's memory for m, or
    // m's for n, as a count of names alone would allow, changes y and o.
    const nodes = [
      makeNode("Relu", ["x"], ["a"], "a"),
      makeNode("Reshape", ["a", "shape"], ["r"], "r"),
      makeNode("Sigmoid", ["r"], ["m"], "m"),
      makeNode("Flatten", ["m"], ["o"], "o", { axis: 1 }),
      makeNode("Tanh", ["m"], ["n"], "n"),
      makeNode("Neg", ["n"], ["n2"], "n2"),
      makeNode("Add", ["r", "n2"], ["y"], "y"),
    ];
    const graph = makeGraph(
      nodes,
      "views",
      [makeValueInfo("x", DT.FLOAT, DIMS)],
      [makeValueInfo("y", DT.FLOAT, [64, 1024]), makeValueInfo("o", DT.FLOAT, [64, 1024])],
      [int64("shape", [64, 1024])],
    );
    const bytes = encodeModel(makeModel(graph));
    await agrees(bytes, () => ({ x: { dims: DIMS, data: rand(TENSOR / 4) } }));
  });

  it("stays correct where a size follows the data (Range to a fed limit): the run leaves the plan made at load", async () => {
    const nodes = [
      makeNode("Range", ["start", "limit", "delta"], ["r"], "range"),
      makeNode("Sigmoid", ["r"], ["s"], "s"),
      makeNode("Mul", ["s", "r"], ["m"], "m"),
      makeNode("Tanh", ["m"], ["t"], "t"),
      makeNode("Add", ["t", "s"], ["y"], "y"),
    ];
    const scalar = (name: string, v: number) => makeTensor(name, DT.FLOAT, [], Float32Array.of(v));
    const graph = makeGraph(nodes, "range", [makeValueInfo("limit", DT.FLOAT, [])], [makeValueInfo("y", DT.FLOAT, ["n"])], [scalar("start", 0), scalar("delta", 0.5)]);
    const bytes = encodeModel(makeModel(graph, { "": 13 }));
    const session = loadKernels(bytes);
    for (const limit of [3, 1000, 2, 7000.25]) {
      const feeds: Feeds = { limit: { dims: [], data: Float32Array.of(limit) } };
      const got = await session.run({ limit: { type: "float32", ...feeds.limit! } });
      const ref = await runReference(bytes, feeds);
      expect(got.y!.dims).toEqual(ref.y!.dims);
      expect(maxRelDiff(got.y!.data as Float32Array, ref.y!.data), `limit ${limit}`).toBeLessThan(1e-5);
    }
  });

  it("runs an elementwise map in place over a value nothing reads after it: Relu, Sigmoid and Swish in one tensor's room", async () => {
    const nodes = [makeNode("Relu", ["x"], ["a"], "a"), makeNode("Sigmoid", ["a"], ["b"], "b"), makeNode("Swish", ["b"], ["y"], "c", { alpha: { float: 0.5 } })];
    const graph = makeGraph(nodes, "in-place", [makeValueInfo("x", DT.FLOAT, DIMS)], [makeValueInfo("y", DT.FLOAT, DIMS)]);
    const bytes = encodeModel(makeModel(graph, { "": 24 }, 10));
    const session = await agrees(bytes, () => ({ x: { dims: DIMS, data: rand(TENSOR / 4) } }));
    expect(session.arenaBytes).toBe(TENSOR);
  });

  it("runs a static grid's QuantizeLinear then DequantizeLinear in place, as maps: Relu, the pair and Relu in one tensor's room", async () => {
    const nodes = [
      makeNode("Relu", ["x"], ["a"], "a"),
      makeNode("QuantizeLinear", ["a", "s", "z"], ["q"], "q"),
      makeNode("DequantizeLinear", ["q", "s", "z"], ["d"], "d"),
      makeNode("Relu", ["d"], ["y"], "y"),
    ];
    const init = [makeTensor("s", DT.FLOAT, [], new Float32Array([0.02])), makeTensor("z", DT.UINT8, [], new Uint8Array([3]))];
    const graph = makeGraph(nodes, "qdq", [makeValueInfo("x", DT.FLOAT, DIMS)], [makeValueInfo("y", DT.FLOAT, DIMS)], init);
    const session = await agrees(encodeModel(makeModel(graph, { "": 13 })), () => ({ x: { dims: DIMS, data: rand(TENSOR / 4) } }));
    expect(session.arenaBytes).toBe(TENSOR);
  });

  it("writes no map's output over a value read later, kept as a graph output, or shared with a view", async () => {
    const viewDims = [1, 64, 1024];
    const nodes = [
      makeNode("Sigmoid", ["x"], ["a"], "a"), // x is read again by the Mul
      makeNode("Mul", ["a", "x"], ["b"], "b"),
      makeNode("Relu", ["b"], ["c"], "c"), // b is a graph output
      makeNode("Reshape", ["c", "shape"], ["r"], "r"), // r views c, which the Add reads after the Sigmoid of r
      makeNode("Sigmoid", ["r"], ["s"], "s"),
      makeNode("Reshape", ["s", "back"], ["t"], "t"),
      makeNode("Add", ["t", "c"], ["y"], "y"),
    ];
    const graph = makeGraph(
      nodes,
      "not-in-place",
      [makeValueInfo("x", DT.FLOAT, DIMS)],
      [makeValueInfo("y", DT.FLOAT, DIMS), makeValueInfo("b", DT.FLOAT, DIMS)],
      [int64("shape", viewDims), int64("back", DIMS)],
    );
    await agrees(encodeModel(makeModel(graph)), () => ({ x: { dims: DIMS, data: rand(TENSOR / 4) } }));
  });
});

describe("Arena", () => {
  /** Allocations live at once never overlap: [ptr, ptr + bytes) of each against the others. */
  const disjoint = (blocks: { ptr: number; bytes: number }[]) =>
    blocks.every((a, i) => blocks.every((b, j) => i === j || a.ptr + a.bytes <= b.ptr || b.ptr + b.bytes <= a.ptr));

  it("places first fit in schedule order, reuses what is freed, and a replay of the same events gets the same offsets", () => {
    const kx = new KernelInstance(plainKernelModule);
    const trace = new Arena(kx, null);
    const a = trace.alloc(100); // 112 bytes
    const b = trace.alloc(64);
    trace.release(trace.hold(a)!);
    const c = trace.alloc(50); // fits where a was
    const d = trace.alloc(200); // does not: after b
    expect([a - trace.base, b - trace.base, c - trace.base, d - trace.base]).toEqual([0, 112, 0, 176]);
    const plan = trace.toPlan();
    expect(plan.peak).toBe(176 + 208);

    const replay = new Arena(kx, plan);
    const a2 = replay.alloc(100);
    const b2 = replay.alloc(64);
    replay.release(replay.hold(a2)!);
    expect([a2, b2, replay.alloc(50), replay.alloc(200)].map((p) => p - replay.base)).toEqual([0, 112, 0, 176]);
    expect(replay.offPlan).toBe(false);
  });

  it("leaves the plan at the first event that differs, and places the rest above the plan's peak", () => {
    const kx = new KernelInstance(plainKernelModule);
    const trace = new Arena(kx, null);
    const a = trace.alloc(64);
    trace.release(trace.hold(a)!);
    trace.alloc(64); // where a was
    const plan = trace.toPlan();

    // The run keeps a (a view of it lives longer here): the next allocation would land on it under the plan.
    const run = new Arena(kx, plan);
    const a2 = run.alloc(64);
    run.hold(a2);
    const next = run.alloc(64);
    expect(run.offPlan).toBe(true);
    expect(next - run.base).toBeGreaterThanOrEqual(plan.peak);
    expect(disjoint([{ ptr: a2, bytes: 64 }, { ptr: next, bytes: 64 }])).toBe(true);
  });

  it("frees a kernel's scratch at its reset, and keeps what a value holds", () => {
    const kx = new KernelInstance(plainKernelModule);
    const arena = new Arena(kx, null);
    const kept = arena.alloc(32);
    const mark = arena.mark();
    const out = arena.alloc(32);
    arena.hold(out);
    arena.alloc(1024); // scratch
    arena.reset(mark);
    const after = arena.alloc(16); // first fit: where the scratch was
    expect(after - arena.base).toBe(64);
    expect(disjoint([{ ptr: kept, bytes: 32 }, { ptr: out, bytes: 32 }, { ptr: after, bytes: 16 }])).toBe(true);
  });
});
