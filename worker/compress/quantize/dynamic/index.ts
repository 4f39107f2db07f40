// Dynamic quantization: int8 per-channel weights and activations quantized at run time
// (DynamicQuantizeLinear -> uint8), computed by MatMulInteger / ConvInteger in int32, then rescaled to float by
// activation scale x weight scale. One rewrite module per operator kind, over the weights the operator table finds
// and lays out; a node a module declines (with a reason) is left for the weight-only pass.
import type { ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { makeNode } from "../../../onnx/builders";
import { DT } from "../../../onnx/dtype";
import { weightedLayer, type WeightedLayer, type WeightLayout } from "../../../onnx/operators";
import { isExternal, readFloat32, tensorDims } from "../../../onnx/tensor";
import { defaultOpset } from "../../../onnx/validate";
import type { TensorReport } from "../index";
import { nameAllocator } from "../names";
import { conv } from "./conv";
import { gemm } from "./gemm";
import { matmul } from "./matmul";
import { DomainError } from "../../../domain-error";
import type { DynamicContext, DynamicRewrite } from "./rewrite";

export class DynamicQuantizationError extends DomainError {
  override name = "DynamicQuantizationError";
  constructor(message: string) {
    super("invalid_recipe", message);
  }
}

export type { DynamicContext, DynamicRewrite };

const REWRITES: Record<string, DynamicRewrite> = { MatMul: matmul, Gemm: gemm, Conv: conv };

/** Throws DynamicQuantizationError when the model's opset lacks DynamicQuantizeLinear (a check on the graph alone). */
export function requireDynamicOpset(model: ModelProto): void {
  const opset = defaultOpset(model);
  if (opset < 11) throw new DynamicQuantizationError(`scheme 'dynamic' needs opset >= 11 (DynamicQuantizeLinear); the model has ${opset}`);
}

export function quantizeDynamic(
  model: ModelProto,
  include: (node: NodeProto) => boolean,
  granularity: "per-channel" | "per-tensor" = "per-channel",
): { model: ModelProto; tensors: TensorReport[]; declined: { name: string; node: string; reason: string }[] } {
  requireDynamicOpset(model);
  const graph = model.graph!;
  const fresh = nameAllocator(graph);
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const added: TensorProto[] = [];
  const quantized = new Map<string, [string, string, string]>();
  const nodes: NodeProto[] = [];
  const tensors: TensorReport[] = [];
  const declined: { name: string; node: string; reason: string }[] = [];
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
  };
  const used = new Set<string>();
  for (const node of graph.node) {
    const layer = weightedLayer(node, inits);
    const rewrite = layer?.operator.quantize.includes("dynamic") ? REWRITES[node.opType] : undefined;
    if (!layer || !rewrite || !include(node) || layer.weight.dataType !== DT.FLOAT || isExternal(layer.weight) || inits.has(node.input[0]!)) {
      nodes.push(node);
      continue;
    }
    const weight = layer.weight;
    const out = rewrite.rewrite(layer, layer.operator.layout(node, tensorDims(weight)), readFloat32(weight), ctx);
    if (typeof out === "string") {
      declined.push({ name: weight.name, node: layer.label, reason: out });
      nodes.push(node);
      continue;
    }
    nodes.push(...out.nodes);
    tensors.push(out.report);
  }
  for (const n of nodes) for (const i of n.input) used.add(i);
  for (const o of graph.output) used.add(o.name);
  // Float weights and biases the rewrites replaced are no longer read by anything.
  const kept = tensors.length ? graph.initializer.filter((t) => used.has(t.name)) : graph.initializer;
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
