// Bias correction (Nagel et al. 2019, in its empirical form): a quantized weight W_q moves a layer's expected output
// by (W_q - W) E[x], where E[x] is the mean input row the layer sees on calibration data (a Conv's rows are its
// padded patches). Subtracting that from the layer's bias gives every output channel its float mean back on that
// data. Pure: shifts are computed from the weights and the calibration means, then written as new bias tensors.
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { makeNode } from "../onnx/builders";
import { DT } from "../onnx/dtype";
import { edited } from "../onnx/edit";
import { nameAllocator } from "../onnx/names";
import { nodeLabel, weightedLayers, type GemmLayout, type WeightedLayer } from "../onnx/operators";
import { elementCount, makeTensor, readFloat32, tensorDims } from "../onnx/tensor";
import type { LayerMoments } from "./calibrate/hessian";

/** A layer whose bias was shifted: the bias tensor it now reads, and the size of the shift. */
export interface BiasShift {
  layer: string;
  bias: string;
  channels: number;
  /** Largest |shift| over the output channels. */
  maxAbsShift: number;
  /** The layer had no bias (or a MatMul no Add of one): the bias was added. */
  added: boolean;
}

/** What bias correction did: the layers shifted, and those it left with the reason (a bias that is not a constant). */
export interface BiasCorrectionReport {
  corrected: BiasShift[];
  left: { layer: string; reason: string }[];
}

/**
 * The expected output error per output channel, (W_q - W) E[x]: `delta` is W_q - W in the weight's own layout,
 * `layout` its matrix view (output channel g·N + n reads elements g·groupStride + k·kStride + n·nStride), `mean` the
 * mean input row of each group, concatenated.
 */
export function expectedOutputError(delta: Float32Array | Float64Array, layout: GemmLayout, mean: Float64Array): Float64Array {
  const { groups, K, N, kStride, nStride, groupStride } = layout;
  if (mean.length !== groups * K) throw new RangeError(`${mean.length} means for ${groups} groups of ${K} inputs`);
  const shift = new Float64Array(groups * N);
  for (let g = 0; g < groups; g++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      const base = g * groupStride + n * nStride;
      for (let k = 0; k < K; k++) s += delta[base + k * kStride]! * mean[g * K + k]!;
      shift[g * N + n] = s;
    }
  return shift;
}

/** A layer's bias shift, and the input its op reads a bias from (null: a MatMul, whose bias is an Add after it). */
export interface LayerShift {
  shift: Float64Array;
  biasSlot: number | null;
}

/**
 * An observer for quantizeModel (its `observe` option) that records, for every layer that reads a quantized weight
 * as its matrix product and has calibration means, the shift its bias needs. Layers without means (nested, or with
 * a constant input) get none.
 */
export function shiftRecorder(model: ModelProto, moments: LayerMoments) {
  const readers = new Map<string, WeightedLayer[]>();
  for (const layer of weightedLayers(model.graph!)) {
    if (layer.nested || !moments[layer.label]) continue;
    readers.set(layer.weight.name, [...(readers.get(layer.weight.name) ?? []), layer]);
  }
  const shifts = new Map<string, LayerShift>();
  return {
    shifts,
    observe(weight: string, dims: readonly number[], original: Float32Array, dequantized: Float32Array): void {
      const layers = readers.get(weight);
      if (!layers) return;
      const delta = new Float32Array(original.length);
      for (let i = 0; i < delta.length; i++) delta[i] = dequantized[i]! - original[i]!;
      for (const layer of layers) {
        const m = moments[layer.label]!;
        const layout = layer.operator.gemm(layer.node, dims);
        if (!layout || m.rows === 0 || layout.groups !== m.groups || layout.K !== m.features) continue;
        shifts.set(layer.label, { shift: expectedOutputError(delta, layout, m.mean), biasSlot: layer.operator.bias });
      }
    },
  };
}

/**
 * The model with each layer's bias lowered by its shift (`shifts` by layer label). Gemm and Conv read a new bias
 * tensor (added where they had none; a bias other layers also read stays as it is for them); a MatMul's following
 * Add of a per-channel constant gets a corrected copy, and a MatMul without one gets an Add. Layers whose bias is
 * not a constant of one value per channel (or one value for all) are returned as skipped, with the reason.
 */
export function correctBiases(
  model: ModelProto,
  shifts: ReadonlyMap<string, LayerShift>,
): { model: ModelProto; corrected: BiasShift[]; skipped: { layer: string; reason: string }[] } {
  const graph = model.graph!;
  const fresh = nameAllocator(graph);
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const readCount = new Map<string, number>();
  for (const n of graph.node) for (const i of n.input) if (i) readCount.set(i, (readCount.get(i) ?? 0) + 1);
  for (const o of graph.output) readCount.set(o.name, (readCount.get(o.name) ?? 0) + 1);
  const readersOf = (name: string) => graph.node.filter((n) => n.input.includes(name));
  // Found by label: once quantized, a layer's weight is no constant any more (a DequantizeLinear output).
  const nodes = new Map(graph.node.map((n) => [nodeLabel(n), n]));
  const replaced = new Map<NodeProto, NodeProto[]>();
  const added: TensorProto[] = [];
  const corrected: BiasShift[] = [];
  const skipped: { layer: string; reason: string }[] = [];
  // The bias constants replaced by corrected copies.
  const previous = new Set<string>();
  // A corrected copy of a bias constant of `channels` values (or one value broadcast to all), or the reason it is not one.
  const shiftedCopy = (label: string, name: string, shift: Float64Array): TensorProto | string => {
    const bias = inits.get(name);
    if (!bias) return `its bias '${name}' is computed, not a constant`;
    if (bias.dataType !== DT.FLOAT) return `its bias '${name}' is not float32`;
    const dims = tensorDims(bias);
    const count = elementCount(dims);
    // One value per channel along the output's last axis (Gemm, MatMul) or the only one (Conv's 1-D bias), or one for all.
    const perChannel = count === shift.length && dims[dims.length - 1] === count;
    if (!perChannel && count !== 1) return `its bias '${name}' of shape [${dims}] is not one value per output channel`;
    const values = readFloat32(bias);
    const out = Float32Array.from(shift, (s, c) => values[count === 1 ? 0 : c]! - s);
    return makeTensor(fresh(`${label}_bias_corrected`), DT.FLOAT, count === 1 ? [shift.length] : dims, out);
  };
  const record = (label: string, bias: string, shift: Float64Array, wasAdded: boolean) => {
    let max = 0;
    for (const s of shift) max = Math.max(max, Math.abs(s));
    corrected.push({ layer: label, bias, channels: shift.length, maxAbsShift: max, added: wasAdded });
  };
  for (const [label, { shift, biasSlot: slot }] of shifts) {
    const node = nodes.get(label);
    if (!node) continue;
    if (slot !== null) {
      const current = node.input[slot];
      if (current) {
        const copy = shiftedCopy(label, current, shift);
        if (typeof copy === "string") {
          skipped.push({ layer: label, reason: copy });
          continue;
        }
        added.push(copy);
        previous.add(current);
        replaced.set(node, [edited(node, { input: node.input.map((n, i) => (i === slot ? copy.name : n)) })]);
        record(label, copy.name, shift, false);
      } else {
        const bias = makeTensor(fresh(`${label}_bias_corrected`), DT.FLOAT, [shift.length], Float32Array.from(shift, (s) => -s));
        added.push(bias);
        const input = [...node.input];
        while (input.length < slot) input.push("");
        input[slot] = bias.name;
        replaced.set(node, [edited(node, { input })]);
        record(label, bias.name, shift, true);
      }
      continue;
    }
    // MatMul: its bias is the Add of a constant that alone reads its output, where the exporter wrote one.
    const output = node.output[0]!;
    const next = readersOf(output);
    const add = next.length === 1 && readCount.get(output) === 1 && next[0]!.opType === "Add" ? next[0]! : undefined;
    const constant = add?.input.find((i) => i !== output && inits.has(i));
    if (add && constant && add.input.filter((i) => i === output).length === 1) {
      const copy = shiftedCopy(label, constant, shift);
      if (typeof copy !== "string") {
        added.push(copy);
        previous.add(constant);
        replaced.set(add, [edited(add, { input: add.input.map((i) => (i === constant ? copy.name : i)) })]);
        record(label, copy.name, shift, false);
        continue;
      }
    }
    const bias = makeTensor(fresh(`${label}_bias_corrected`), DT.FLOAT, [shift.length], Float32Array.from(shift, (s) => -s));
    const raw = fresh(`${output}_before_bias`);
    added.push(bias);
    replaced.set(node, [edited(node, { output: [raw, ...node.output.slice(1)] }), makeNode("Add", [raw, bias.name], [output], fresh(`${label}_bias`))]);
    record(label, bias.name, shift, true);
  }
  if (replaced.size === 0) return { model, corrected, skipped };
  const rewritten = graph.node.flatMap((n) => replaced.get(n) ?? [n]);
  // Bias constants no node reads any more (each was read by its one layer) are dropped rather than stored twice.
  const stillRead = new Set<string>([...rewritten.flatMap((n) => n.input), ...graph.output.map((o) => o.name)]);
  const dropped = (name: string) => previous.has(name) && !stillRead.has(name);
  const initializer = [...graph.initializer.filter((t) => !dropped(t.name)), ...added];
  const out: GraphProto = { ...graph, node: rewritten, initializer, input: graph.input.filter((v) => !dropped(v.name)) };
  return { model: { ...model, graph: out }, corrected, skipped };
}
