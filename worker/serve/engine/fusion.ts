// Graph fusion before planning: exporters write layer norm, GELU, SiLU and (before opset 14) HardSwish as chains of
// elementwise ops (eight, five, two and two passes over the activations); each chain becomes one LayerNormalization,
// Gelu, Swish or HardSwish node that the engine runs in one pass. A dynamic int8 layer (DynamicQuantizeLinear, an
// integer MatMul or Conv, its float rescale) becomes the float op on its dequantized weights, which the engine packs
// for its int8 kernels. A chain fuses only when its intermediate tensors
// feed nothing outside it and are not graph outputs, so the rewritten graph computes the same outputs. The fused nodes exist only in the engine's plan (they may be of an
// opset newer than the model's); the stored model is never changed.
import type { NodeProto } from "onnx-buf";
import { floatAttribute, intAttribute, intsAttribute } from "../../onnx/attributes";
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { floatData, intData, readConstant, sizeOf, type Constant } from "./values";

/** What the matchers ask of the graph: producers, consumers and the scalar constants among the inputs. */
interface Graph {
  consumers: Map<string, NodeProto[]>;
  producer: Map<string, NodeProto>;
  graphOutputs: ReadonlySet<string>;
  constants: ReadonlyMap<string, Constant>;
  taken: Set<NodeProto>;
}

/** A fused chain: the nodes it replaces and the nodes that replace them. */
interface Fused {
  nodes: NodeProto[];
  into: NodeProto[];
}

const isOnnx = (n: NodeProto) => n.domain === "" || n.domain === "ai.onnx";

/** The value of a Constant node (the forms constant.ts plans), or null for other attributes. */
function constantNodeValue(n: NodeProto): Constant | null {
  const a = n.attribute.length === 1 ? n.attribute[0]! : null;
  if (!a) return null;
  if (a.name === "value" && a.t) {
    try {
      return readConstant(a.t);
    } catch {
      return null; // an element type the engine does not read: the Constant op itself will say so
    }
  }
  if (a.name === "value_float") return { dims: [], dtype: DT.FLOAT, data: Float32Array.of(a.f) };
  if (a.name === "value_floats") return { dims: [a.floats.length], dtype: DT.FLOAT, data: Float32Array.from(a.floats) };
  if (a.name === "value_ints") return { dims: [a.ints.length], dtype: DT.INT64, data: BigInt64Array.from(a.ints) };
  return null;
}

/** The constant `name` names (an initializer or a Constant node's output), or null. */
function constantOf(g: Graph, name: string | undefined): Constant | null {
  if (!name) return null;
  const c = g.constants.get(name);
  if (c) return c;
  const p = g.producer.get(name);
  return p && p.opType === "Constant" && isOnnx(p) ? constantNodeValue(p) : null;
}

/** The single value of a constant, or null when `name` is not a one-element constant. */
function scalar(g: Graph, name: string | undefined): number | null {
  const c = constantOf(g, name);
  if (!c || c.quant) return null;
  const data = floatData(c);
  return data.length === 1 ? data[0]! : null;
}

/** The node that alone reads `name`, when `name` is not a graph output and no fusion has claimed that node. */
function soleConsumer(g: Graph, name: string, opType: string): NodeProto | null {
  const users = g.consumers.get(name) ?? [];
  if (users.length !== 1 || g.graphOutputs.has(name)) return null;
  const n = users[0]!;
  return n.opType === opType && isOnnx(n) && !g.taken.has(n) ? n : null;
}

/** For a binary node reading `name`: its other operand (null when it reads `name` twice or has no other). */
function otherOperand(n: NodeProto, name: string): string | null {
  if (n.input.length !== 2) return null;
  const [a, b] = n.input as [string, string];
  if (a === name && b !== name) return b;
  if (b === name && a !== name) return a;
  return null;
}

const near = (v: number | null, want: number) => v !== null && Math.abs(v - want) <= 1e-6 * Math.abs(want);

/**
 * ReduceMean's axes when they are the trailing `k` axes counted from the end (-k..-1 in any order) with keepdims:
 * returns -k, the LayerNormalization axis they describe; null otherwise (positive axes need the rank, unknown here).
 */
function trailingAxes(g: Graph, r: NodeProto, opset: number): number | null {
  if (intAttribute(r, "keepdims", 1) !== 1) return null;
  let axes: number[];
  if (opset >= 18) {
    const c = constantOf(g, r.input[1]);
    if (!c) return null;
    axes = intData(c);
  } else {
    axes = intsAttribute(r, "axes", []);
  }
  if (axes.length === 0) return null;
  const sorted = [...axes].sort((x, y) => x - y);
  return sorted.every((a, i) => a === -axes.length + i) ? -axes.length : null;
}

/**
 * Layer norm as exporters write it: m = ReduceMean(x); d = x - m; v = ReduceMean(d^2) (Pow 2 or d * d);
 * n = d / Sqrt(v + eps); then optionally n * gamma and (n * gamma) + beta.
 */
function layerNorm(g: Graph, r1: NodeProto, opset: number): Fused | null {
  const axis = trailingAxes(g, r1, opset);
  const x = r1.input[0];
  if (axis === null || !x) return null;
  const sub = soleConsumer(g, r1.output[0]!, "Sub");
  if (!sub || sub.input[0] !== x || sub.input[1] !== r1.output[0]) return null;
  const d = sub.output[0]!;
  const users = [...new Set(g.consumers.get(d) ?? [])]; // d * d lists its Mul twice
  if (users.length !== 2 || g.graphOutputs.has(d) || users.some((n) => g.taken.has(n) || !isOnnx(n))) return null;
  const square = users.find((n) => (n.opType === "Pow" && n.input[0] === d && scalar(g, n.input[1]) === 2) || (n.opType === "Mul" && n.input[0] === d && n.input[1] === d));
  const div = users.find((n) => n.opType === "Div" && n.input[0] === d);
  if (!square || !div || square === div) return null;
  const r2 = soleConsumer(g, square.output[0]!, "ReduceMean");
  if (!r2 || trailingAxes(g, r2, opset) !== axis) return null;
  const addEps = soleConsumer(g, r2.output[0]!, "Add");
  const epsName = addEps && otherOperand(addEps, r2.output[0]!);
  const eps = scalar(g, epsName ?? undefined);
  if (!addEps || eps === null) return null;
  const sqrt = soleConsumer(g, addEps.output[0]!, "Sqrt");
  if (!sqrt || soleConsumer(g, sqrt.output[0]!, "Div") !== div || div.input[1] !== sqrt.output[0]) return null;
  const nodes = [r1, sub, square, r2, addEps, sqrt, div];
  let out = div.output[0]!;
  const inputs = [x];
  const mul = soleConsumer(g, out, "Mul");
  const gamma = mul && otherOperand(mul, out);
  if (mul && gamma) {
    nodes.push(mul);
    inputs.push(gamma);
    out = mul.output[0]!;
    const add = soleConsumer(g, out, "Add");
    const beta = add && otherOperand(add, out);
    if (add && beta) {
      nodes.push(add);
      inputs.push(beta);
      out = add.output[0]!;
    }
  } else {
    inputs.push(""); // Scale is required: without gamma the fused node multiplies by none (see the op)
  }
  const name = `${r1.name || out}/fused_LayerNormalization`;
  // epsilon as a float attribute even when whole (makeNode would write 1 as an int).
  return { nodes, into: [makeNode("LayerNormalization", inputs, [out], name, { axis, epsilon: { float: eps } })] };
}

/** x * 0.5, 0.5 * x or x / 2: the halved operand, or null. */
function halved(g: Graph, n: NodeProto): string | null {
  if (n.opType === "Mul") {
    if (near(scalar(g, n.input[1]), 0.5)) return n.input[0] ?? null;
    if (near(scalar(g, n.input[0]), 0.5)) return n.input[1] ?? null;
  }
  if (n.opType === "Div" && near(scalar(g, n.input[1]), 2)) return n.input[0] ?? null;
  return null;
}

/** The one consumer of `name` that is a Mul or a Div (the forms `halved` reads), or null. */
function soleArithmetic(g: Graph, name: string): NodeProto | null {
  return soleConsumer(g, name, "Mul") ?? soleConsumer(g, name, "Div");
}

/**
 * GELU with Erf: e = 1 + Erf(x / sqrt 2) (or x * (1 / sqrt 2)), then any of (x * e) * 0.5, (x * 0.5) * e and
 * x * (e * 0.5) (operands in either order, 0.5 also as / 2).
 */
function gelu(g: Graph, erf: NodeProto): Fused | null {
  const u = erf.input[0];
  const scale = u ? g.producer.get(u) : undefined;
  if (!u || !scale || !isOnnx(scale) || g.taken.has(scale) || soleConsumer(g, u, "Erf") !== erf) return null;
  let x: string | null = null;
  if (scale.opType === "Div" && near(scalar(g, scale.input[1]), Math.SQRT2)) x = scale.input[0] ?? null;
  if (scale.opType === "Mul") {
    if (near(scalar(g, scale.input[1]), Math.SQRT1_2)) x = scale.input[0] ?? null;
    else if (near(scalar(g, scale.input[0]), Math.SQRT1_2)) x = scale.input[1] ?? null;
  }
  if (!x) return null;
  const plusOne = soleConsumer(g, erf.output[0]!, "Add");
  if (!plusOne || !near(scalar(g, otherOperand(plusOne, erf.output[0]!) ?? undefined), 1)) return null;
  const e = plusOne.output[0]!;
  const head = [scale, erf, plusOne];
  const next = soleArithmetic(g, e);
  if (!next) return null;
  const fused = (tail: NodeProto[]): Fused => {
    const last = tail[tail.length - 1]!;
    return { nodes: [...head, ...tail], into: [makeNode("Gelu", [x], [last.output[0]!], `${erf.name || e}/fused_Gelu`, { approximate: "none" })] };
  };
  if (next.opType === "Mul" && otherOperand(next, e) === x) {
    // (x * e) * 0.5
    const half = soleArithmetic(g, next.output[0]!);
    return half && halved(g, half) === next.output[0] ? fused([next, half]) : null;
  }
  if (next.opType === "Mul") {
    // (x * 0.5) * e
    const h = otherOperand(next, e);
    const hp = h ? g.producer.get(h) : undefined;
    if (h && hp && isOnnx(hp) && !g.taken.has(hp) && halved(g, hp) === x && soleArithmetic(g, h) === next) return fused([hp, next]);
  }
  if (halved(g, next) === e) {
    // x * (e * 0.5)
    const mul = soleConsumer(g, next.output[0]!, "Mul");
    return mul && otherOperand(mul, next.output[0]!) === x ? fused([next, mul]) : null;
  }
  return null;
}

/**
 * x times an activation of x, as exporters write SiLU (Sigmoid) and, before opset 14, HardSwish (HardSigmoid with
 * alpha 1/6 and beta 1/2): the activation's output read by one Mul alone, whose other operand is x (either order).
 */
function selfGated(g: Graph, act: NodeProto, opType: string, attributes: Record<string, { float: number }> = {}): Fused | null {
  const x = act.input[0];
  const a = act.output[0];
  const mul = a ? soleConsumer(g, a, "Mul") : null;
  if (!x || !mul || otherOperand(mul, a!) !== x) return null;
  return { nodes: [act, mul], into: [makeNode(opType, [x], [mul.output[0]!], `${act.name || a}/fused_${opType}`, attributes)] };
}

/**
 * Whether a constant of `dims` broadcasts, against an output of rank `rank`, as one value or one per channel along
 * `axis` (right-aligned, as numpy broadcasting reads it).
 */
function channelwise(dims: readonly number[], channels: number, axis: number, rank: number): boolean {
  if (dims.length > rank) return false;
  const aligned = [...new Array<number>(rank - dims.length).fill(1), ...dims];
  return aligned.every((d, i) => d === 1 || (i === axis && d === channels));
}

/** The integer ops of a dynamic int8 layer, and the float op each computes on dequantized weights. */
const INTEGER_OPS: Record<string, "MatMul" | "Conv"> = { MatMulInteger: "MatMul", ConvInteger: "Conv" };

/**
 * A dynamic int8 layer as quantizers write it (the `dynamic` scheme here, onnxruntime's quantize_dynamic):
 * (q, s, z) = DynamicQuantizeLinear(x); a = MatMulInteger(q, W, z, wz) or ConvInteger(q, W, z, wz); y = Cast(a) *
 * (s * ws). That is y = MatMul(x, DequantizeLinear(W, ws, wz)) (or Conv with the same attributes), the weight-only
 * form whose integer levels the engine packs for its int8 kernels. The engine then quantizes the activations itself,
 * per row or pixel where onnxruntime puts the whole tensor on one uint8 grid, so the two answers differ by that
 * rounding. `dequantized` names each weight's DequantizeLinear once, so layers sharing a weight share its packing.
 */
function dynamicInteger(g: Graph, n: NodeProto, dequantized: Map<string, string>): Fused | null {
  const [q, w, z, wz] = n.input;
  const quantize = q ? g.producer.get(q) : undefined;
  if (!quantize || quantize.opType !== "DynamicQuantizeLinear" || !isOnnx(quantize) || quantize.output[0] !== q || !z || quantize.output[2] !== z) return null;
  const [x] = quantize.input;
  const s = quantize.output[1];
  const weight = constantOf(g, w);
  if (!x || !s || !weight || (weight.dtype !== DT.INT8 && weight.dtype !== DT.UINT8)) return null;
  const op = INTEGER_OPS[n.opType]!;
  const rank = weight.dims.length;
  if (op === "Conv" ? rank < 3 : rank !== 2) return null;
  // Conv's output has the weight's rank, channels on axis 1; MatMul's channels are its last axis, at any rank.
  const channels = weight.dims[op === "Conv" ? 0 : 1]!;
  const cast = soleConsumer(g, n.output[0]!, "Cast");
  if (!cast || intAttribute(cast, "to", 0) !== DT.FLOAT) return null;
  const rescale = soleConsumer(g, cast.output[0]!, "Mul");
  const product = rescale ? otherOperand(rescale, cast.output[0]!) : null;
  const scales = product ? g.producer.get(product) : undefined;
  if (!rescale || !product || !scales || scales.opType !== "Mul" || !isOnnx(scales) || g.taken.has(scales)) return null;
  if (soleConsumer(g, product, "Mul") !== rescale) return null;
  const ws = otherOperand(scales, s);
  const scale = constantOf(g, ws ?? undefined);
  if (!ws || !scale || scale.dtype !== DT.FLOAT) return null;
  if (!channelwise(scale.dims, channels, 1, op === "Conv" ? rank : 2) || ![1, channels].includes(sizeOf(scale.dims))) return null;
  if (wz) {
    const zero = constantOf(g, wz);
    if (!zero || zero.dtype !== weight.dtype || ![1, sizeOf(scale.dims)].includes(sizeOf(zero.dims))) return null;
  }
  const axis = op === "Conv" ? 0 : 1;
  const key = [w, ws, wz ?? "", axis].join("\u0000");
  const known = dequantized.get(key);
  const name = known ?? `${w}/dequantized_for_engine_${dequantized.size}`;
  const into: NodeProto[] = [];
  if (!known) {
    dequantized.set(key, name);
    into.push(makeNode("DequantizeLinear", wz ? [w!, ws, wz] : [w!, ws], [name], `${name}/node`, { axis }));
  }
  const float = makeNode(op, [x, name], [rescale.output[0]!], `${n.name || n.output[0]}/fused_${op}`);
  if (op === "Conv") float.attribute = n.attribute;
  into.push(float);
  return { nodes: [n, cast, scales, rescale], into };
}

const isHardSwishGate = (n: NodeProto) => near(floatAttribute(n, "alpha", 0.2), 1 / 6) && near(floatAttribute(n, "beta", 0.5), 0.5);

/**
 * The node list with each fusable layer norm, Erf GELU, SiLU and HardSwish replaced by one node, placed where the
 * chain's last node was (its inputs are all computed by then). Constant nodes left without consumers are dropped. Pure: the given
 * nodes are not changed; without anything to fuse the list comes back as it was.
 */
export function fuseGraph(
  nodes: readonly NodeProto[],
  constants: ReadonlyMap<string, Constant>,
  graphOutputs: ReadonlySet<string>,
  opset = 13,
): NodeProto[] {
  const consumers = new Map<string, NodeProto[]>();
  const producer = new Map<string, NodeProto>();
  for (const n of nodes) {
    for (const i of n.input) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
    for (const o of n.output) if (o) producer.set(o, n);
  }
  const g: Graph = { consumers, producer, graphOutputs, constants, taken: new Set() };
  const order = new Map(nodes.map((m, i) => [m, i]));
  const replacement = new Map<NodeProto, NodeProto[]>(); // the chain's last node -> the nodes that replace the chain
  const dequantized = new Map<string, string>();
  for (const n of nodes) {
    if (!isOnnx(n) || g.taken.has(n)) continue;
    const f =
      n.opType === "ReduceMean" ? layerNorm(g, n, opset)
      : n.opType === "Erf" ? gelu(g, n)
      : n.opType === "Sigmoid" ? selfGated(g, n, "Swish", { alpha: { float: 1 } })
      : n.opType === "HardSigmoid" && isHardSwishGate(n) ? selfGated(g, n, "HardSwish")
      : n.opType in INTEGER_OPS ? dynamicInteger(g, n, dequantized)
      : null;
    if (!f) continue;
    for (const m of f.nodes) g.taken.add(m);
    const last = f.nodes.reduce((a, b) => (order.get(b)! > order.get(a)! ? b : a));
    replacement.set(last, f.into);
  }
  if (replacement.size === 0) return [...nodes];
  // A DynamicQuantizeLinear whose every reader was fused away goes too (its input is read by the fused ops instead).
  for (const n of nodes) {
    const readers = n.output.flatMap((o) => (o ? (consumers.get(o) ?? []) : []));
    const unread = n.output.every((o) => !o || !graphOutputs.has(o)) && readers.every((r) => g.taken.has(r));
    if (n.opType === "DynamicQuantizeLinear" && isOnnx(n) && unread) g.taken.add(n);
  }
  const fused = nodes.flatMap((n) => replacement.get(n) ?? (g.taken.has(n) ? [] : [n]));
  const read = new Set(fused.flatMap((n) => n.input));
  const fedChain = (n: NodeProto) => n.output.some((o) => (consumers.get(o) ?? []).some((c) => g.taken.has(c)));
  return fused.filter(
    (n) => !(n.opType === "Constant" && isOnnx(n) && fedChain(n) && n.output.every((o) => !o || (!read.has(o) && !graphOutputs.has(o)))),
  );
}
