// The output budget inside the kernel engine (serve/engine/values.ts RunState, its arena in serve/engine/arena.ts): every
// activation is checked before it is allocated, so a broadcasting graph that would turn a small input into a 100 MB
// tensor fails with a 413 naming the node and the output, and the instance's memory does not grow for it; a run
// stops at the graph output that takes the answer over its budget.
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { LimitError, MAX_OUTPUT_ELEMENTS, MAX_RUN_ARENA_BYTES, MAX_TENSOR_ELEMENTS, runArenaBudget } from "@worker/onnx/limits";
import { makeTensor } from "@worker/onnx/tensor";
import { DomainError } from "@worker/domain-error";
import { createKernelSession } from "@worker/serve/engine";
import { RunState } from "@worker/serve/engine/values";
import { KernelInstance } from "@worker/serve/wasm/runtime";
import { plainKernelModule } from "@test/support/kernels";

const ones = (dims: number[]) => ({ type: "float32", dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(1) });

describe("RunState.alloc", () => {
  it("refuses negative and fractional dims, and tensors over MAX_TENSOR_ELEMENTS, before allocating", () => {
    const kx = new KernelInstance(plainKernelModule);
    const run = new RunState(kx);
    const before = kx.residentBytes;
    expect(() => run.alloc([-2, -3])).toThrow(/would have dims \[-2,-3\]/);
    expect(() => run.alloc([1.5])).toThrow(RangeError);
    expect(() => run.alloc([MAX_TENSOR_ELEMENTS + 1], "big")).toThrow(/tensor 'big' would hold 12582913 elements.*MAX_TENSOR_ELEMENTS/);
    expect(kx.residentBytes).toBe(before);
  });

  it("bounds what one run holds at once (MAX_RUN_ARENA_BYTES), and not what is allocated outside a run", () => {
    const kx = new KernelInstance(plainKernelModule);
    const run = new RunState(kx);
    const quarter = MAX_RUN_ARENA_BYTES / 4 / 4; // elements of a quarter of the arena
    for (let i = 0; i < 4; i++) run.alloc([quarter - 16]);
    expect(() => run.alloc([1024])).toThrow(LimitError);
    run.close();
    expect(() => kx.alloc(64)).not.toThrow();
  });
});

describe("a broadcasting graph", () => {
  // y = a + b with a [1, N] and b [N, 1]: two small inputs, an N x N output.
  const broadcast = () =>
    makeModel(makeGraph([makeNode("Add", ["a", "b"], ["y"], "widen")], "g",
      [makeValueInfo("a", DT.FLOAT, [1, "N"]), makeValueInfo("b", DT.FLOAT, ["N", 1])], [makeValueInfo("y", DT.FLOAT, ["N", "N"])]));

  it("answers an output over the budget with a 413 naming the node and the output; the memory does not grow for it", async () => {
    const loaded = createKernelSession(broadcast(), plainKernelModule);
    if (!loaded.session) throw new Error(`not covered: ${loaded.reason}`);
    const s = loaded.session;
    await s.run({ a: ones([1, 8]), b: ones([8, 1]) });
    const resident = s.residentBytes;
    let err: unknown;
    try {
      await s.run({ a: ones([1, 5000]), b: ones([5000, 1]) }); // 25M elements, 100 MB of float32
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe("payload_too_large");
    expect((err as Error).message).toMatch(/node widen computing 'y'.*25000000 elements.*MAX_TENSOR_ELEMENTS/);
    expect(s.residentBytes).toBe(resident);
    const small = await s.run({ a: ones([1, 3]), b: ones([3, 1]) });
    expect([...(small.y!.data as Float32Array)]).toEqual(new Array(9).fill(2));
  });
});

describe("the output budget during a run", () => {
  it("stops the run at the first graph output that takes the answer over MAX_OUTPUT_ELEMENTS, before later nodes run", async () => {
    // y1 = Relu(x) is an output of 600K elements; y2 = Tile(x, [30, 1]) would then need 18M elements (over
    // MAX_TENSOR_ELEMENTS): the run must stop at y1, so the error names the output budget, not the tensor bound.
    const graph = makeGraph(
      [makeNode("Relu", ["x"], ["y1"], "first"), makeNode("Tile", ["x", "reps"], ["y2"], "second")],
      "g",
      [makeValueInfo("x", DT.FLOAT, [1, "N"])],
      [makeValueInfo("y1", DT.FLOAT, [1, "N"]), makeValueInfo("y2", DT.FLOAT, [30, "N"])],
      [makeTensor("reps", DT.INT64, [2], new Int32Array(BigInt64Array.from([30n, 1n]).buffer))],
    );
    const loaded = createKernelSession(makeModel(graph), plainKernelModule);
    if (!loaded.session) throw new Error(`not covered: ${loaded.reason}`);
    expect(MAX_OUTPUT_ELEMENTS).toBeLessThan(600_000);
    expect(30 * 600_000).toBeGreaterThan(MAX_TENSOR_ELEMENTS);
    await expect(loaded.session.run({ x: ones([1, 600_000]) })).rejects.toThrow(/more than 524288 elements together, at output 'y1' \(MAX_OUTPUT_ELEMENTS\)/);
    const small = await loaded.session.run({ x: ones([1, 4]) });
    expect(small.y2!.dims).toEqual([30, 4]);
  });
});

describe("a request's share of the run budget (runArenaBudget)", () => {
  // x [N, 8] -> MatMul [8, 16] -> Relu -> MatMul [16, 4]: at N rows the hidden activation is 64 N bytes beside x's 32 N.
  const mlp = () =>
    makeModel(
      makeGraph(
        [makeNode("MatMul", ["x", "w1"], ["h"], "fc1"), makeNode("Relu", ["h"], ["a"], "relu"), makeNode("MatMul", ["a", "w2"], ["y"], "fc2")],
        "g",
        [makeValueInfo("x", DT.FLOAT, ["N", 8])],
        [makeValueInfo("y", DT.FLOAT, ["N", 4])],
        [makeTensor("w1", DT.FLOAT, [8, 16], new Float32Array(128).fill(0.1)), makeTensor("w2", DT.FLOAT, [16, 4], new Float32Array(64).fill(0.1))],
      ),
    );

  it("leaves MAX_RUN_ARENA_BYTES less three times the request's inputs, and never less than nothing", () => {
    expect(runArenaBudget(0)).toBe(MAX_RUN_ARENA_BYTES);
    expect(runArenaBudget(8 * 2 ** 20)).toBe(MAX_RUN_ARENA_BYTES - 24 * 2 ** 20);
    expect(runArenaBudget(MAX_RUN_ARENA_BYTES / 2)).toBe(0);
  });

  it("refuses a run whose inputs leave too little room, before its memory grows for the activations, naming why", async () => {
    const loaded = createKernelSession(mlp(), plainKernelModule);
    if (!loaded.session) throw new Error(`not covered: ${loaded.reason}`);
    const s = loaded.session;
    await s.run({ x: ones([2, 8]) });
    const rows = 500_000; // x 15.3 MiB, h 30.5 MiB: 45.8 MiB at once, within MAX_RUN_ARENA_BYTES alone
    const x = ones([rows, 8]);
    const budget = runArenaBudget(x.data.byteLength);
    expect(rows * 96).toBeLessThan(MAX_RUN_ARENA_BYTES);
    expect(rows * 96).toBeGreaterThan(budget);
    const resident = s.residentBytes;
    await expect(s.run({ x }, { arenaBudget: budget })).rejects.toThrow(/more than \d+ bytes of activations \(MAX_RUN_ARENA_BYTES less three times the request's inputs\)/);
    // The instance grew for x at most, never for h.
    expect(s.residentBytes - resident).toBeLessThan(rows * 32 + 2 ** 20);
    // Fewer rows fit the same share; without it the same rows get past the arena, to the output budget.
    const few = await s.run({ x: ones([4, 8]) }, { arenaBudget: budget });
    expect([...(few.y!.data as Float32Array)].every((v) => Math.abs(v - 8 * 0.1 * 16 * 0.1) < 1e-5)).toBe(true);
    await expect(s.run({ x })).rejects.toThrow(/at output 'y' \(MAX_OUTPUT_ELEMENTS\)/);
  });
});
