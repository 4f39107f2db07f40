// The engine's attribute checks (serve/engine/attributes.ts): windows and perms ONNX forbids leave the model to
// onnxruntime-web at plan time; a kernel larger than the padded input, or a perm or axis that does not fit the run's
// input, fails that run with a RangeError naming it (a 400) instead of allocating negative or stale outputs.
import { create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, AttributeProto_AttributeType as AT } from "onnx-buf";
import { describe, expect, it } from "vitest";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { createKernelSession } from "@worker/serve/engine";
import { checkedAxis, checkNodeAttributes, checkPerm, checkWindowOutput } from "@worker/serve/engine/attributes";
import { Uncovered } from "@worker/serve/engine/values";
import { plainKernelModule } from "@test/support/kernels";

const f32 = (dims: number[]) => ({ type: "float32", dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(1) });

describe("checkNodeAttributes", () => {
  it("passes legal windows and perms, and leaves other ops alone", () => {
    expect(() => checkNodeAttributes(makeNode("Conv", ["x", "w"], ["y"], "c", { strides: [2, 2], pads: [1, 1, 1, 1] }))).not.toThrow();
    expect(() => checkNodeAttributes(makeNode("Transpose", ["x"], ["y"], "t", { perm: [2, 0, 1] }))).not.toThrow();
    expect(() => checkNodeAttributes(makeNode("Relu", ["x"], ["y"], "r"))).not.toThrow();
  });

  it("is Uncovered for negative strides, negative pads, zero kernel_shape and non-permutations", () => {
    expect(() => checkNodeAttributes(makeNode("MaxPool", ["x"], ["y"], "p", { kernel_shape: [2, 2], strides: [-1, 1] }))).toThrow(Uncovered);
    expect(() => checkNodeAttributes(makeNode("AveragePool", ["x"], ["y"], "p", { kernel_shape: [2, 2], pads: [-1, 0, 0, 0] }))).toThrow(/pads/);
    expect(() => checkNodeAttributes(makeNode("MaxPool", ["x"], ["y"], "p", { kernel_shape: [0, 2] }))).toThrow(/kernel_shape/);
    expect(() => checkNodeAttributes(makeNode("Transpose", ["x"], ["y"], "t", { perm: [1, 1] }))).toThrow(/not a permutation/);
  });
});

describe("run-time geometry", () => {
  it("refuses a window output below 1 and a perm or axis that does not fit the rank", () => {
    expect(() => checkWindowOutput("Conv", [1, 1, 2, 2], [0, 1])).toThrow(/kernel is larger than the padded input/);
    expect(() => checkWindowOutput("Conv", [1, 1, 2, 2], [Number.NaN, 1])).toThrow(RangeError);
    expect(() => checkPerm([0, 1], 3)).toThrow(/2 entries for rank 3/);
    expect(() => checkedAxis("Flatten", 5, 4, true)).toThrow(/axis 5 is out of range for rank 4/);
    expect(checkedAxis("Flatten", 4, 4, true)).toBe(4);
    expect(checkedAxis("Softmax", -1, 4)).toBe(3);
  });

  it("fails a MaxPool run whose kernel is larger than the padded input, naming it, and the next run still works", async () => {
    const g = makeGraph([makeNode("MaxPool", ["x"], ["y"], "pool", { kernel_shape: [3, 3] })], "g",
      [makeValueInfo("x", DT.FLOAT, [1, 1, "H", "W"])], [makeValueInfo("y", DT.FLOAT, [1, 1, "OH", "OW"])]);
    const loaded = createKernelSession(makeModel(g), plainKernelModule);
    if (!loaded.session) {
      // Tracing at H=W=1 fails for a 3x3 window: the engine then traces at 32.
      throw new Error(`not covered: ${loaded.reason}`);
    }
    await expect(loaded.session.run({ x: f32([1, 1, 2, 2]) })).rejects.toThrow(/kernel is larger than the padded input \[2,2\]/);
    const ok = await loaded.session.run({ x: f32([1, 1, 4, 4]) });
    expect(ok.y!.dims).toEqual([1, 1, 2, 2]);
  });

  it("leaves a stored model with negative strides to onnxruntime-web (Uncovered), never planning negative dims", () => {
    const node = makeNode("MaxPool", ["x"], ["y"], "pool", { kernel_shape: [1, 1] });
    node.attribute.push(create(AttributeProtoSchema, { name: "strides", type: AT.INTS, ints: [-1n, -1n] }));
    const g = makeGraph([node], "g", [makeValueInfo("x", DT.FLOAT, [1, 1, 4, 4])], [makeValueInfo("y", DT.FLOAT, [1, 1, 4, 4])]);
    const loaded = createKernelSession(makeModel(g), plainKernelModule);
    expect(loaded.session).toBeNull();
    expect(loaded.reason).toMatch(/MaxPool node pool: strides \[-1,-1\] holds -1/);
  });

  it("fails a Conv run on an input smaller than its kernel instead of answering stale arena contents", async () => {
    const w = makeTensor("w", DT.FLOAT, [1, 1, 3, 3], new Float32Array(9).fill(1));
    const g = makeGraph([makeNode("Conv", ["x", "w"], ["y"], "conv")], "g",
      [makeValueInfo("x", DT.FLOAT, [1, 1, "H", "W"])], [makeValueInfo("y", DT.FLOAT, [1, 1, "OH", "OW"])], [w]);
    const loaded = createKernelSession(makeModel(g), plainKernelModule);
    if (!loaded.session) throw new Error(`not covered: ${loaded.reason}`);
    await expect(loaded.session.run({ x: f32([1, 1, 2, 2]) })).rejects.toThrow(/Conv: the kernel is larger than the padded input/);
  });
});
