// One-op graphs for kernel-engine op tests: seeded random inputs, the graph around one node, and the comparison of the
// engine's output against onnxruntime-node's on the same graph.
import { expect } from "vitest";
import type { TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { rng } from "@test/support/models";
import { maxRelDiff, runKernels, runReference, type Feeds } from "@test/support/engine";

export type Attr = Parameters<typeof makeNode>[4];
export type Input = { name: string; dims: number[] } & ({ data: Float32Array } | { constant: TensorProto });

/** A model of one node `op` reading `inputs` (live ones become graph inputs, the rest initializers) and writing y. */
export function graphOf(op: string, inputs: Input[], attrs: Attr, outRank: number, opset = 13, extraOutputs = 0): Uint8Array {
  const live = inputs.filter((i) => "data" in i);
  const inits = inputs.flatMap((i) => ("constant" in i ? [i.constant] : []));
  const outs = ["y", ...Array.from({ length: extraOutputs }, (_, i) => `y${i + 1}`)];
  const node = makeNode(op, inputs.map((i) => i.name), outs, "op", attrs);
  const graph = makeGraph(
    [node],
    "one-op",
    live.map((i) => makeValueInfo(i.name, DT.FLOAT, i.dims)),
    outs.map((o) => makeValueInfo(o, DT.FLOAT, new Array(outRank).fill(null))),
    inits,
  );
  return encodeModel(makeModel(graph, { "": opset }, opset >= 21 ? 10 : 8));
}

/** Runs `bytes` on the engine and on onnxruntime-node with the live inputs; output y agrees within `tolerance`. */
export async function compare(bytes: Uint8Array, inputs: Input[], tolerance = 1e-5) {
  const feeds: Feeds = Object.fromEntries(inputs.flatMap((i) => ("data" in i ? [[i.name, { dims: i.dims, data: i.data }]] : [])));
  const { outputs } = await runKernels(bytes, feeds);
  const ref = await runReference(bytes, feeds);
  expect(outputs.y!.dims).toEqual(ref.y!.dims);
  expect(maxRelDiff(outputs.y!.data, ref.y!.data)).toBeLessThan(tolerance);
}

/** Seeded input makers: integers in a range, uniform floats, live inputs and float/int64 constants. */
export function inputMaker(seed: number) {
  const next = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const rand = (n: number, a = 1) => Float32Array.from({ length: n }, () => (next() * 2 - 1) * a);
  const count = (dims: number[]) => dims.reduce((p, d) => p * d, 1);
  const live = (name: string, dims: number[]): Input => ({ name, dims, data: rand(count(dims)) });
  const constF = (name: string, dims: number[], a = 1): Input => ({ name, dims, constant: makeTensor(name, DT.FLOAT, dims, rand(count(dims), a)) });
  const constI64 = (name: string, values: number[]): Input => ({
    name,
    dims: [values.length],
    constant: makeTensor(name, DT.INT64, [values.length], new Int32Array(values.flatMap((v) => [v, v < 0 ? -1 : 0]))),
  });
  return { next, int, rand, live, constF, constI64 };
}
