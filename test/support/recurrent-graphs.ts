// One-node LSTM/GRU graphs for the kernel-engine tests: seeded weights (float32, or int8 per channel / int4 blocked
// behind DequantizeLinear), optional B, sequence_lens, initial states (constant or graph inputs) and peepholes,
// any subset of the outputs; each output the node names is compared against onnxruntime-node.
import { expect } from "vitest";
import type { NodeProto, TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { packInt4 } from "@worker/onnx/encoding";
import { makeTensor } from "@worker/onnx/tensor";
import * as ortNode from "onnxruntime-node";
import { maxRelDiff, runKernels, runReference, type Feeds } from "@test/support/engine";
import { inputMaker, type Attr } from "@test/support/op-graphs";

export interface RecurrentCase {
  op: "LSTM" | "GRU";
  seq: number;
  batch: number;
  I: number;
  H: number;
  direction: "forward" | "reverse" | "bidirectional";
  attrs?: Attr;
  bias?: boolean;
  /** initial_h (and initial_c for LSTM): absent, initializers, or graph inputs. */
  initial?: "none" | "constant" | "live";
  sequenceLens?: number[];
  /** sequence_lens as an int32 graph input rather than an initializer. */
  lensLive?: boolean;
  peepholes?: boolean;
  /** Which of Y, Y_h (, Y_c) the node names. */
  outputs?: boolean[];
  weights?: "f32" | "int8" | "int4";
}

/** The graph of one case, the graph inputs' feeds, and the names of the outputs to compare. */
export function recurrentGraph(c: RecurrentCase, seed: number) {
  const { next, int, rand } = inputMaker(seed);
  const gates = c.op === "LSTM" ? 4 : 3;
  const dirs = c.direction === "bidirectional" ? 2 : 1;
  const GH = gates * c.H;
  const inits: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const feeds: Feeds = {};
  const live: { name: string; dims: number[] }[] = [];
  const addLive = (name: string, dims: number[]) => {
    feeds[name] = { dims, data: rand(dims.reduce((a, b) => a * b, 1)) };
    live.push({ name, dims });
  };
  const addConst = (name: string, dims: number[], a = 1) => inits.push(makeTensor(name, DT.FLOAT, dims, rand(dims.reduce((p, d) => p * d, 1), a)));
  const weight = (name: string, K: number) => {
    const dims = [dirs, GH, K];
    const n = dirs * GH * K;
    if (!c.weights || c.weights === "f32") return addConst(name, dims, 0.6);
    if (c.weights === "int8") {
      // Per output unit (axis 1), as the compressor quantizes recurrent weights per channel.
      inits.push(makeTensor(`${name}_q`, DT.INT8, dims, Int8Array.from({ length: n }, () => int(-127, 127))));
      inits.push(makeTensor(`${name}_s`, DT.FLOAT, [GH], Float32Array.from({ length: GH }, () => (0.3 + 0.5 * next()) / 127)));
      nodes.push(makeNode("DequantizeLinear", [`${name}_q`, `${name}_s`], [name], `dq_${name}`, { axis: 1 }));
      return;
    }
    const B = 32;
    const blocks = Math.ceil(K / B);
    inits.push(makeTensor(`${name}_q`, DT.INT4, dims, packInt4(Int8Array.from({ length: n }, () => int(-7, 7)))));
    inits.push(makeTensor(`${name}_s`, DT.FLOAT, [dirs, GH, blocks], Float32Array.from({ length: dirs * GH * blocks }, () => (0.3 + 0.5 * next()) / 7)));
    nodes.push(makeNode("DequantizeLinear", [`${name}_q`, `${name}_s`], [name], `dq_${name}`, { axis: 2, block_size: B }));
  };
  addLive("x", [c.seq, c.batch, c.I]);
  weight("w", c.I);
  weight("r", c.H);
  const inputs = ["x", "w", "r", "", "", "", "", ""];
  if (c.bias) {
    addConst("b", [dirs, 2 * GH], 0.5);
    inputs[3] = "b";
  }
  if (c.sequenceLens) {
    if (c.lensLive) feeds.lens = { dims: [c.batch], data: Float32Array.from(c.sequenceLens) };
    else inits.push(makeTensor("lens", DT.INT32, [c.batch], Int32Array.from(c.sequenceLens)));
    inputs[4] = "lens";
  }
  const states = c.op === "LSTM" ? ["h0", "c0"] : ["h0"];
  if (c.initial && c.initial !== "none") {
    states.forEach((s, i) => {
      if (c.initial === "live") addLive(s, [dirs, c.batch, c.H]);
      else addConst(s, [dirs, c.batch, c.H]);
      inputs[5 + i] = s;
    });
  }
  if (c.peepholes) {
    addConst("p", [dirs, 3 * c.H], 0.5);
    inputs[7] = "p";
  }
  while (inputs[inputs.length - 1] === "") inputs.pop();
  const names = c.op === "LSTM" ? ["y", "y_h", "y_c"] : ["y", "y_h"];
  const wanted = c.outputs ?? names.map(() => true);
  const outs = names.map((n, i) => (wanted[i] ? n : ""));
  while (outs[outs.length - 1] === "") outs.pop();
  nodes.push(makeNode(c.op, inputs, outs, "rnn", { hidden_size: c.H, direction: c.direction, ...c.attrs }));
  const graph = makeGraph(
    nodes,
    c.op.toLowerCase(),
    [...live.map((l) => makeValueInfo(l.name, DT.FLOAT, l.dims)), ...(feeds.lens ? [makeValueInfo("lens", DT.INT32, [c.batch])] : [])],
    outs.filter((o) => o).map((o) => makeValueInfo(o, DT.FLOAT, new Array(o === "y" ? 4 : 3).fill(null))),
    inits,
  );
  const opset = c.weights === "int4" ? 21 : 14;
  return { bytes: encodeModel(makeModel(graph, { "": opset }, opset >= 21 ? 10 : 8)), feeds, outputs: outs.filter((o) => o) };
}

/** Runs a case on the engine and onnxruntime-node: every named output agrees within `tolerance`; the engine's kernel. */
export async function compareRecurrent(c: RecurrentCase, seed: number, tolerance = 1e-5): Promise<string | undefined> {
  const { bytes, feeds, outputs } = recurrentGraph(c, seed);
  const { session, outputs: got } = await runKernels(bytes, feeds);
  const ref = feeds.lens ? await referenceWithLengths(bytes, feeds) : await runReference(bytes, feeds);
  expect(Object.keys(got).sort()).toEqual([...outputs].sort());
  for (const name of outputs) {
    expect(got[name]!.dims, name).toEqual(ref[name]!.dims);
    expect(maxRelDiff(got[name]!.data, ref[name]!.data), `${name} of ${JSON.stringify(c)}`).toBeLessThan(tolerance);
  }
  return session.kernels.rnn;
}

/** onnxruntime-node with the sequence lengths fed as the int32 tensor the graph declares. */
async function referenceWithLengths(bytes: Uint8Array, feeds: Feeds) {
  const session = await ortNode.InferenceSession.create(bytes, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
  const inputs = Object.fromEntries(
    Object.entries(feeds).map(([k, v]) => [k, k === "lens" ? new ortNode.Tensor("int32", Int32Array.from(v.data), v.dims) : new ortNode.Tensor("float32", v.data, v.dims)]),
  );
  const out = await session.run(inputs);
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { dims: [...t.dims], data: t.data as Float32Array }]));
}
