// A quantize recipe applied to a model: decides each layer's bit-width (exclusions, per-node overrides), runs the
// scheme's passes (dynamic integer ops, weight-only per bit-width, static activation QDQ) and merges their reports.
import type { ModelProto, NodeProto } from "onnx-buf";
import type { ActivationRanges } from "./calibrate";
import { isWeightedLayer } from "./calibrate";
import { quantizeModel, type QuantizeOptions, type QuantizeResult } from "./quantize";
import { quantizeActivations, type ActivationReport } from "./quantize/activations";
import { quantizeDynamic } from "./quantize/dynamic";
import type { Recipe } from "./recipe";

export interface CompressResult extends QuantizeResult {
  activations: ActivationReport[];
}

export const layerName = (node: NodeProto) => node.name || node.output[0] || node.opType;

/** The weighted layers of a model (MatMul/Gemm/Conv nodes with an initializer weight), in graph order. */
export function weightedLayers(model: ModelProto): { name: string; op: string; weight: string }[] {
  const graph = model.graph!;
  const inits = new Set(graph.initializer.map((t) => t.name));
  return graph.node.filter((n) => isWeightedLayer(n, inits)).map((n) => ({ name: layerName(n), op: n.opType, weight: n.input[1]! }));
}

/** Bit-width per layer name; null leaves the layer float. */
export function layerBits(model: ModelProto, q: Recipe["quantize"]): Map<string, number | null> {
  const exclude = new Set(q.exclude ?? []);
  const bits = new Map<string, number | null>();
  for (const layer of weightedLayers(model)) {
    const excluded = exclude.has(layer.name) || exclude.has(layer.op);
    const b = excluded ? null : (q.overrides?.[layer.name] ?? q.bits);
    bits.set(layer.name, b === 32 ? null : b);
  }
  return bits;
}

export class RecipeMismatchError extends Error {
  override name = "RecipeMismatchError";
}

export function compressModel(model: ModelProto, recipe: Recipe, ranges?: ActivationRanges): CompressResult {
  const q = recipe.quantize;
  const bits = layerBits(model, q);
  const known = new Set(bits.keys());
  const ops = new Set(weightedLayers(model).map((l) => l.op));
  for (const name of Object.keys(q.overrides ?? {})) {
    if (!known.has(name)) throw new RecipeMismatchError(`overrides: '${name}' is not a quantizable layer of this model (${[...known].join(", ")})`);
  }
  for (const name of q.exclude ?? []) {
    if (!known.has(name) && !ops.has(name) && !model.graph!.node.some((n) => n.opType === name)) {
      throw new RecipeMismatchError(`exclude: '${name}' names no layer or op type of this model`);
    }
  }
  const bitsOf = (node: NodeProto) => bits.get(layerName(node));
  let current = model;
  const tensors: QuantizeResult["tensors"] = [];
  const skipped: QuantizeResult["skipped"] = [];
  if (q.scheme === "dynamic") {
    const r = quantizeDynamic(current, (n) => bitsOf(n) === 8);
    current = r.model;
    tensors.push(...r.tensors);
  }
  const widths = [...new Set([...bits.values()].filter((b): b is number => b !== null))].sort((a, b) => b - a);
  for (const b of widths) {
    // Remaining layers of this width (all of them, or those a dynamic rewrite declined) get weight-only.
    const options = { ...q, bits: b, include: (n: NodeProto) => bitsOf(n) === b } as unknown as QuantizeOptions;
    const r = quantizeModel(current, options);
    current = r.model;
    tensors.push(...r.tensors);
    skipped.push(...r.skipped);
  }
  let activations: ActivationReport[] = [];
  if (q.scheme === "static") {
    const layers = new Set([...bits].filter(([, b]) => b !== null).map(([name]) => name));
    const r = quantizeActivations(current, ranges ?? {}, layers);
    current = r.model;
    activations = r.activations;
    for (const x of r.missing) skipped.push({ name: x, node: x, reason: "no calibrated range for this activation" });
  }
  return { model: current, tensors, skipped, activations };
}
