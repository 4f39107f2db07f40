// Static activation quantization: a QuantizeLinear/DequantizeLinear pair (uint8, asymmetric, per tensor) on
// input 0 of each chosen layer, with scale and zero point from calibrated ranges. One pair per activation,
// shared by all of its consumers; onnxruntime fuses QDQ around MatMul/Conv into integer kernels.
import { edited } from "../../onnx/edit";
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { nodeLabel, weightedLayers } from "../../onnx/operators";
import { makeTensor } from "../../onnx/tensor";
import { liftedAtLeast } from "../../onnx/lift";
import { defaultOpset } from "../../onnx/validate";
import type { ActivationRanges, Range } from "../calibrate";
import { nameAllocator } from "../../onnx/names";
import { DomainError } from "../../domain-error";

export class StaticQuantizationError extends DomainError {
  override name = "StaticQuantizationError";
  constructor(message: string) {
    super("invalid_recipe", message);
  }
}

/** uint8 affine parameters covering the range and zero (so that zero padding and ReLU zeros are exact). */
export function uint8Params(r: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(r.min, 0);
  const hi = Math.max(r.max, 0);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-lo / scale)));
  return { scale: Math.fround(scale), zeroPoint };
}

export interface ActivationReport {
  name: string;
  min: number;
  max: number;
  scale: number;
  zeroPoint: number;
}

/**
 * The model at an opset with QuantizeLinear (10): lifted to 13 below 11 where no node's meaning changes
 * (worker/onnx/lift), since onnxruntime's default optimizations quantize a QDQ Conv's bias with a Round node, which
 * opset 10 lacks (an opset-10 variant then fails to load there); an opset-10 model that cannot be lifted stays as it
 * is; below 10, StaticQuantizationError with the reason.
 */
export function staticOpsetModel(model: ModelProto): ModelProto {
  const lifted = liftedAtLeast(model, 11);
  if ("model" in lifted) return lifted.model;
  const opset = defaultOpset(model);
  if (opset >= 10) return model;
  throw new StaticQuantizationError(`scheme 'static' needs opset >= 10 (QuantizeLinear); the model has ${opset} and cannot be lifted: ${lifted.reason}`);
}

/** Throws StaticQuantizationError when the model's opset lacks QuantizeLinear and cannot be lifted (a check on the graph alone). */
export function requireStaticOpset(model: ModelProto): void {
  staticOpsetModel(model);
}

/** The data input (the activation static quantization quantizes) of each top-level layer of `graph` it takes, by label. */
export function staticDataInputs(graph: GraphProto): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of weightedLayers(graph)) {
    if (!l.nested && l.operator.data !== null && l.operator.quantize.includes("static")) out.set(l.label, l.operator.data);
  }
  return out;
}

/** QDQ pairs on the data input of each layer of `layers` (label -> input index), from calibrated ranges. */
export function quantizeActivations(
  model: ModelProto,
  ranges: ActivationRanges,
  layers: ReadonlyMap<string, number>,
): { model: ModelProto; activations: ActivationReport[]; missing: string[] } {
  model = staticOpsetModel(model);
  const graph = model.graph!;
  const fresh = nameAllocator(graph);
  const inits = new Set(graph.initializer.map((t) => t.name));
  const replaced = new Map<string, string>();
  const activations: ActivationReport[] = [];
  const missing: string[] = [];
  const newInits: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  for (const node of graph.node) {
    const at = layers.get(nodeLabel(node));
    const x = at === undefined ? undefined : node.input[at];
    if (at === undefined || !x || inits.has(x)) {
      nodes.push(node);
      continue;
    }
    let dq = replaced.get(x);
    if (!dq) {
      const r = ranges[x];
      if (!r) {
        missing.push(x);
        nodes.push(node);
        continue;
      }
      const { scale, zeroPoint } = uint8Params(r);
      const s = fresh(`${x}_scale`);
      const z = fresh(`${x}_zero_point`);
      const q = fresh(`${x}_quantized`);
      dq = fresh(`${x}_dequantized`);
      newInits.push(makeTensor(s, DT.FLOAT, [], Float32Array.of(scale)), makeTensor(z, DT.UINT8, [], Uint8Array.of(zeroPoint)));
      nodes.push(makeNode("QuantizeLinear", [x, s, z], [q], fresh(`${x}_quantize`)));
      nodes.push(makeNode("DequantizeLinear", [q, s, z], [dq], fresh(`${x}_dequantize`)));
      replaced.set(x, dq);
      activations.push({ name: x, min: r.min, max: r.max, scale, zeroPoint });
    }
    const input = [...node.input];
    input[at] = dq;
    nodes.push(edited(node, { input }));
  }
  return {
    model: { ...model, graph: { ...graph, node: nodes, initializer: [...graph.initializer, ...newInits] } },
    activations,
    missing,
  };
}
