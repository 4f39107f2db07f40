// The zoo's LSTM and GRU classifiers (2 layers, hidden 128, PyTorch export) layer by layer on the kernel engine against
// onnxruntime-node: each recurrent node with its weights (float32, or int8 / int4 as the compressor writes them) cut
// into a graph of its own, fed at batch 1 and 3; and whatever still keeps the whole model off the engine is not it.
import { describe, expect, it } from "vitest";
import type { ModelProto } from "onnx-buf";
import { makeGraph, makeModel, makeValueInfo } from "@worker/onnx/builders";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { quantizeModel } from "@worker/compress/quantize";
import { kernelCoverage } from "@worker/serve/engine";
import { maxRelDiff, runKernels, runReference, type Feeds } from "@test/support/engine";
import { plainKernelModule } from "@test/support/kernels";
import { inputMaker } from "@test/support/op-graphs";
import { zooModel } from "@test/support/zoo";

const { rand } = inputMaker(20261204);

/** Recurrent node `which` of the model with the DequantizeLinear nodes feeding W and R; X and initial states as inputs. */
function layerGraph(model: ModelProto, which: number, seq: number, batch: number) {
  const g = model.graph!;
  const node = g.node.filter((n) => n.opType === "LSTM" || n.opType === "GRU")[which]!;
  const producers = new Map(g.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  const dq = [node.input[1]!, node.input[2]!].flatMap((i) => (producers.get(i)?.opType === "DequantizeLinear" ? [producers.get(i)!] : []));
  const read = new Set([...dq.flatMap((n) => n.input), ...node.input]);
  const w = g.initializer.find((t) => t.name === (dq[0]?.input[0] ?? node.input[1]))!;
  const [dirs, , I] = w.dims.map(Number) as [number, number, number];
  const H = Number(node.attribute.find((a) => a.name === "hidden_size")!.i);
  const feeds: Feeds = {};
  const live = (name: string, dims: number[]) => {
    feeds[name] = { dims, data: rand(dims.reduce((a, b) => a * b, 1)) };
    return makeValueInfo(name, DT.FLOAT, dims);
  };
  const inputs = [live(node.input[0]!, [seq, batch, I]), ...[5, 6].flatMap((i) => (node.input[i] ? [live(node.input[i]!, [dirs, batch, H])] : []))];
  const outputs = node.output.filter((o) => o);
  const graph = makeGraph(
    [...dq, node],
    "layer",
    inputs,
    outputs.map((o, i) => makeValueInfo(o, DT.FLOAT, new Array(i === 0 ? 4 : 3).fill(null))),
    g.initializer.filter((t) => read.has(t.name)),
  );
  const opset = Number(model.opsetImport.find((o) => o.domain === "")!.version);
  return { bytes: encodeModel(makeModel(graph, { "": opset }, Number(model.irVersion))), feeds, outputs, label: node.name };
}

describe("the zoo's LSTM and GRU layers on the kernel engine against onnxruntime-node", () => {
  for (const name of ["lstm", "gru"]) {
    it(`${name}: float32 within 1e-5, int8 and int4 on the int8 GEMM within 3e-2, batch 1 and 3`, async () => {
      const model = decodeModel((await zooModel(name)).bytes);
      const variants = [
        { bits: "fp32", model, kernel: "f32", tolerance: 1e-5 },
        { bits: "int8", model: quantizeModel(model, { bits: 8 }).model, kernel: "qs8", tolerance: 3e-2 },
        // int4 recurrent weights take one scale per gate row, so their levels go a byte each to the int8 GEMM.
        { bits: "int4", model: quantizeModel(model, { bits: 4, block: 32 }).model, kernel: "qs8", tolerance: 3e-2 },
      ];
      for (const v of variants)
        for (const which of [0, 1])
          for (const batch of [1, 3]) {
            const { bytes, feeds, outputs, label } = layerGraph(v.model, which, 7, batch);
            const { session, outputs: got } = await runKernels(bytes, feeds);
            const ref = await runReference(bytes, feeds);
            expect(session.kernels[label]).toBe(v.kernel);
            for (const o of outputs) {
              expect(got[o]!.dims).toEqual(ref[o]!.dims);
              expect(maxRelDiff(got[o]!.data, ref[o]!.data), `${name} ${v.bits} ${label} ${o} batch ${batch}`).toBeLessThan(v.tolerance);
            }
          }
    });

    it(`${name}: what keeps the whole model off the engine is not its recurrent nodes`, async () => {
      const reason = kernelCoverage(decodeModel((await zooModel(name)).bytes), plainKernelModule);
      expect(reason ?? "").not.toMatch(/LSTM|GRU/);
    });
  }
});
