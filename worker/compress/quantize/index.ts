// Weight-only quantization of a model: every quantizable weight (per the operator registry) becomes an
// int8 initializer feeding a DequantizeLinear in front of its consumer; everything else stays float.
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { isExternal, makeTensor, readFloat32, tensorDims } from "../../onnx/tensor";
import { liftToOpset7 } from "../../onnx/opset";
import { defaultOpset } from "../../onnx/validate";
import { QUANTIZERS, type WeightSlot } from "./registry";
import { channelLayout, dequantizePerChannel, quantizationError, quantizeWeightsPerChannel } from "./weights";

export interface TensorReport {
  name: string;
  node: string;
  op: string;
  shape: number[];
  axis: number;
  bits: number;
  scaleMin: number;
  scaleMax: number;
  maxAbsError: number;
  sqnrDb: number | null;
}

export interface QuantizeResult {
  model: ModelProto;
  tensors: TensorReport[];
  /** Weights left float, with the reason (shared with a graph input, external data, not float32, ...). */
  skipped: { name: string; node: string; reason: string }[];
}

export interface QuantizeOptions {
  bits: 8;
  /** Nodes for which this returns false stay float (exclusions and mixed precision decide it). */
  include?: (node: NodeProto) => boolean;
}

/** Picks names that do not clash with any name already in the graph. */
function nameAllocator(graph: GraphProto): (wanted: string) => string {
  const taken = new Set<string>();
  for (const t of graph.initializer) taken.add(t.name);
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) taken.add(v.name);
  for (const n of graph.node) {
    taken.add(n.name);
    for (const x of [...n.input, ...n.output]) taken.add(x);
  }
  return (wanted) => {
    let name = wanted;
    for (let i = 1; taken.has(name); i++) name = `${wanted}_${i}`;
    taken.add(name);
    return name;
  };
}

/** Shape [C, 1, ..., 1] that broadcasts a per-channel vector along `axis` of a rank-`rank` tensor. */
function broadcastShape(channels: number, axis: number, rank: number): number[] {
  return [channels, ...new Array<number>(rank - axis - 1).fill(1)];
}

export function quantizeModel(input: ModelProto, options: QuantizeOptions): QuantizeResult {
  // The per-channel rescale needs a broadcasting Mul (opset 7); legacy models are lifted when that is safe.
  const lifted = liftToOpset7(input);
  const model = "model" in lifted ? lifted.model : input;
  const liftFailure = "reason" in lifted ? lifted.reason : null;
  const graph = model.graph!;
  const opset = defaultOpset(model);
  const fresh = nameAllocator(graph);
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const tensors: TensorReport[] = [];
  const skipped: QuantizeResult["skipped"] = [];
  // Dequantized replacement per (weight, axis): shared weights are quantized once.
  const replacements = new Map<string, string>();
  const quantizedWeights = new Set<string>();
  const newInitializers: TensorProto[] = [];
  const nodes: NodeProto[] = [];

  for (const node of graph.node) {
    if (options.include && !options.include(node)) {
      nodes.push(node);
      continue;
    }
    const quantizer = QUANTIZERS[node.domain === "" || node.domain === "ai.onnx" ? node.opType : ""];
    const weightName = node.input[1];
    const weight = weightName ? initializers.get(weightName) : undefined;
    let slot: WeightSlot | null = null;
    if (quantizer && weight) {
      const label = node.name || node.output[0] || node.opType;
      if (weight.dataType !== DT.FLOAT) skipped.push({ name: weight.name, node: label, reason: "weight is not float32" });
      else if (isExternal(weight)) skipped.push({ name: weight.name, node: label, reason: "weight uses external data" });
      else if (liftFailure) skipped.push({ name: weight.name, node: label, reason: `opset ${opset} model: ${liftFailure}` });
      else {
        slot = quantizer.weightSlot(node, tensorDims(weight));
        if (!slot) skipped.push({ name: weight.name, node: label, reason: "weight shape has no output-channel axis" });
      }
    }
    if (!slot || !weight) {
      nodes.push(node);
      continue;
    }
    const key = `${weight.name}\u0000${slot.axis}`;
    let replacement = replacements.get(key);
    if (!replacement) {
      const dims = tensorDims(weight);
      const data = readFloat32(weight);
      const q = quantizeWeightsPerChannel(data, dims, slot.axis, options.bits);
      const err = quantizationError(data, dequantizePerChannel(q, dims, slot.axis));
      const { channels } = channelLayout(dims, slot.axis);
      const qName = fresh(`${weight.name}_quantized`);
      replacement = fresh(`${weight.name}_dequantized`);
      newInitializers.push(makeTensor(qName, DT.INT8, dims, q.values));
      if (opset >= 13) {
        // Standard per-axis DequantizeLinear (opset 13+).
        const sName = fresh(`${weight.name}_scale`);
        const zName = fresh(`${weight.name}_zero_point`);
        newInitializers.push(makeTensor(sName, DT.FLOAT, [channels], q.scales));
        newInitializers.push(makeTensor(zName, DT.INT8, [channels], new Int8Array(channels)));
        nodes.push(makeNode("DequantizeLinear", [qName, sName, zName], [replacement], fresh(`${weight.name}_dequantize`), { axis: slot.axis }));
      } else {
        // Older opsets have no per-axis DequantizeLinear: convert int8 to float, then scale per channel.
        const sName = fresh(`${weight.name}_scale`);
        const floatName = fresh(`${weight.name}_int8_as_float`);
        newInitializers.push(makeTensor(sName, DT.FLOAT, broadcastShape(channels, slot.axis, dims.length), q.scales));
        nodes.push(makeNode("Cast", [qName], [floatName], fresh(`${weight.name}_cast`), { to: DT.FLOAT }));
        nodes.push(makeNode("Mul", [floatName, sName], [replacement], fresh(`${weight.name}_rescale`)));
      }
      let scaleMin = Infinity;
      let scaleMax = 0;
      for (const s of q.scales) {
        scaleMin = Math.min(scaleMin, s);
        scaleMax = Math.max(scaleMax, s);
      }
      tensors.push({
        name: weight.name,
        node: node.name || node.output[0] || node.opType,
        op: node.opType,
        shape: dims,
        axis: slot.axis,
        bits: options.bits,
        scaleMin,
        scaleMax,
        maxAbsError: err.maxAbsError,
        sqnrDb: Number.isFinite(err.sqnrDb) ? err.sqnrDb : null,
      });
      replacements.set(key, replacement);
      quantizedWeights.add(weight.name);
    }
    const input = [...node.input];
    input[slot.input] = replacement;
    nodes.push({ ...node, input });
  }

  // A float weight still read by a node we did not rewrite (or by a graph output) stays; the others go.
  const stillUsed = new Set<string>();
  for (const n of nodes) for (const i of n.input) stillUsed.add(i);
  for (const o of graph.output) stillUsed.add(o.name);
  const keep = (name: string) => !quantizedWeights.has(name) || stillUsed.has(name);
  const newGraph: GraphProto = {
    ...graph,
    node: nodes,
    initializer: [...graph.initializer.filter((t) => keep(t.name)), ...newInitializers],
    // IR < 4 lists initializers as graph inputs; a weight we replaced is no longer one.
    input: graph.input.filter((v) => keep(v.name)),
  };
  if (tensors.length === 0) return { model: input, tensors, skipped };
  return {
    model: { ...model, irVersion: model.irVersion < 4n ? 4n : model.irVersion, graph: newGraph },
    tensors,
    skipped,
  };
}
