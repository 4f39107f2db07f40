// Channel pruning as a graph rewrite: removing output channels of a Conv/Gemm/MatMul slices its weight and bias
// and every tensor that follows those channels downstream (BatchNormalization parameters, per-channel constants of
// Add/Mul, depthwise convs, the next layer's input channels, Flatten->Gemm/MatMul), so the variant is a smaller
// dense model. A producer whose channels reach something that could mix them is refused, with the reason.
import { edited } from "../../onnx/edit";
import type { ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { intAttribute } from "../../onnx/attributes";
import { makeNode, makeValueInfo, type AttributeValue } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { prunableLayout, subgraphsOf, weightedLayer, weightedOperator } from "../../onnx/operators";
import { channelLayout, makeTensor, readFloat32, tensorDims } from "../../onnx/tensor";

/** Maps the producer's kept output channels to the indices kept along one axis of a downstream tensor. */
type Expand = (keep: readonly number[]) => number[];

interface ChannelEdit {
  slices: { tensor: string; axis: number; expand: Expand }[];
  attributes: { node: number; name: string; value: (keep: readonly number[]) => number }[];
  /** Activations whose shapes change: their value_info is dropped (shape inference recomputes it). */
  tensors: string[];
}

export type ChannelPlan = Map<string, ChannelEdit | { reason: string }>;

/** Where the channels sit in an activation, counted from its last axis, and how many elements each spans. */
interface Activation {
  tensor: string;
  /** Negative axis of the channels (-1 = last); null rank unknown only matters for Flatten. */
  axis: number;
  rank: number | null;
  channels: number;
  expand: Expand;
  /** Elements per channel along the axis: 1, or the spatial size after a Flatten (null until a weight tells). */
  span: number | null;
  /** Product of the spatial dims when known (1 after a global pool). */
  spatial: number | null;
}

const PASS_THROUGH = new Set([
  "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Softplus",
  "Softsign", "Identity", "Dropout", "Clip", "Neg", "Abs", "Gelu", "Mish", "Erf", "Sqrt", "Exp",
]);
const SPATIAL_POOLS = new Set(["MaxPool", "AveragePool", "LpPool"]);
const GLOBAL_POOLS = new Set(["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"]);
const ELEMENTWISE = new Set(["Add", "Sub", "Mul", "Div"]);

const identity: Expand = (keep) => [...keep];
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

class Refusal extends Error {}

/** For every prunable producer in the graph, the edits that removing its output channels implies, or why not. */
/** Names the bodies of a node read (its implicit inputs, and the bodies' own names, which are harmless here). */
function bodyReads(node: NodeProto, out = new Set<string>()): Set<string> {
  for (const g of subgraphsOf(node))
    for (const n of g.node) {
      for (const i of n.input) if (i) out.add(i);
      bodyReads(n, out);
    }
  return out;
}

export function planChannels(model: ModelProto): ChannelPlan {
  const graph = model.graph!;
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const consumers = new Map<string, { node: number; index: number }[]>();
  const readers = new Map<string, number>();
  const read = (name: string, node: number, index: number) => {
    if (!name) return;
    consumers.set(name, [...(consumers.get(name) ?? []), { node, index }]);
    readers.set(name, (readers.get(name) ?? 0) + 1);
  };
  graph.node.forEach((n, node) => {
    n.input.forEach((name, index) => read(name, node, index));
    // A body (If/Loop/Scan) reading an outer name is one more consumer, which the channels are not followed into.
    for (const name of bodyReads(n)) read(name, node, -1);
  });
  const outputs = new Set(graph.output.map((o) => o.name));
  const label = (i: number) => graph.node[i]!.name || `#${i} (${graph.node[i]!.opType})`;

  /** A constant this rewrite may slice: an initializer read by this node only. */
  const ownConstant = (name: string, node: number, what: string): TensorProto => {
    const t = initializers.get(name);
    if (!t) throw new Refusal(`${what} '${name}' of node '${label(node)}' is computed, not a constant`);
    if ((readers.get(name) ?? 0) > 1) throw new Refusal(`${what} '${name}' is shared with other nodes`);
    if (t.dataType !== DT.FLOAT) throw new Refusal(`${what} '${name}' is not float32`);
    return t;
  };

  function follow(a: Activation, edit: ChannelEdit, depth: number): void {
    if (depth > 256) throw new Refusal("the channels run through more than 256 nodes");
    if (outputs.has(a.tensor)) throw new Refusal(`'${a.tensor}' is a graph output, whose shape must not change`);
    edit.tensors.push(a.tensor);
    const uses = consumers.get(a.tensor) ?? [];
    for (const { node: i, index } of uses) consume(a, i, index, edit, depth);
  }

  function consume(a: Activation, i: number, index: number, edit: ChannelEdit, depth: number): void {
    const n = graph.node[i]!;
    const where = `${n.opType} node '${label(i)}'`;
    const usedOutputs = n.output.filter((o, k) => k > 0 && o !== "" && ((consumers.get(o)?.length ?? 0) > 0 || outputs.has(o)));
    const next = (patch: Partial<Activation> = {}) => follow({ ...a, tensor: n.output[0]!, ...patch }, edit, depth + 1);
    if (n.domain !== "" && n.domain !== "ai.onnx") throw new Refusal(`${where} is in domain '${n.domain}'`);
    if (a.span === null && !["Gemm", "MatMul"].includes(n.opType) && !PASS_THROUGH.has(n.opType)) {
      throw new Refusal(`${where} reads flattened channels whose spatial size is unknown`);
    }
    if (PASS_THROUGH.has(n.opType)) {
      if (index !== 0) throw new Refusal(`${where} takes the channels as a parameter`);
      if (n.opType === "PRelu") sliceBroadcast(a, n.input[1]!, i, edit, "slope");
      if (usedOutputs.length > 0) throw new Refusal(`${where} has extra outputs in use`);
      return next();
    }
    if (SPATIAL_POOLS.has(n.opType) || GLOBAL_POOLS.has(n.opType)) {
      if (a.rank === null || a.rank < 3 || a.axis !== 1 - a.rank) throw new Refusal(`${where} pools over the channel axis`);
      if (usedOutputs.length > 0) throw new Refusal(`${where} has extra outputs in use`);
      return next(GLOBAL_POOLS.has(n.opType) ? { spatial: 1 } : {});
    }
    if (n.opType === "BatchNormalization") {
      if (index !== 0 || a.rank === null || a.axis !== 1 - a.rank) throw new Refusal(`${where} normalises another axis`);
      if (usedOutputs.length > 0) throw new Refusal(`${where} runs in training mode`);
      for (let k = 1; k <= 4; k++) {
        const t = ownConstant(n.input[k]!, i, "BatchNormalization parameter");
        if (tensorDims(t).length !== 1) throw new Refusal(`BatchNormalization parameter '${t.name}' is not a vector`);
        edit.slices.push({ tensor: t.name, axis: 0, expand: a.expand });
      }
      return next();
    }
    if (ELEMENTWISE.has(n.opType)) {
      const other = n.input[1 - index]!;
      if (!initializers.has(other)) {
        throw new Refusal(`${where} joins the channels with another branch ('${other}'); both would have to lose the same channels`);
      }
      sliceBroadcast(a, other, i, edit, `${n.opType} operand`);
      return next();
    }
    if (n.opType === "Conv") {
      if (index !== 0) throw new Refusal(`${where} reads the channels as its weight`);
      const w = ownConstant(n.input[1]!, i, "Conv weight");
      const dims = tensorDims(w);
      const group = intAttribute(n, "group", 1);
      if (a.rank === null || a.axis !== 1 - a.rank) throw new Refusal(`${where} does not read the channels on axis 1`);
      if (group === 1) {
        edit.slices.push({ tensor: w.name, axis: 1, expand: a.expand });
        return;
      }
      if (group !== a.channels || dims[1] !== 1) throw new Refusal(`${where} is a grouped conv (group=${group}) that mixes channels per group`);
      // Depthwise: each input channel owns `mult` output channels, which go with it.
      const mult = dims[0]! / group;
      const expand: Expand = (keep) => a.expand(keep).flatMap((c) => range(mult).map((j) => c * mult + j));
      edit.slices.push({ tensor: w.name, axis: 0, expand });
      if (n.input[2]) edit.slices.push({ tensor: ownConstant(n.input[2], i, "Conv bias").name, axis: 0, expand });
      edit.attributes.push({ node: i, name: "group", value: (keep) => a.expand(keep).length });
      return next({ channels: dims[0]!, expand });
    }
    if (n.opType === "Gemm" || n.opType === "MatMul") {
      if (index !== 0) throw new Refusal(`${where} reads the channels as its second operand`);
      if (a.axis !== -1) throw new Refusal(`${where} does not reduce over the channel axis`);
      if (n.opType === "Gemm" && intAttribute(n, "transA", 0) !== 0) throw new Refusal(`${where} transposes its input`);
      const op = weightedOperator(n)!;
      const w = ownConstant(n.input[op.weight]!, i, `${n.opType} weight`);
      const dims = tensorDims(w);
      if (dims.length !== 2) throw new Refusal(`${where} has a ${dims.length}-D weight`);
      const kAxis = op.layout(n, dims)!.inAxis;
      const k = dims[kAxis]!;
      const span = a.span ?? k / a.channels;
      if (!Number.isInteger(span) || span * a.channels !== k) {
        throw new Refusal(`${where} reduces over ${k} features, not a multiple of ${a.channels} channels`);
      }
      const expand: Expand = span === 1 ? a.expand : (keep) => a.expand(keep).flatMap((c) => range(span).map((s) => c * span + s));
      edit.slices.push({ tensor: w.name, axis: kAxis, expand });
      return;
    }
    if (n.opType === "Flatten") {
      const axis = intAttribute(n, "axis", 1);
      if (a.rank === null || axis !== 1 || a.axis !== 1 - a.rank) throw new Refusal(`${where} flattens across the channel axis`);
      return next({ axis: -1, rank: 2, span: a.rank === 2 ? a.span : a.spatial, spatial: null });
    }
    if (n.opType === "Reshape") throw new Refusal(`${where} may mix channels into other axes`);
    if (n.opType === "Concat") throw new Refusal(`${where} joins the channels with other tensors`);
    throw new Refusal(`${where} is not known to keep channels apart`);
  }

  /** Slices a constant that broadcasts against the activation, if it varies along the channel axis. */
  function sliceBroadcast(a: Activation, name: string, node: number, edit: ChannelEdit, what: string): void {
    const t = initializers.get(name);
    if (!t) throw new Refusal(`${what} '${name}' of node '${label(node)}' is computed, not a constant`);
    const dims = tensorDims(t);
    const at = dims.length + a.axis;
    if (at < 0 || dims[at] === 1) return;
    if (a.span !== 1) throw new Refusal(`${what} '${name}' varies along flattened channels`);
    if (dims[at] !== a.channels) throw new Refusal(`${what} '${name}' has ${dims[at]} entries on the channel axis, not ${a.channels}`);
    ownConstant(name, node, what);
    edit.slices.push({ tensor: name, axis: at, expand: a.expand });
  }

  const plan: ChannelPlan = new Map();
  graph.node.forEach((n, i) => {
    const layer = weightedLayer(n, initializers);
    if (!layer || plan.has(layer.weight.name)) return;
    const { weight: w, operator } = layer;
    const dims = tensorDims(w);
    const layout = prunableLayout(layer, dims);
    if (!layout) return;
    const edit: ChannelEdit = { slices: [{ tensor: w.name, axis: layout.outAxis, expand: identity }], attributes: [], tensors: [] };
    try {
      if ((readers.get(w.name) ?? 0) > 1) throw new Refusal("weight is shared by several nodes");
      if (n.opType === "Conv" && intAttribute(n, "group", 1) !== 1) throw new Refusal("grouped conv: its output channels are tied to input groups");
      if (n.opType === "Gemm" && intAttribute(n, "transA", 0) !== 0) throw new Refusal("Gemm transposes its input");
      const channels = dims[layout.outAxis]!;
      const bias = operator.bias === null ? undefined : n.input[operator.bias];
      if (bias) {
        const b = ownConstant(bias, i, "bias");
        const bd = tensorDims(b);
        if (bd.length === 1 && bd[0] === channels) edit.slices.push({ tensor: b.name, axis: 0, expand: identity });
        else if (bd.reduce((x, y) => x * y, 1) !== 1) throw new Refusal(`bias '${b.name}' of shape [${bd}] is not per channel`);
      }
      const { axis, rank } = operator.outputChannels(dims);
      follow({ tensor: n.output[0]!, axis, rank, channels, expand: identity, span: 1, spatial: null }, edit, 0);
      plan.set(w.name, edit);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      plan.set(w.name, { reason: err.message });
    }
  });
  return plan;
}

/** Keeps `indices` along `axis` of a row-major float tensor. */
function take(data: Float32Array, dims: readonly number[], axis: number, indices: readonly number[]): Float32Array {
  const { outer, channels: size, inner } = channelLayout(dims, axis);
  const out = new Float32Array(outer * indices.length * inner);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const c of indices) {
      out.set(data.subarray((o * size + c) * inner, (o * size + c + 1) * inner), at);
      at += inner;
    }
  }
  return out;
}

/**
 * Removes `removed[weight]` output channels from each planned producer (weights absent from the plan, or refused,
 * must not be given). Returns the rewritten model and the new shape of every sliced initializer.
 */
export function removeChannels(model: ModelProto, removed: Map<string, number[]>): { model: ModelProto; shapes: Map<string, number[]> } {
  const graph = model.graph!;
  const plan = planChannels(model);
  const slices = new Map<string, Map<number, number[]>>();
  const attributes = new Map<number, Record<string, number>>();
  const changed = new Set<string>();
  for (const [weight, channels] of removed) {
    if (channels.length === 0) continue;
    const edit = plan.get(weight);
    if (!edit || "reason" in edit) throw new Error(`channels of '${weight}' cannot be removed: ${edit && "reason" in edit ? edit.reason : "not a producer"}`);
    const dims = tensorDims(graph.initializer.find((t) => t.name === weight)!);
    const count = dims[edit.slices[0]!.axis]!;
    const gone = new Set(channels);
    const keep = range(count).filter((c) => !gone.has(c));
    for (const s of edit.slices) {
      const axes = slices.get(s.tensor) ?? new Map<number, number[]>();
      if (axes.has(s.axis)) throw new Error(`'${s.tensor}' axis ${s.axis} would be sliced twice`);
      axes.set(s.axis, s.expand(keep));
      slices.set(s.tensor, axes);
    }
    for (const a of edit.attributes) attributes.set(a.node, { ...attributes.get(a.node), [a.name]: a.value(keep) });
    for (const t of edit.tensors) changed.add(t);
  }
  const shapes = new Map<string, number[]>();
  const initializer = graph.initializer.map((t) => {
    const axes = slices.get(t.name);
    if (!axes) return t;
    let dims = tensorDims(t);
    let data = readFloat32(t);
    for (const [axis, indices] of [...axes].sort(([a], [b]) => a - b)) {
      data = take(data, dims, axis, indices);
      dims = dims.map((d, k) => (k === axis ? indices.length : d));
    }
    shapes.set(t.name, dims);
    return makeTensor(t.name, DT.FLOAT, dims, data);
  });
  const node = graph.node.map((n, i): NodeProto => {
    const patch = attributes.get(i);
    if (!patch) return n;
    const rebuilt = makeNode(n.opType, [], [], "", patch as Record<string, AttributeValue>);
    const attribute = [...n.attribute.filter((a) => !(a.name in patch)), ...rebuilt.attribute];
    return edited(n, { attribute: attribute.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) });
  });
  const valueInfo = graph.valueInfo.filter((v) => !changed.has(v.name));
  // IR < 4 lists initializers as graph inputs with their shapes: those must follow the new shapes.
  const input = graph.input.map((v) => (shapes.has(v.name) ? makeValueInfo(v.name, DT.FLOAT, shapes.get(v.name)!) : v));
  return { model: { ...model, graph: { ...graph, initializer, node, valueInfo, input } }, shapes };
}

