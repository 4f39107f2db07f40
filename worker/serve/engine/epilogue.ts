// Fusing the per-channel tail of a linear op (bias Add, BatchNormalization, Relu/Clip) into its kernel's epilogue:
// one pass over the output instead of one per op, and BatchNormalization folded into the weights' channel scales.
import type { NodeProto } from "onnx-buf";
import { floatAttribute } from "../../onnx/attributes";
import { gridOf, sameGrid } from "./activation-grid";
import type { Epilogue, Grid } from "./op";
import { floatData, type Constant } from "./values";

interface GraphFacts {
  consumers: Map<string, NodeProto[]>;
  graphOutputs: Set<string>;
  constants: Map<string, Constant>;
  absorbed: Set<NodeProto>;
  opset: number;
}

/** The node that alone consumes `name`, when `name` is not also a graph output. */
function soleConsumer(name: string, g: GraphFacts): NodeProto | null {
  const users = g.consumers.get(name) ?? [];
  if (users.length !== 1 || g.graphOutputs.has(name)) return null;
  const n = users[0]!;
  return n.domain === "" || n.domain === "ai.onnx" ? n : null;
}

/** A constant that broadcasts as one value per channel along `axis` of a rank-`rank` tensor. */
function perChannel(c: Constant | undefined, channels: number, axis: number, rank: number): Float32Array | null {
  if (!c || c.dims.length > rank) return null;
  const dims = [...new Array<number>(rank - c.dims.length).fill(1), ...c.dims];
  const ok = dims.every((d, i) => (i === axis ? d === channels || d === 1 : d === 1));
  if (!ok) return null;
  const data = floatData(c);
  return Float32Array.from({ length: channels }, (_, i) => data[data.length === 1 ? 0 : i]!);
}

export function absorbEpilogue(
  node: NodeProto,
  channels: number,
  axis: number,
  rank: number,
  g: GraphFacts,
  start?: Epilogue,
): { epilogue: Epilogue; output: string } {
  const ep: Epilogue = start ? { ...start } : { scale: null, bias: null, lo: -Infinity, hi: Infinity };
  let output = node.output[0]!;
  const addBias = (b: Float32Array) => {
    ep.bias = ep.bias ? ep.bias.map((v, i) => v + b[i]!) : b;
  };
  for (;;) {
    const next = soleConsumer(output, g);
    if (!next || ep.lo !== -Infinity || ep.hi !== Infinity) break; // nothing fuses after an activation
    const other = next.input[0] === output ? next.input[1] : next.input[0];
    if (next.opType === "Add" && next.input.length === 2 && other && next.input.filter((i) => i === output).length === 1) {
      const b = perChannel(g.constants.get(other), channels, axis, rank);
      if (!b) break;
      addBias(b);
    } else if (next.opType === "BatchNormalization" && next.input[0] === output && next.output.filter((o) => o).length === 1) {
      const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => perChannel(g.constants.get(next.input[i] ?? ""), channels, 0, 1));
      if (!scale || !bias || !mean || !variance || rank < 2 || axis !== 1) break;
      const eps = floatAttribute(next, "epsilon", 1e-5);
      const s = scale.map((v, i) => v / Math.sqrt(variance[i]! + eps));
      // (x + b) * s + (beta - mean * s): weights and existing bias scale by s.
      ep.scale = ep.scale ? ep.scale.map((v, i) => v * s[i]!) : s;
      ep.bias = (ep.bias ?? new Float32Array(channels)).map((v, i) => v * s[i]! + bias[i]! - mean[i]! * s[i]!);
    } else if (next.opType === "Relu") {
      ep.lo = 0;
    } else if (next.opType === "Clip") {
      const bounds = clipBounds(next, g);
      if (!bounds) break;
      [ep.lo, ep.hi] = bounds;
    } else break;
    g.absorbed.add(next);
    output = next.output[0]!;
  }
  return { epilogue: ep, output };
}

/**
 * For an elementwise op: absorbs a Relu, or a Clip with constant bounds, that alone consumes the node's output. The
 * bounds to clamp to (-inf/inf when nothing fused) and the output name the step must produce.
 */
export function absorbActivation(node: NodeProto, g: GraphFacts): { lo: number; hi: number; output: string } {
  const output = node.output[0]!;
  const next = soleConsumer(output, g);
  const bounds = next?.opType === "Relu" ? ([0, Infinity] as [number, number]) : next?.opType === "Clip" ? clipBounds(next, g) : null;
  if (!next || !bounds) return { lo: -Infinity, hi: Infinity, output };
  g.absorbed.add(next);
  return { lo: bounds[0], hi: bounds[1], output: next.output[0]! };
}

/**
 * For a QuantizeLinear onto `grid`: absorbs the DequantizeLinear on the same grid that alone reads its levels (the
 * pair QDQ exporters write before a quantized layer), so that one pass writes the values on the grid. The output name
 * the step must produce, or null when no such DequantizeLinear follows.
 */
export function absorbDequantize(node: NodeProto, grid: Grid, g: GraphFacts): string | null {
  const next = soleConsumer(node.output[0]!, g);
  if (next?.opType !== "DequantizeLinear" || next.input[0] !== node.output[0]) return null;
  const constant = (i: number) => (next.input[i] ? g.constants.get(next.input[i]!) : undefined);
  const own = gridOf(next, constant(1), constant(2), Boolean(next.input[2]));
  if (!own || !sameGrid(own, grid)) return null;
  g.absorbed.add(next);
  return next.output[0]!;
}

/** Clip's bounds: attributes before opset 11, constant inputs after (absent = unbounded). */
export function clipBounds(node: NodeProto, g: { constants: Map<string, Constant>; opset: number }): [number, number] | null {
  if (g.opset < 11) return [floatAttribute(node, "min", -3.4028234663852886e38), floatAttribute(node, "max", 3.4028234663852886e38)];
  const bound = (i: number, fallback: number) => {
    const name = node.input[i];
    if (!name) return fallback;
    const c = g.constants.get(name);
    return c ? floatData(c)[0]! : null;
  };
  const lo = bound(1, -Infinity);
  const hi = bound(2, Infinity);
  return lo === null || hi === null ? null : [lo, hi];
}
