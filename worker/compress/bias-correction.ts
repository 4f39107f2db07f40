// Empirical bias correction (Nagel et al. 2019; AIMET's empirical form): quantization moves each layer's mean output
// per channel on real data, by its own weight's error and by what reaches it from the layers before. Measured on
// calibration data as the variant's channel means less the float model's, that shift is taken off the layer's bias,
// level by level, so that each layer is measured once everything upstream of it is corrected. Pure: the runs that
// measure the means happen in the catalog; this module names what to measure and rewrites the biases.
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { makeNode } from "../onnx/builders";
import { DT } from "../onnx/dtype";
import { edited } from "../onnx/edit";
import { nameAllocator } from "../onnx/names";
import { intAttribute } from "../onnx/attributes";
import { layerLevels, nodeLabel, weightedLayers } from "../onnx/operators";
import { channelLayout, elementCount, makeTensor, readFloat32, tensorDims } from "../onnx/tensor";

/** A layer whose bias was shifted: the bias tensor it now reads, and the size of the shift. */
export interface BiasShift {
  layer: string;
  bias: string;
  channels: number;
  /** Largest |shift| over the output channels, all measurements together. */
  maxAbsShift: number;
  /** The layer had no bias (or a MatMul no Add of one): the bias was added. */
  added: boolean;
}

/** What bias correction did: the layers shifted, and those it left with the reason (a bias that is not a constant). */
export interface BiasCorrectionReport {
  corrected: BiasShift[];
  left: { layer: string; reason: string }[];
}

/** A layer bias correction can shift: where its output's channels are, and the input its op reads a bias from. */
export interface BiasTarget {
  layer: string;
  /** The tensor whose channel means are compared: the layer's output (a MatMul's, before its exporter Add). */
  output: string;
  /** The output's channel axis: 1 for Conv and ConvTranspose ([N, C, ...]), the last (-1) for MatMul and Gemm. */
  channelAxis: number;
  channels: number;
  /** null: a MatMul, whose bias is an Add after it. */
  biasSlot: number | null;
  /**
   * 1 + the highest level of the targets upstream of it (1: none): a layer's measured shift is final once every
   * level below it is corrected.
   */
  level: number;
}

/**
 * The top-level MatMul (weight on the right), Gemm (transA = 0), Conv and ConvTranspose layers with a constant
 * weight, among `layers` (labels; those the recipe quantized), in graph order, with their levels.
 */
export function biasTargets(model: ModelProto, layers: ReadonlySet<string>): BiasTarget[] {
  const out: BiasTarget[] = [];
  const seen = new Set<string>();
  const graph = model.graph!;
  const constants = new Set(graph.initializer.map((t) => t.name));
  for (const { node, operator, weight, nested, label } of weightedLayers(graph)) {
    if (nested || seen.has(label) || !layers.has(label) || !node.output[0]) continue;
    const dims = tensorDims(weight);
    const slot = operator.layout(node, dims);
    if (!slot) continue;
    const channels = dims[slot.outAxis]! * (node.opType === "ConvTranspose" ? intAttribute(node, "group", 1) : 1);
    const level = 0; // set below, in graph order
    if (node.opType === "MatMul" && operator.weight === 1 && dims.length === 2) {
      // Measured after the exporter's Add of a constant, where there is one: that Add holds the bias corrected.
      const add = exporterAdd(graph, node.output[0], constants);
      out.push({ layer: label, output: add?.node.output[0] ?? node.output[0], channelAxis: -1, channels, biasSlot: null, level });
    } else if (node.opType === "Gemm" && !node.attribute.some((a) => a.name === "transA" && a.i !== 0n)) {
      out.push({ layer: label, output: node.output[0], channelAxis: -1, channels, biasSlot: operator.bias, level });
    } else if ((node.opType === "Conv" || node.opType === "ConvTranspose") && dims.length >= 3) {
      out.push({ layer: label, output: node.output[0], channelAxis: 1, channels, biasSlot: operator.bias, level });
    } else {
      continue;
    }
    seen.add(label);
  }
  const levels = layerLevels(graph, seen);
  for (const t of out) t.level = levels.get(t.layer)!;
  return out;
}

/** The Add that alone reads `output`, adding it to a constant (`constants`): a MatMul's bias as exporters write it. */
function exporterAdd(graph: GraphProto, output: string, constants: ReadonlySet<string>): { node: NodeProto; constant: string } | undefined {
  const readers = graph.node.filter((n) => n.input.includes(output));
  if (readers.length !== 1 || graph.output.some((o) => o.name === output)) return undefined;
  const add = readers[0]!;
  if (add.opType !== "Add" || add.input.length !== 2 || add.input.filter((i) => i === output).length !== 1) return undefined;
  const constant = add.input.find((i) => i !== output)!;
  return constants.has(constant) ? { node: add, constant } : undefined;
}

/** Sums each channel of a tensor over every other axis, batch after batch. */
export class ChannelMeans {
  private readonly sums: Float64Array;
  private count = 0;

  constructor(readonly channels: number) {
    this.sums = new Float64Array(channels);
  }

  observe(data: Float32Array, dims: readonly number[], channelAxis: number): void {
    const axis = channelAxis < 0 ? dims.length + channelAxis : channelAxis;
    const { outer, channels, inner } = channelLayout(dims, axis);
    if (channels !== this.channels) throw new RangeError(`a tensor of dims [${dims}] has ${channels} channels on axis ${axis}, not ${this.channels}`);
    for (let o = 0; o < outer; o++)
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let i = 0, base = (o * channels + c) * inner; i < inner; i++) s += data[base + i]!;
        this.sums[c] = this.sums[c]! + s;
      }
    this.count += outer * inner;
  }

  /** The means, or null before any value was seen (no mean to compare). */
  means(): Float64Array | null {
    if (this.count === 0) return null;
    return Float64Array.from(this.sums, (v) => v / this.count);
  }
}

/** A layer's bias shift (the variant's channel means less the float model's), and the input its op reads a bias from. */
export interface LayerShift {
  shift: Float64Array;
  biasSlot: number | null;
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
    const found = exporterAdd(graph, output, new Set(inits.keys()));
    if (found) {
      const { node: add, constant } = found;
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

/**
 * Most measurements of the variant per correction: one per level up to this many, so a network this deep is corrected
 * exactly; deeper ones correct consecutive levels together in bands of equal size.
 */
export const MAX_BIAS_PASSES = 16;

/** Channel means of each target's output over the calibration data, by output name (absent where none was seen). */
export type MeasureMeans = (model: ModelProto, targets: readonly BiasTarget[]) => Promise<Map<string, Float64Array>>;

/**
 * Corrects `variant`'s biases against `float` (the model it was quantized from, as calibration sees it) for the
 * layers in `layers`, level by level (BiasTarget.level): each pass measures the variant as the previous passes left
 * it, and takes the channel means less the float model's (both by `measure`, over the same data) off the biases of
 * that pass's levels. Deterministic for a deterministic `measure`.
 */
export async function correctBiasesOnData(
  float: ModelProto,
  variant: ModelProto,
  layers: ReadonlySet<string>,
  measure: MeasureMeans,
  maxPasses = MAX_BIAS_PASSES,
): Promise<{ model: ModelProto; report: BiasCorrectionReport }> {
  const targets = biasTargets(float, layers);
  if (targets.length === 0) return { model: variant, report: { corrected: [], left: [] } };
  const reference = await measure(float, targets);
  const levels = Math.max(...targets.map((t) => t.level));
  const passes = Math.min(levels, maxPasses);
  const passOf = (t: BiasTarget) => Math.floor(((t.level - 1) * passes) / levels);
  const corrected: BiasShift[] = [];
  const left: BiasCorrectionReport["left"] = [];
  let model = variant;
  for (let pass = 0; pass < passes; pass++) {
    const band = targets.filter((t) => passOf(t) === pass);
    const measured = await measure(model, band);
    const shifts = new Map<string, LayerShift>();
    for (const t of band) {
      const a = measured.get(t.output);
      const b = reference.get(t.output);
      if (!a || !b || a.length !== t.channels || b.length !== t.channels) {
        left.push({ layer: t.layer, reason: `its output '${t.output}' gave no float values to measure` });
        continue;
      }
      shifts.set(t.layer, { shift: Float64Array.from(a, (v, c) => v - b[c]!), biasSlot: t.biasSlot });
    }
    const r = correctBiases(model, shifts);
    model = r.model;
    corrected.push(...r.corrected);
    left.push(...r.skipped);
  }
  return { model, report: { corrected, left } };
}
