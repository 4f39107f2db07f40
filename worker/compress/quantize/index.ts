// Weight-only quantization of a model: every quantizable weight (per the operator table) is replaced by the
// bit-width's standard encoding (int8 / fp16 / int4 / ternary 2-bit / 1-bit modules) in front of its consumer; the
// rest stays float.
import { edited } from "../../onnx/edit";
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { DT } from "../../onnx/dtype";
import { isExternal, readFloat32, tensorDims } from "../../onnx/tensor";
import { defaultOpset } from "../../onnx/validate";
import { affineEncoding, type Granularity } from "./affine-encoding";
import { binary } from "./binary";
import type { WeightEncoding } from "./encoding";
import { fp16 } from "./fp16";
import { int4 } from "./int4";
import { int8 } from "./int8";
import { liftToOpset7 } from "../../onnx/opset";
import { nameAllocator } from "./names";
import { liftToOpset21 } from "./opset21";
import { liftToOpset25 } from "./opset25";
import { ternary } from "./ternary";
import { nodeLabel, weightedLayer, type WeightLayout } from "../../onnx/operators";
import { DomainError } from "../../domain-error";

export interface TensorReport {
  name: string;
  node: string;
  op: string;
  shape: number[];
  axis: number;
  bits: number;
  scaleMin: number;
  scaleMax: number;
  maxAbsError: number;
  sqnrDb: number | null;
}

export interface QuantizeResult {
  model: ModelProto;
  tensors: TensorReport[];
  /** Weights left float, with the reason (shared with a graph input, external data, not float32, ...). */
  skipped: { name: string; node: string; reason: string }[];
}

/** Per bit-width: int8's granularity and zero points, int4's block and zero points, 2-bit's block (0 = one scale per output channel). */
export type WeightBits =
  | { bits: 8; granularity?: Granularity; symmetric?: boolean }
  | { bits: 16 }
  | { bits: 4; block: number; symmetric?: boolean }
  | { bits: 2; block: number }
  | { bits: 1 };

export type QuantizeOptions = WeightBits & {
  /** Nodes for which this returns false stay float (exclusions and mixed precision decide it). */
  include?: (node: NodeProto) => boolean;
};

function encodingFor(options: QuantizeOptions): WeightEncoding {
  switch (options.bits) {
    case 8: {
      // Symmetric per-channel keeps its own encoder (and so its bytes); other choices go through the affine one.
      const granularity = options.granularity ?? "per-channel";
      const symmetric = options.symmetric ?? true;
      return granularity === "per-channel" && symmetric ? int8 : affineEncoding({ bits: 8, granularity, symmetric });
    }
    case 16:
      return fp16;
    case 4:
      return options.symmetric === false ? affineEncoding({ bits: 4, granularity: { block: options.block }, symmetric: false }) : int4(options.block);
    case 2:
      return ternary(options.block);
    case 1:
      return binary;
  }
}

/** A 2-bit recipe on a model that cannot be lifted to opset 25 (INT2): refused rather than left float. */
export class Int2OpsetError extends DomainError {
  override name = "Int2OpsetError";
  constructor(message: string) {
    super("invalid_recipe", message);
  }
}

/** The model lifted to opset 25 (INT2), or Int2OpsetError with the reason it cannot be (a check on the graph alone). */
export function liftForInt2(input: ModelProto): { model: ModelProto } {
  const lifted = liftToOpset25(input);
  if ("reason" in lifted) throw new Int2OpsetError(`quantize bits 2: ${lifted.reason}`);
  return lifted;
}

/** The model at the opset the encoding needs, or the reason it cannot be lifted. */
function liftFor(input: ModelProto, options: WeightBits): { model: ModelProto } | { reason: string } {
  const bits = options.bits;
  // int4 and int8 blocks need opset 21's blocked DequantizeLinear, 2-bit opset 25's INT2; 1-bit prefers INT2 and
  // otherwise keeps its older forms; the others need a broadcasting Mul at least (opset 7). Models are lifted when
  // no node's meaning changes.
  if (bits === 4 || (options.bits === 8 && typeof options.granularity === "object")) return liftToOpset21(input);
  if (bits === 2) return liftForInt2(input);
  if (bits === 1) {
    const lifted = liftToOpset25(input);
    if ("model" in lifted) return lifted;
  }
  return liftToOpset7(input);
}

/** Throws Int2OpsetError for 2-bit weights on a model that cannot be lifted to opset 25. */
export function quantizeModel(input: ModelProto, options: QuantizeOptions): QuantizeResult {
  const encoding = encodingFor(options);
  const lifted = liftFor(input, options);
  const model = "model" in lifted ? lifted.model : input;
  const liftFailure = "reason" in lifted ? `opset ${defaultOpset(input)} model: ${lifted.reason}` : null;
  const graph = model.graph!;
  const opset = defaultOpset(model);
  const fresh = nameAllocator(graph);
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const tensors: TensorReport[] = [];
  const skipped: QuantizeResult["skipped"] = [];
  // Dequantized replacement per (weight, axis): shared weights are quantized once.
  const replacements = new Map<string, string>();
  const quantizedWeights = new Set<string>();
  const newInitializers: TensorProto[] = [];
  const nodes: NodeProto[] = [];

  for (const node of graph.node) {
    if (options.include && !options.include(node)) {
      nodes.push(node);
      continue;
    }
    const found = weightedLayer(node, initializers);
    const layer = found?.operator.quantize.includes("weight-only") ? found : undefined;
    const weight = layer?.weight;
    let slot: WeightLayout | null = null;
    if (layer && weight) {
      const label = layer.label;
      if (weight.dataType !== DT.FLOAT) skipped.push({ name: weight.name, node: label, reason: "weight is not float32" });
      else if (isExternal(weight)) skipped.push({ name: weight.name, node: label, reason: "weight uses external data" });
      else if (liftFailure) skipped.push({ name: weight.name, node: label, reason: liftFailure });
      else {
        slot = layer.operator.layout(node, tensorDims(weight));
        if (!slot) skipped.push({ name: weight.name, node: label, reason: "weight shape has no output-channel axis" });
        const why = slot ? encoding.unsupported({ name: weight.name, dims: tensorDims(weight), data: new Float32Array(0), slot, opset, fresh }) : null;
        if (why) {
          skipped.push({ name: weight.name, node: label, reason: why });
          slot = null;
        }
      }
    }
    if (!slot || !weight) {
      nodes.push(node);
      continue;
    }
    const key = `${weight.name}\u0000${slot.outAxis}`;
    let replacement = replacements.get(key);
    if (!replacement) {
      const dims = tensorDims(weight);
      // `data` is read on first use: an encoder that takes rawData never makes the aligned float copy.
      let data: Float32Array | undefined;
      const encoded = encoding.encode({
        name: weight.name,
        dims,
        get data() {
          return (data ??= readFloat32(weight));
        },
        ...(weight.rawData.byteLength > 0 ? { rawData: weight.rawData } : {}),
        slot,
        opset,
        fresh,
      });
      const err = encoded.error;
      replacement = encoded.output;
      newInitializers.push(...encoded.initializers);
      nodes.push(...encoded.nodes);
      const q = { scales: encoded.scales };
      let scaleMin = Infinity;
      let scaleMax = 0;
      for (const s of q.scales) {
        scaleMin = Math.min(scaleMin, s);
        scaleMax = Math.max(scaleMax, s);
      }
      tensors.push({
        name: weight.name,
        node: nodeLabel(node),
        op: node.opType,
        shape: dims,
        axis: encoded.axis,
        bits: options.bits,
        scaleMin,
        scaleMax,
        maxAbsError: err.maxAbsError,
        sqnrDb: Number.isFinite(err.sqnrDb) ? err.sqnrDb : null,
      });
      replacements.set(key, replacement);
      quantizedWeights.add(weight.name);
    }
    const input = [...node.input];
    input[slot.input] = replacement;
    nodes.push(edited(node, { input }));
  }

  // A float weight still read by a node we did not rewrite (or by a graph output) stays; the others go.
  const stillUsed = new Set<string>();
  for (const n of nodes) for (const i of n.input) stillUsed.add(i);
  for (const o of graph.output) stillUsed.add(o.name);
  const keep = (name: string) => !quantizedWeights.has(name) || stillUsed.has(name);
  const newGraph: GraphProto = {
    ...graph,
    node: nodes,
    initializer: [...graph.initializer.filter((t) => keep(t.name)), ...newInitializers],
    // IR < 4 lists initializers as graph inputs; a weight we replaced is no longer one.
    input: graph.input.filter((v) => keep(v.name)),
  };
  if (tensors.length === 0) return { model: input, tensors, skipped };
  return {
    model: { ...model, irVersion: model.irVersion < 4n ? 4n : model.irVersion, graph: newGraph },
    tensors,
    skipped,
  };
}
