// SmoothQuant (Xiao et al. 2022): static int8 on transformers fails on a few activation channels whose values are
// far larger than the rest (one per-tensor scale then leaves the others a handful of levels). Dividing each input
// channel j of a MatMul/Gemm by s_j = max|x_j|^α / max|W_j|^(1-α) and multiplying the weight's row j by it computes
// the same, with the outliers moved into the weights, which per-channel int8 takes easily. The division is folded
// into the LayerNormalization that makes x where it alone feeds these layers, and is a Mul in front of them
// otherwise. Pure: the channel maxima come from a calibration run over the model this rewrites.
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { makeNode } from "../onnx/builders";
import { DT } from "../onnx/dtype";
import { edited } from "../onnx/edit";
import { nameAllocator } from "../onnx/names";
import { weightedLayers, type GemmLayout, type WeightedLayer } from "../onnx/operators";
import { makeTensor, readFloat32, tensorDims } from "../onnx/tensor";

/** Largest |x| per channel of the last axis, by activation name, over the calibration samples. */
export type ChannelMaxima = Record<string, Float32Array>;

/** An activation smoothed: the layers that read it, how, and the range of its scales. */
export interface SmoothedActivation {
  activation: string;
  layers: string[];
  channels: number;
  /** The LayerNormalization node whose scale and bias took the division, or null where a Mul was inserted. */
  foldedInto: string | null;
  minScale: number;
  maxScale: number;
}

/** The layers that read one activation as their data input, and the channels it has (their inputs per output). */
export interface SmoothingTarget {
  activation: string;
  channels: number;
  layers: WeightedLayer[];
}

/**
 * Activations smoothing can take: the data input of top-level MatMul (2-D weight on the right) and Gemm (transA = 0)
 * layers with a constant float weight, among `include`d layers, grouped by activation. A group is left out when one
 * of its weights is also read by something else (scaling it would change that reader), or when its layers disagree
 * on the channel count.
 */
export function smoothingTargets(model: ModelProto, include: (label: string) => boolean = () => true): SmoothingTarget[] {
  const graph = model.graph!;
  const inits = new Set(graph.initializer.map((t) => t.name));
  const groups = new Map<string, WeightedLayer[]>();
  for (const layer of weightedLayers(graph)) {
    const { node, operator, weight, nested, label } = layer;
    if (nested || !include(label) || operator.weight !== 1 || operator.data !== 0 || weight.dataType !== DT.FLOAT) continue;
    const x = node.input[0];
    if (!x || inits.has(x)) continue;
    const plainMatMul = node.opType === "MatMul" && tensorDims(weight).length === 2;
    const plainGemm = node.opType === "Gemm" && !node.attribute.some((a) => a.name === "transA" && a.i !== 0n);
    if (!plainMatMul && !plainGemm) continue;
    groups.set(x, [...(groups.get(x) ?? []), layer]);
  }
  const readers = readCounts(graph);
  const out: SmoothingTarget[] = [];
  for (const [activation, layers] of groups) {
    const k = new Set(layers.map((l) => l.operator.gemm(l.node, tensorDims(l.weight))?.K));
    const weights = new Map<string, number>();
    for (const l of layers) weights.set(l.weight.name, (weights.get(l.weight.name) ?? 0) + 1);
    const foreign = [...weights].some(([name, uses]) => readers.get(name) !== uses);
    if (k.size !== 1 || k.has(undefined) || foreign) continue;
    out.push({ activation, channels: [...k][0]!, layers });
  }
  return out;
}

function readCounts(graph: GraphProto): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of graph.node) for (const i of n.input) if (i) counts.set(i, (counts.get(i) ?? 0) + 1);
  for (const o of graph.output) counts.set(o.name, (counts.get(o.name) ?? 0) + 1);
  return counts;
}

/** s_j = max|x_j|^α / max|W_j|^(1-α), 1 where either is zero, within [1e-5, 1e5]; as float32. */
export function smoothingScales(activationMax: Float32Array, weightMax: Float32Array, alpha: number): Float32Array {
  return Float32Array.from(activationMax, (a, j) => {
    const w = weightMax[j]!;
    if (!(a > 0) || !(w > 0)) return 1;
    return Math.min(1e5, Math.max(1e-5, a ** alpha / w ** (1 - alpha)));
  });
}

/** Largest |w| along each input row k of a weight in its matrix view (one group). */
function rowMaxima(w: Float32Array, layout: GemmLayout, into: Float32Array): void {
  for (let k = 0; k < layout.K; k++) {
    let m = into[k]!;
    for (let n = 0; n < layout.N; n++) m = Math.max(m, Math.abs(w[k * layout.kStride + n * layout.nStride]!));
    into[k] = m;
  }
}

/**
 * The model with every target whose activation has maxima smoothed at strength `alpha` (0: all onto the
 * activations, 1: all onto the weights). The float model computes the same up to float32 rounding.
 */
export function smoothModel(
  model: ModelProto,
  maxima: ChannelMaxima,
  alpha: number,
  include: (label: string) => boolean = () => true,
): { model: ModelProto; smoothed: SmoothedActivation[] } {
  const graph = model.graph!;
  const targets = smoothingTargets(model, include).filter((t) => maxima[t.activation]?.length === t.channels);
  if (targets.length === 0) return { model, smoothed: [] };
  const fresh = nameAllocator(graph);
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const readers = readCounts(graph);
  const replacedInits = new Map<string, TensorProto>();
  const nodeEdits = new Map<NodeProto, NodeProto>();
  const inserted = new Map<NodeProto | null, NodeProto[]>(); // after which node (null: at the top) a Mul goes
  const added: TensorProto[] = [];
  const smoothed: SmoothedActivation[] = [];
  for (const t of targets) {
    const k = t.channels;
    const weightMax = new Float32Array(k);
    const weights = [...new Map(t.layers.map((l) => [l.weight.name, l])).values()];
    for (const l of weights) rowMaxima(readFloat32(l.weight), l.operator.gemm(l.node, tensorDims(l.weight))!, weightMax);
    const s = smoothingScales(maxima[t.activation]!, weightMax, alpha);
    // Weights: row k times s_k.
    for (const l of weights) {
      const layout = l.operator.gemm(l.node, tensorDims(l.weight))!;
      const w = Float32Array.from(readFloat32(l.weight));
      for (let r = 0; r < k; r++)
        for (let n = 0; n < layout.N; n++) {
          const at = r * layout.kStride + n * layout.nStride;
          w[at] = w[at]! * s[r]!;
        }
      replacedInits.set(l.weight.name, makeTensor(l.weight.name, DT.FLOAT, tensorDims(l.weight), w));
    }
    const inverse = Float32Array.from(s, (v) => 1 / v);
    const producer = graph.node.find((n) => n.output.includes(t.activation));
    const fold = foldableNorm(producer, t, graph, inits, readers);
    if (fold) {
      for (const name of fold.constants) {
        const values = Float32Array.from(readFloat32(inits.get(name)!), (v, j) => v * inverse[j]!);
        replacedInits.set(name, makeTensor(name, DT.FLOAT, tensorDims(inits.get(name)!), values));
      }
    } else {
      const scale = makeTensor(fresh(`${t.activation}_smoothing`), DT.FLOAT, [k], inverse);
      const out = fresh(`${t.activation}_smoothed`);
      added.push(scale);
      const mul = makeNode("Mul", [t.activation, scale.name], [out], fresh(`${t.activation}_smooth`));
      const after = producer ?? null;
      inserted.set(after, [...(inserted.get(after) ?? []), mul]);
      for (const l of t.layers) {
        const current = nodeEdits.get(l.node) ?? l.node;
        nodeEdits.set(l.node, edited(current, { input: current.input.map((i, idx) => (idx === 0 ? out : i)) }));
      }
    }
    let lo = Infinity;
    let hi = 0;
    for (const v of s) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    smoothed.push({ activation: t.activation, layers: t.layers.map((l) => l.label), channels: k, foldedInto: fold ? fold.node : null, minScale: lo, maxScale: hi });
  }
  const node = [...(inserted.get(null) ?? []), ...graph.node.flatMap((n) => [nodeEdits.get(n) ?? n, ...(inserted.get(n) ?? [])])];
  const initializer = [...graph.initializer.map((t) => replacedInits.get(t.name) ?? t), ...added];
  return { model: { ...model, graph: { ...graph, node, initializer } }, smoothed };
}

/**
 * The LayerNormalization that makes the activation, when the division can go into its scale and bias: they are
 * constants of one value per channel that it alone reads, and the activation feeds the target's layers only.
 */
function foldableNorm(
  producer: NodeProto | undefined,
  t: SmoothingTarget,
  graph: GraphProto,
  inits: ReadonlyMap<string, TensorProto>,
  readers: ReadonlyMap<string, number>,
): { node: string; constants: string[] } | null {
  if (!producer || producer.opType !== "LayerNormalization" || producer.output[0] !== t.activation) return null;
  if (readers.get(t.activation) !== t.layers.length || graph.output.some((o) => o.name === t.activation)) return null;
  const constants = producer.input.slice(1, 3).filter(Boolean);
  for (const name of constants) {
    const c = inits.get(name);
    if (!c || c.dataType !== DT.FLOAT || readers.get(name) !== 1) return null;
    const dims = tensorDims(c);
    if (dims.length === 0 || dims[dims.length - 1] !== t.channels || dims.some((d, i) => i < dims.length - 1 && d !== 1)) return null;
  }
  if (constants.length === 0) return null;
  return { node: producer.name || producer.output[0]!, constants };
}
