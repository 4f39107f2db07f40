// Dynamic quantization: int8 per-channel weights and activations quantized at run time
// (DynamicQuantizeLinear -> uint8), computed by MatMulInteger / ConvInteger in int32, then rescaled to float by
// activation scale x weight scale. One rewrite module per operator kind, over the weights the operator table finds
// and lays out; a node a module declines (with a reason) is left for the weight-only pass.
import type { ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { makeNode } from "../../../onnx/builders";
import { DT } from "../../../onnx/dtype";
import { readsDeep, subgraphsOf, weightedLayers, type WeightedLayer, type WeightLayout } from "../../../onnx/operators";
import { isExternal, readFloat32, tensorDims } from "../../../onnx/tensor";
import { defaultOpset } from "../../../onnx/validate";
import { liftedAtLeast } from "../../../onnx/lift";
import { readersOf, sharedWeightConflict, type TensorReport } from "../index";
import { nameAllocator } from "../../../onnx/names";
import { conv } from "./conv";
import { gemm } from "./gemm";
import { matmul } from "./matmul";
import { DomainError } from "../../../domain-error";
import type { DynamicContext, DynamicRewrite, QuantizedWeight } from "./rewrite";

export class DynamicQuantizationError extends DomainError {
  override name = "DynamicQuantizationError";
  constructor(message: string) {
    super("invalid_recipe", message);
  }
}

export type { DynamicContext, DynamicRewrite, QuantizedWeight };

const REWRITES: Record<string, DynamicRewrite> = { MatMul: matmul, Gemm: gemm, Conv: conv };

/**
 * The model at an opset with DynamicQuantizeLinear: as it is from 11, lifted to 13 below that where no node's
 * meaning changes (worker/onnx/lift); otherwise DynamicQuantizationError with the reason.
 */
export function dynamicOpsetModel(model: ModelProto): ModelProto {
  const lifted = liftedAtLeast(model, 11);
  if ("reason" in lifted) throw new DynamicQuantizationError(`scheme 'dynamic' needs opset >= 11 (DynamicQuantizeLinear); the model has ${defaultOpset(model)} and cannot be lifted: ${lifted.reason}`);
  return lifted.model;
}

/** Throws DynamicQuantizationError when the model's opset lacks DynamicQuantizeLinear and cannot be lifted (a check on the graph alone). */
export function requireDynamicOpset(model: ModelProto): void {
  dynamicOpsetModel(model);
}

export function quantizeDynamic(
  model: ModelProto,
  include: (node: NodeProto) => boolean,
  granularity: "per-channel" | "per-tensor" = "per-channel",
): { model: ModelProto; tensors: TensorReport[]; declined: { name: string; node: string; reason: string }[] } {
  model = dynamicOpsetModel(model);
  const graph = model.graph!;
  const fresh = nameAllocator(graph);
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const added: TensorProto[] = [];
  const quantized = new Map<string, [string, string, string]>();
  const nodes: NodeProto[] = [];
  const tensors: TensorReport[] = [];
  const declined: { name: string; node: string; reason: string }[] = [];
  const weights = new Map<string, QuantizedWeight>();
  const ctx: DynamicContext = {
    fresh,
    perTensor: granularity === "per-tensor",
    addInitializer: (t) => added.push(t),
    initializer: (name) => inits.get(name),
    quantizedActivation(x) {
      let q = quantized.get(x);
      if (!q) {
        q = [fresh(`${x}_quantized`), fresh(`${x}_scale`), fresh(`${x}_zero_point`)];
        nodes.push(makeNode("DynamicQuantizeLinear", [x], q, fresh(`${x}_dynamic_quantize`)));
        quantized.set(x, q);
      }
      return q;
    },
    quantizedWeight(key, make) {
      const known = weights.get(key);
      if (known) return { ...known, first: false };
      const made = make();
      weights.set(key, made);
      return { ...made, first: true };
    },
  };
  // Bodies keep their nodes: their layers are left to the weight-only pass.
  const layers = weightedLayers(graph).filter((l) => !l.nested);
  const readers = readersOf(graph);
  const layerAt = (node: NodeProto, index: number) => layers.find((l) => l.node === node && l.operator.weight === index);
  const why = new Map<WeightedLayer, string | null>();
  for (const layer of layers) {
    const rewrite = layer.operator.quantize.includes("dynamic") ? REWRITES[layer.node.opType] : undefined;
    const weight = layer.weight;
    why.set(
      layer,
      !rewrite || !include(layer.node)
        ? "not rewritten"
        : weight.dataType !== DT.FLOAT
          ? "weight is not float32"
          : isExternal(weight)
            ? "weight uses external data"
            : inits.has(layer.node.input[0]!)
              ? "input 0 is a constant"
              : rewrite.check(layer, layer.operator.layout(layer.node, tensorDims(weight)), ctx),
    );
  }
  // A weight is rewritten for all of its readers or for none (then the weight-only pass decides it once).
  const rewritten = new Set<NodeProto>();
  for (const layer of layers) {
    const reason = why.get(layer);
    if (reason) {
      if (reason !== "not rewritten") declined.push({ name: layer.weight.name, node: layer.label, reason });
      continue;
    }
    const takers = layers.filter((l) => l.weight === layer.weight && why.get(l) === null);
    const conflict = sharedWeightConflict(layer.weight.name, takers, readers, layerAt);
    if (conflict) declined.push({ name: layer.weight.name, node: layer.label, reason: `weight ${conflict}` });
    else rewritten.add(layer.node);
  }
  for (const node of graph.node) {
    const layer = rewritten.has(node) ? layers.find((l) => l.node === node) : undefined;
    if (!layer) {
      nodes.push(node);
      continue;
    }
    const weight = layer.weight;
    const out = REWRITES[node.opType]!.rewrite(layer, layer.operator.layout(node, tensorDims(weight))!, () => readFloat32(weight), ctx);
    nodes.push(...out.nodes);
    if (out.report) tensors.push(out.report);
  }
  // What is still read: by a node, inside its bodies (an If branch's Gemm on an outer weight), or as an output.
  const used = new Set<string>();
  for (const n of nodes) {
    for (const i of readsDeep(n)) used.add(i);
    for (const g of subgraphsOf(n)) for (const o of g.output) used.add(o.name);
  }
  for (const o of graph.output) used.add(o.name);
  // Float weights and biases the rewrites replaced are no longer read by anything.
  const kept = rewritten.size ? graph.initializer.filter((t) => used.has(t.name)) : graph.initializer;
  const keptNames = new Set(kept.map((t) => t.name));
  return {
    model: {
      ...model,
      graph: { ...graph, node: nodes, initializer: [...kept, ...added], input: graph.input.filter((v) => !inits.has(v.name) || keptNames.has(v.name)) },
    },
    tensors,
    declined,
  };
}
