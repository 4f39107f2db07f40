// Weight-only quantization of a model: every quantizable weight (per the operator table) is replaced by the
// bit-width's standard encoding (int8 / fp16 / int4 / ternary 2-bit / 1-bit modules) in front of its consumer; the
// rest stays float.
import { edited } from "../../onnx/edit";
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "onnx-buf";
import { DT } from "../../onnx/dtype";
import { elementCount, halfBytesToFloat32, isExternal, readFloat16, readFloat32, tensorDims } from "../../onnx/tensor";
import { makeNode } from "../../onnx/builders";
import { defaultOpset } from "../../onnx/validate";
import { affineEncoding, type Granularity } from "./affine-encoding";
import { binary } from "./binary";
import { codebookEncoding, type CodebookOptions } from "./codebook";
import { pqEncoding, type PqOptions } from "./pq";
import type { CodebookReport, EncodedWeight, WeightEncoding } from "./encoding";
import { fp16 } from "./fp16";
import { int4 } from "./int4";
import { int8 } from "./int8";
import { liftToOpset7 } from "../../onnx/opset";
import { nameAllocator } from "../../onnx/names";
import { liftToOpset21 } from "./opset21";
import { liftToOpset25 } from "./opset25";
import { ternary, type Int2Grid } from "./ternary";
import { nodeLabel, OPERATOR_FORMS, readsDeep, subgraphsOf, weightedLayers, type WeightedLayer, type WeightLayout } from "../../onnx/operators";
import { nearestLevels, onMseClippedGrid, type LevelRounding, type ScaleChoice } from "./affine";
import { DomainError } from "../../domain-error";
import { nextTurn } from "../../turns";
import { LimitError } from "../../onnx/limits";

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
  /** Codebook weights: entries, index width and bytes of indices and codebooks. */
  codebook?: CodebookReport;
  /** Levels chosen by error-compensating rounding (GPTQ); absent: each weight at its nearest level. */
  compensated?: true;
}

export interface QuantizeResult {
  model: ModelProto;
  tensors: TensorReport[];
  /** Weights left float, with the reason (shared with a graph input, external data, not float32, ...). */
  skipped: { name: string; node: string; reason: string }[];
}

/** Per bit-width: int8's granularity and zero points, int4's block and zero points, 2-bit's block (0 = one scale per output channel). */
export type WeightBits =
  | { bits: 8; granularity?: Granularity; symmetric?: boolean; scale?: ScaleChoice }
  | { bits: 16 }
  | { bits: 4; block: number; symmetric?: boolean; scale?: ScaleChoice }
  | { bits: 2; block: number; grid?: Int2Grid }
  | { bits: 1 }
  | { bits?: undefined; codebook: CodebookOptions }
  | { bits?: undefined; pq: PqOptions };

export type QuantizeOptions = WeightBits & {
  /** Nodes for which this returns false stay float (exclusions and mixed precision decide it). */
  include?: (node: NodeProto) => boolean;
  /** Error-compensating rounding for a weight (by name, shape and layout), or undefined for nearest. */
  roundingFor?: (weight: string, dims: readonly number[], slot: WeightLayout) => LevelRounding | undefined;
};

/**
 * The most elements of one weight `scale: "mse"` takes (16 MiB as float32): its grid's group index, levels and
 * reconstruction are about three more copies of the weight (ResNet-50's largest convolution is 2.4 M).
 */
export const MAX_MSE_SCALE_ELEMENTS = 4 * 1024 * 1024;

function encodingFor(options: QuantizeOptions): WeightEncoding {
  if (options.bits === undefined) return "pq" in options ? pqEncoding(options.pq) : codebookEncoding(options.codebook);
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
      return ternary(options.block, options.grid);
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
  // Codebook indices take the narrowest container the model can be lifted to (UINT2 at 25, UINT4 at 21, else UINT8).
  if (options.bits === undefined) {
    const bits = "pq" in options ? Math.ceil(Math.log2(options.pq.centroids)) : options.codebook.bits;
    const wanted = bits <= 2 ? [liftToOpset25, liftToOpset21] : bits <= 4 ? [liftToOpset21] : [];
    for (const lift of wanted) {
      const lifted = lift(input);
      if ("model" in lifted) return lifted;
    }
    return liftToOpset7(input);
  }
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

/** Every read of each name anywhere in the model: the reading node and input index, or a graph output. */
export type WeightReaders = Map<string, { node: NodeProto | null; index: number }[]>;

export function readersOf(graph: GraphProto, readers: WeightReaders = new Map()): WeightReaders {
  const add = (name: string, node: NodeProto | null, index: number) => {
    let list = readers.get(name);
    if (!list) readers.set(name, (list = []));
    list.push({ node, index });
  };
  for (const n of graph.node) {
    n.input.forEach((name, index) => name && add(name, n, index));
    for (const g of subgraphsOf(n)) readersOf(g, readers);
  }
  for (const o of graph.output) add(o.name, null, -1);
  return readers;
}

/**
 * Why a weight read by `takers` (the layers about to quantize it) cannot be replaced for all its readers, or null.
 * A weight is quantized once and every reader rewired to the one replacement; a reader that cannot take it (an op
 * outside the table, a layer the recipe leaves as it is, a graph output) keeps the float, and keeping both would
 * make the variant bigger, so the weight stays float.
 */
export function sharedWeightConflict(
  name: string,
  takers: readonly Pick<WeightedLayer, "node" | "operator">[],
  readers: WeightReaders,
  otherLayer: (node: NodeProto, index: number) => WeightedLayer | undefined,
  takesDequantized: (node: NodeProto, index: number) => boolean = () => false,
): string | null {
  for (const r of readers.get(name) ?? []) {
    if (!r.node) return "is also a graph output";
    const node = r.node;
    if (takers.some((t) => t.node === node && t.operator.weight === r.index)) continue;
    if (takesDequantized(node, r.index)) continue;
    const layer = otherLayer(node, r.index);
    if (layer) return `shared with ${node.opType} node '${nodeLabel(node)}', which this pass leaves float`;
    return `also read by ${node.opType} node '${nodeLabel(node)}' (input ${r.index}), which takes no quantized weight`;
  }
  return null;
}

/** Ops that only move a tensor's elements: a weight read through them is still read as a weight. */
const LAYOUT_OPS = new Set(["Identity", "Transpose", "Reshape", "Squeeze", "Unsqueeze"]);

/**
 * Whether the reader at (node, index) is a layout chain (Transpose, Reshape, ...) whose every end is the weight slot
 * of an op of the table that this pass includes, e.g. the Transpose through which a tied embedding's table is the
 * output MatMul's weight. Such a reader may take the DequantizeLinear output: what reaches the op is the quantized
 * weight, as if the chain had been folded into its own copy (which would store the table twice).
 */
function layoutIntoWeights(
  readers: WeightReaders,
  layers: readonly WeightedLayer[],
  include: ((node: NodeProto) => boolean) | undefined,
): (node: NodeProto, index: number) => boolean {
  // A layer of its own (some other constant weight) follows the recipe's choice for it; an op whose slot is fed only
  // through the chain is no layer of the recipe, and takes what the chain gives it.
  const own = new Set(layers.map((l) => l.node));
  const reaches = (node: NodeProto, index: number, depth: number): boolean => {
    if (depth > 8) return false;
    if (OPERATOR_FORMS[node.opType]?.some((f) => f.weight === index)) return !include || !own.has(node) || include(node);
    if (!LAYOUT_OPS.has(node.opType) || index !== 0 || node.output.length !== 1) return false;
    const next = readers.get(node.output[0]!) ?? [];
    return next.length > 0 && next.every((r) => r.node !== null && reaches(r.node, r.index, depth + 1));
  };
  return (node, index) => LAYOUT_OPS.has(node.opType) && reaches(node, index, 0);
}

/**
 * What a quantization pass asks of whoever drives it, one weight at a time: the bytes of a weight held outside the model
 * (external data: the driver answers with them), and, once a weight is encoded, the chance to move its encoded tensors
 * out of memory (the driver may make them external data) before the next weight is read.
 */
export type QuantizeStep = { kind: "read"; tensor: TensorProto } | { kind: "encoded"; weight: EncodedWeight };
export type QuantizeSteps<T> = Generator<QuantizeStep, T, Uint8Array | undefined>;

/** Runs a pass over a model held in memory: it asks for no external weight (it leaves those float) and keeps what it encodes. */
export function inMemory<T>(steps: QuantizeSteps<T>): T {
  for (let step = steps.next(); ; step = steps.next(undefined)) {
    if (step.done) return step.value;
    if (step.value.kind === "read") throw new TypeError(`in-memory quantization asked for external weight '${step.value.tensor.name}'`);
  }
}

/**
 * inMemory, with a turn of the event loop after each weight: a pass whose weights take long (compensated rounding)
 * leaves the other requests of its isolate served between them. Work the pass left in `deferred` (pieces of a
 * rounding, quantize/stepped.ts) runs after the weight that left it, a turn after each piece.
 */
export async function inTurns<T>(steps: QuantizeSteps<T>, deferred: Generator<void, void, void>[] = []): Promise<T> {
  for (let step = steps.next(); ; step = steps.next(undefined)) {
    for (const work of deferred.splice(0)) for (let piece = work.next(); !piece.done; piece = work.next()) await nextTurn();
    if (step.done) return step.value;
    if (step.value.kind === "read") throw new TypeError(`in-memory quantization asked for external weight '${step.value.tensor.name}'`);
    await nextTurn();
  }
}

/** Throws Int2OpsetError for 2-bit weights on a model that cannot be lifted to opset 25. */
export function quantizeModel(input: ModelProto, options: QuantizeOptions): QuantizeResult {
  return inMemory(quantizeModelSteps(input, options, false));
}

/** Little-endian float32 bytes as an aligned Float32Array (a copy). */
function floatsOf(name: string, raw: Uint8Array, count: number): Float32Array {
  if (raw.byteLength !== count * 4) throw new RangeError(`tensor '${name}' holds ${raw.byteLength} bytes, expected ${count * 4}`);
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(raw);
  return out;
}

/**
 * quantizeModel one weight at a time (see QuantizeStep). With `readsExternal`, weights in external data are read from
 * the driver (a model read from its skeleton: compress/bounded.ts); without, they stay float.
 */
export function* quantizeModelSteps(input: ModelProto, options: QuantizeOptions, readsExternal: boolean): QuantizeSteps<QuantizeResult> {
  const encoding = encodingFor(options);
  const lifted = liftFor(input, options);
  const model = "model" in lifted ? lifted.model : input;
  const liftFailure = "reason" in lifted ? `opset ${defaultOpset(input)} model: ${lifted.reason}` : null;
  const graph = model.graph!;
  const opset = defaultOpset(model);
  const fresh = nameAllocator(graph);
  const tensors: TensorReport[] = [];
  const skipped: QuantizeResult["skipped"] = [];
  const layers = weightedLayers(graph);
  const readers = readersOf(graph);
  const takesDequantized = layoutIntoWeights(readers, layers, options.include);
  const layerAt = (node: NodeProto, index: number) => layers.find((l) => l.node === node && l.operator.weight === index);
  const included = (l: WeightedLayer) => (!options.include || options.include(l.node)) && l.operator.quantize.includes("weight-only");
  // Each weight is decided once, at its first layer, for all of its readers.
  const planned = new Map<string, EncodedWeight>();
  const decided = new Set<string>();
  for (const first of layers) {
    const weight = first.weight;
    if (decided.has(weight.name)) continue;
    const takers = layers.filter((l) => l.weight === weight && included(l));
    const layer = takers[0];
    if (!layer) continue;
    decided.add(weight.name);
    const label = layer.label;
    const skip = (reason: string) => skipped.push({ name: weight.name, node: label, reason });
    const dims = tensorDims(weight);
    const conflict = sharedWeightConflict(weight.name, takers, readers, layerAt, takesDequantized);
    if (weight.dataType !== DT.FLOAT && weight.dataType !== DT.FLOAT16) {
      skip("weight is neither float32 nor float16");
      continue;
    }
    // A float16 weight (a model exported in half precision) is read widened, encoded as a float32 one, and its
    // reconstruction cast back to float16 for the layer.
    const half = weight.dataType === DT.FLOAT16;
    if (half && encoding.bits === 16) {
      skip("weight is float16 already");
      continue;
    }
    const external = isExternal(weight);
    if (external && !readsExternal) {
      skip("weight uses external data");
      continue;
    }
    if (liftFailure) {
      skip(liftFailure);
      continue;
    }
    const slot = layer.operator.layout(layer.node, dims);
    if (!slot) {
      skip("weight shape has no output-channel axis");
      continue;
    }
    const gemm = layer.operator.gemm(layer.node, dims);
    const why = encoding.unsupported({ name: weight.name, dims, data: new Float32Array(0), slot, gemm, opset, fresh });
    if (why) {
      skip(why);
      continue;
    }
    if (conflict) {
      skip(`weight ${conflict}`);
      continue;
    }
    // `data` is read on first use: an encoder that takes rawData never makes the aligned float copy.
    let data: Float32Array | undefined;
    const compensating = options.roundingFor?.(weight.name, dims, slot);
    const clipped = "scale" in options && options.scale === "mse";
    if (clipped && elementCount(dims) > MAX_MSE_SCALE_ELEMENTS) {
      throw new LimitError(
        `weight '${weight.name}' has ${elementCount(dims)} elements; scale 'mse' takes weights of at most ${MAX_MSE_SCALE_ELEMENTS} ` +
          "(MAX_MSE_SCALE_ELEMENTS: its search holds about three more copies of the weight): exclude its layer, or leave scale at absmax",
      );
    }
    // Clipped scales are a grid choice: nearest or compensating rounding runs on the grid they make.
    const rounding = clipped ? onMseClippedGrid(compensating ?? nearestLevels) : compensating;
    const raw = external ? yield { kind: "read", tensor: weight } : weight.rawData.byteLength > 0 ? weight.rawData : undefined;
    const elementBytes = half ? 2 : 4;
    if (external && raw?.byteLength !== elementCount(dims) * elementBytes) {
      throw new RangeError(`external weight '${weight.name}': ${raw?.byteLength ?? 0} bytes read, expected ${elementCount(dims) * elementBytes}`);
    }
    const widened = () => (external ? halfBytesToFloat32(raw!) : readFloat16(weight));
    const asFloat = encoding.encode({
      ...(rounding ? { rounding } : {}),
      name: weight.name,
      dims,
      get data() {
        return (data ??= half ? widened() : external ? floatsOf(weight.name, raw!, elementCount(dims)) : readFloat32(weight));
      },
      // rawData is float32 bytes to an encoder; a float16 weight's are not.
      ...(raw && !half ? { rawData: raw } : {}),
      slot,
      gemm,
      opset,
      fresh,
    });
    const encoded = half ? castToHalf(asFloat, weight.name, fresh) : asFloat;
    let scaleMin = encoded.scales.length ? Infinity : 0;
    let scaleMax = 0;
    for (const s of encoded.scales) {
      scaleMin = Math.min(scaleMin, s);
      scaleMax = Math.max(scaleMax, s);
    }
    tensors.push({
      name: weight.name,
      node: label,
      op: layer.node.opType,
      shape: dims,
      axis: encoded.axis,
      bits: options.bits ?? encoding.bits,
      scaleMin,
      scaleMax,
      maxAbsError: encoded.error.maxAbsError,
      sqnrDb: Number.isFinite(encoded.error.sqnrDb) ? encoded.error.sqnrDb : null,
      ...(encoded.codebook ? { codebook: encoded.codebook } : {}),
      ...(compensating ? { compensated: true as const } : {}),
    });
    yield { kind: "encoded", weight: encoded };
    planned.set(weight.name, encoded);
  }
  if (tensors.length === 0) return { model: input, tensors, skipped };
  return {
    model: { ...model, irVersion: model.irVersion < 4n ? 4n : model.irVersion, graph: replaceWeights(graph, planned) },
    tensors,
    skipped,
  };
}

/** The encoded weight followed by a Cast to float16: what a float16 model's layer reads in place of its weight. */
function castToHalf(encoded: EncodedWeight, name: string, fresh: (wanted: string) => string): EncodedWeight {
  const output = fresh(`${name}_as_float16`);
  return { ...encoded, nodes: [...encoded.nodes, makeNode("Cast", [encoded.output], [output], fresh(`${name}_cast_float16`), { to: DT.FLOAT16 })], output };
}

/**
 * The graph with each planned weight replaced: its encoded initializers and nodes go to the graph that holds the
 * weight (the nodes right before its first reader there), and every reader, in that graph or a body, reads the
 * replacement instead. Graphs without a planned weight come back as they are.
 */
export function replaceWeights(graph: GraphProto, planned: ReadonlyMap<string, Pick<EncodedWeight, "initializers" | "nodes" | "output">>): GraphProto {
  const own = graph.initializer.filter((t) => planned.has(t.name)).map((t) => t.name);
  const ownSet = new Set(own);
  const emitted = new Set<string>();
  const nodes: NodeProto[] = [];
  let changed = own.length > 0;
  for (const node of graph.node) {
    for (const name of readsDeep(node)) {
      if (ownSet.has(name) && !emitted.has(name)) {
        nodes.push(...planned.get(name)!.nodes);
        emitted.add(name);
      }
    }
    let out = node;
    if (node.input.some((i) => planned.has(i))) out = edited(node, { input: node.input.map((i) => planned.get(i)?.output ?? i) });
    if (subgraphsOf(node).length > 0) {
      const attribute = out.attribute.map((a) => {
        if (a.g) {
          const g = replaceWeights(a.g, planned);
          return g === a.g ? a : edited(a, { g });
        }
        if (a.graphs.length > 0) {
          const graphs = a.graphs.map((g) => replaceWeights(g, planned));
          return graphs.every((g, i) => g === a.graphs[i]) ? a : edited(a, { graphs });
        }
        return a;
      });
      if (attribute.some((a, i) => a !== out.attribute[i])) out = edited(out, { attribute });
    }
    if (out !== node) changed = true;
    nodes.push(out);
  }
  if (!changed) return graph;
  return {
    ...graph,
    node: nodes,
    initializer: [...graph.initializer.filter((t) => !ownSet.has(t.name)), ...own.flatMap((n) => planned.get(n)!.initializers)],
    // IR < 4 lists initializers as graph inputs; a weight we replaced is no longer one.
    input: graph.input.filter((v) => !ownSet.has(v.name)),
  };
}
