// Small multi-node graphs for kernel-engine op tests: ops whose ONNX output is int64 or bool (Shape, Equal, ...) are
// checked inside a graph that ends in a float output, and ops with several outputs are checked output by output.
import { expect } from "vitest";
import type { NodeProto } from "onnx-buf";
import { makeGraph, makeModel, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { maxRelDiff, runKernels, runReference, type Feeds } from "@test/support/engine";
import type { Input } from "@test/support/op-graphs";

/** A model of `nodes` reading `inputs` (live ones become float graph inputs, the rest initializers), writing `outputs`. */
export function chainOf(nodes: NodeProto[], inputs: Input[], outputs: string[] = ["y"], opset = 13): Uint8Array {
  const graph = makeGraph(
    nodes,
    "chain",
    inputs.filter((i) => "data" in i).map((i) => makeValueInfo(i.name, DT.FLOAT, i.dims)),
    outputs.map((o) => makeValueInfo(o, DT.FLOAT, [])),
    inputs.flatMap((i) => ("constant" in i ? [i.constant] : [])),
  );
  // An output's value info with no shape: makeValueInfo([]) would claim rank 0.
  for (const o of graph.output) if (o.type?.value.case === "tensorType") o.type.value.value.shape = undefined;
  return encodeModel(makeModel(graph, { "": opset }, opset >= 21 ? 10 : 8));
}

/** Runs both ways; every graph output agrees in dims and within `tolerance`. */
export async function compareAll(bytes: Uint8Array, inputs: Input[], tolerance = 1e-5): Promise<void> {
  const feeds: Feeds = Object.fromEntries(inputs.flatMap((i) => ("data" in i ? [[i.name, { dims: i.dims, data: i.data }]] : [])));
  const { outputs } = await runKernels(bytes, feeds);
  const ref = await runReference(bytes, feeds);
  expect(Object.keys(outputs).sort()).toEqual(Object.keys(ref).sort());
  for (const name of Object.keys(ref)) {
    expect(outputs[name]!.dims, name).toEqual(ref[name]!.dims);
    expect(maxRelDiff(outputs[name]!.data, ref[name]!.data), name).toBeLessThan(tolerance);
  }
}

/** An int64 constant holding exactly these values (INT64_MAX included). */
export function int64(name: string, values: (number | bigint)[], dims: number[] = [values.length]): Input {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return { name, dims, constant: makeTensor(name, DT.INT64, dims, new Int32Array(data.buffer)) };
}

/** A float32 constant holding these values. */
export function floats(name: string, values: number[], dims: number[] = [values.length]): Input {
  return { name, dims, constant: makeTensor(name, DT.FLOAT, dims, Float32Array.from(values)) };
}

/** A bool constant. */
export function bools(name: string, values: boolean[], dims: number[] = [values.length]): Input {
  return { name, dims, constant: makeTensor(name, DT.BOOL, dims, Uint8Array.from(values, Number)) };
}

/** A live float input holding these values. */
export function liveOf(name: string, values: ArrayLike<number>, dims: number[]): Input {
  return { name, dims, data: Float32Array.from(values) };
}

export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);
