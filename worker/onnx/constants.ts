// Constant normalization: a pure graph pass that turns `Constant` nodes into initializers and folds chains of
// Identity / Cast / Transpose / Reshape / Unsqueeze / Squeeze over constants into initializers, in every graph
// (If/Loop/Scan bodies too), so that weight discovery finds weights however the exporter spelled them (paddle2onnx
// and older tf2onnx emit weights as Constant nodes; torch often transposes a weight in front of its MatMul).
// Each folded tensor takes the name of the output it replaces, so consumers are untouched and names stay
// deterministic. A model with nothing to normalize comes back as the same object.
import { create } from "@bufbuild/protobuf";
import { AttributeProto_AttributeType as AT, TensorProtoSchema, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from "onnx-buf";
import { intAttribute, intsAttribute } from "./attributes";
import { edited } from "./edit";
import { DT, dtypeBits } from "./dtype";
import { OPERATOR_FORMS } from "./operators";
import { elementCount, isExternal, tensorDims } from "./tensor";
import { skeletonRange } from "./skeleton";
import { defaultOpset } from "./validate";
import { distinctScopeNames } from "./scopes";

/** Results up to this many elements are folded even when their source stays (shapes, axes, small tables). */
const SMALL = 1024;

const FOLDABLE = new Set(["Identity", "Cast", "Transpose", "Reshape", "Unsqueeze", "Squeeze"]);
const isDefault = (domain: string) => domain === "" || domain === "ai.onnx";

/** Little-endian bytes of a fixed-size tensor (raw_data or the typed field), or null for what cannot be read. */
export function tensorBytes(t: TensorProto): Uint8Array | null {
  if (isExternal(t) || t.dataType === DT.STRING) return null;
  const bits = dtypeBits(t.dataType);
  if (bits === undefined || bits % 8 !== 0) return null;
  const count = elementCount(tensorDims(t));
  const size = (count * bits) / 8;
  if (t.rawData.byteLength > 0 || count === 0) return t.rawData.byteLength === size ? t.rawData : null;
  const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let out: Uint8Array | null = null;
  switch (t.dataType) {
    case DT.FLOAT:
      out = view(Float32Array.from(t.floatData));
      break;
    case DT.DOUBLE:
      out = view(Float64Array.from(t.doubleData));
      break;
    case DT.INT64:
      out = view(BigInt64Array.from(t.int64Data));
      break;
    case DT.UINT32:
      out = view(Uint32Array.from(t.uint64Data.map(Number)));
      break;
    case DT.UINT64:
      out = view(BigUint64Array.from(t.uint64Data));
      break;
    case DT.INT32:
      out = view(Int32Array.from(t.int32Data));
      break;
    case DT.INT16:
      out = view(Int16Array.from(t.int32Data));
      break;
    case DT.UINT16:
    case DT.FLOAT16:
    case DT.BFLOAT16:
      out = view(Uint16Array.from(t.int32Data));
      break;
    case DT.INT8:
      out = view(Int8Array.from(t.int32Data));
      break;
    case DT.UINT8:
    case DT.BOOL:
      out = view(Uint8Array.from(t.int32Data));
      break;
  }
  return out && out.byteLength === size ? out : null;
}

function rawTensor(name: string, dataType: number, dims: readonly number[], bytes: Uint8Array): TensorProto {
  return create(TensorProtoSchema, { name, dataType, dims: dims.map(BigInt), rawData: new Uint8Array(bytes) as Uint8Array<ArrayBuffer> });
}

/**
 * A skeleton's tensor (onnx/skeleton.ts) under a new name and shape: the same bytes, still in the model's file, as
 * rawTensor would hold them (the same fields, so that the variant written from it is byte for byte the same).
 */
function relabeled(x: TensorProto, name: string, dims: readonly number[]): TensorProto {
  return create(TensorProtoSchema, { name, dataType: x.dataType, dims: dims.map(BigInt), externalData: x.externalData, dataLocation: 1 });
}

/** Bytes a tensor stores, in the model or (a skeleton's) in the model's file. */
function storedBytes(t: TensorProto): number {
  return tensorBytes(t)?.byteLength ?? skeletonRange(t)?.length ?? 0;
}

/** The int64 values of a constant (shapes and axes), or null. */
function int64Values(t: TensorProto): number[] | null {
  if (t.dataType !== DT.INT64) return null;
  const bytes = tensorBytes(t);
  if (!bytes) return null;
  const copy = new Uint8Array(bytes);
  return Array.from(new BigInt64Array(copy.buffer, 0, copy.byteLength / 8), Number);
}

/** The initializer a Constant node stands for (named after its output), or null for forms left as they are. */
function constantTensor(node: NodeProto): TensorProto | null {
  const a = node.attribute[0];
  const name = node.output[0];
  if (!a || node.attribute.length !== 1 || !name) return null;
  switch (a.name) {
    case "value":
      // A skeleton's tensor (its bytes still in the model's file) moves as any other: it is not read here.
      return a.t && (!isExternal(a.t) || skeletonRange(a.t)) ? edited(a.t, { name }) : null;
    case "value_float":
      return rawTensor(name, DT.FLOAT, [], new Uint8Array(Float32Array.of(a.f).buffer));
    case "value_floats":
      return rawTensor(name, DT.FLOAT, [a.floats.length], new Uint8Array(Float32Array.from(a.floats).buffer));
    case "value_int":
      return rawTensor(name, DT.INT64, [], new Uint8Array(BigInt64Array.of(a.i).buffer));
    case "value_ints":
      return rawTensor(name, DT.INT64, [a.ints.length], new Uint8Array(BigInt64Array.from(a.ints).buffer));
    default:
      // sparse_value and strings stay Constant nodes.
      return null;
  }
}

/** Row-major transpose of elements of `size` bytes. */
function transposeBytes(bytes: Uint8Array, dims: readonly number[], perm: readonly number[], size: number): Uint8Array {
  const rank = dims.length;
  const outDims = perm.map((p) => dims[p]!);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * dims[i + 1]!;
  const strides = perm.map((p) => inStrides[p]!);
  const count = elementCount(dims);
  const out = new Uint8Array(bytes.byteLength);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < count; o++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += index[k]! * strides[k]!;
    out.set(bytes.subarray(src * size, src * size + size), o * size);
    for (let k = rank - 1; k >= 0; k--) {
      if (++index[k]! < outDims[k]!) break;
      index[k] = 0;
    }
  }
  return out;
}

/** Normalized axes (negative counted from the end), or null when out of range. */
function axesIn(axes: readonly number[], rank: number): number[] | null {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  return out.every((a) => a >= 0 && a < rank) && new Set(out).size === out.length ? out : null;
}

/**
 * The constant a foldable node computes from its constant inputs, named after its output, or null when the op,
 * its type or its attributes are outside what is folded exactly.
 */
function fold(node: NodeProto, inputs: (TensorProto | undefined)[], opset: number): TensorProto | null {
  const [x] = inputs;
  const name = node.output[0]!;
  if (!x || node.output.length !== 1) return null;
  const bytes = tensorBytes(x);
  // Ops that only rename or reshape move a skeleton's tensor without reading it; the others need its bytes.
  const moved = !bytes && skeletonRange(x) && !["Cast", "Transpose"].includes(node.opType);
  if (!bytes && !moved) return null;
  const as = (dataType: number, out: readonly number[], b: Uint8Array | null) => (b ? rawTensor(name, dataType, out, b) : relabeled(x, name, out));
  const dims = tensorDims(x);
  const size = dtypeBits(x.dataType)! / 8;
  switch (node.opType) {
    case "Identity":
      return as(x.dataType, dims, bytes);
    case "Cast": {
      const to = intAttribute(node, "to", 0);
      if (to === x.dataType) return rawTensor(name, to, dims, bytes!);
      // Widening to float32 (float16) or the float32 rounding ONNX specifies (double): exact as written.
      if (to !== DT.FLOAT) return null;
      const aligned = new Uint8Array(bytes!);
      if (x.dataType === DT.DOUBLE) {
        return rawTensor(name, to, dims, new Uint8Array(Float32Array.from(new Float64Array(aligned.buffer)).buffer));
      }
      if (x.dataType === DT.FLOAT16) {
        const half = new Uint16Array(aligned.buffer);
        return rawTensor(name, to, dims, new Uint8Array(Float32Array.from(half, halfToFloat).buffer));
      }
      return null;
    }
    case "Transpose": {
      const perm = intsAttribute(node, "perm", dims.map((_, i) => dims.length - 1 - i));
      if (perm.length !== dims.length || axesIn(perm, dims.length) === null) return null;
      return rawTensor(name, x.dataType, perm.map((p) => dims[p]!), transposeBytes(bytes!, dims, perm, size));
    }
    case "Reshape": {
      const shape = inputs[1] ? int64Values(inputs[1]) : null;
      if (!shape) return null;
      const allowZero = intAttribute(node, "allowzero", 0) === 1;
      const out = shape.map((d, i) => (d === 0 && !allowZero ? dims[i]! : d));
      if (out.some((d) => d === undefined || d < -1) || out.filter((d) => d === -1).length > 1) return null;
      const known = elementCount(out.filter((d) => d !== -1));
      const count = elementCount(dims);
      const resolved = out.map((d) => (d === -1 ? (known === 0 ? 0 : count / known) : d));
      if (elementCount(resolved) !== count || resolved.some((d) => !Number.isInteger(d))) return null;
      return as(x.dataType, resolved, bytes);
    }
    case "Unsqueeze": {
      const axes = opset >= 13 ? (inputs[1] ? int64Values(inputs[1]) : null) : intsAttribute(node, "axes", []);
      if (!axes || axes.length === 0) return null;
      const rank = dims.length + axes.length;
      const at = axesIn(axes, rank);
      if (!at) return null;
      const out: number[] = [];
      for (let i = 0, k = 0; i < rank; i++) out.push(at.includes(i) ? 1 : dims[k++]!);
      return as(x.dataType, out, bytes);
    }
    case "Squeeze": {
      const given = opset >= 13 ? (node.input[1] ? (inputs[1] ? int64Values(inputs[1]) : null) : []) : intsAttribute(node, "axes", []);
      if (!given) return null;
      const at = given.length === 0 ? dims.flatMap((d, i) => (d === 1 ? [i] : [])) : axesIn(given, dims.length);
      if (!at || at.some((a) => dims[a] !== 1)) return null;
      return as(x.dataType, dims.filter((_, i) => !at.includes(i)), bytes);
    }
  }
  return null;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function subgraphs(node: NodeProto): GraphProto[] {
  return node.attribute.flatMap((a) => (a.type === AT.GRAPH && a.g ? [a.g] : a.type === AT.GRAPHS ? a.graphs : []));
}

/** Readers of each name across the model (graph outputs count as readers). */
function countReaders(graph: GraphProto, readers: Map<string, number>): void {
  for (const n of graph.node) {
    for (const i of n.input) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
    for (const g of subgraphs(n)) countReaders(g, readers);
  }
  for (const o of graph.output) readers.set(o.name, (readers.get(o.name) ?? 0) + 1);
}

/** Names that reach a weight slot of the operator table, directly or through a foldable chain. */
function weightFeeds(graph: GraphProto): Set<string> {
  const feeds = new Set<string>();
  const chain: NodeProto[] = [];
  const walk = (g: GraphProto) => {
    for (const n of g.node) {
      if (isDefault(n.domain)) {
        for (const form of OPERATOR_FORMS[n.opType] ?? []) if (n.input[form.weight]) feeds.add(n.input[form.weight]!);
        if (FOLDABLE.has(n.opType)) chain.push(n);
      }
      for (const s of subgraphs(n)) walk(s);
    }
  };
  walk(graph);
  for (let grew = true; grew; ) {
    grew = false;
    for (const n of chain) {
      if (feeds.has(n.output[0]!) && n.input[0] && !feeds.has(n.input[0])) {
        feeds.add(n.input[0]);
        grew = true;
      }
    }
  }
  return feeds;
}

interface Pass {
  opset: number;
  readers: Map<string, number>;
  feeds: Set<string>;
  /** Initializers no node reads any more (consumed by folds). */
  dropped: Set<string>;
  changed: boolean;
}

function normalizeGraph(graph: GraphProto, outer: ReadonlyMap<string, TensorProto>, pass: Pass): GraphProto {
  const scope = new Map(outer);
  // A graph input shadows an outer constant; an initializer that is also an input (IR < 4) may be fed, so it is
  // not a constant either.
  const inputs = new Set(graph.input.map((v) => v.name));
  for (const name of inputs) scope.delete(name);
  for (const t of graph.initializer) if (!inputs.has(t.name)) scope.set(t.name, t);
  const outputs = new Set(graph.output.map((v) => v.name));
  const added: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  let changed = false;
  for (const node of graph.node) {
    const out = node.output[0];
    if (isDefault(node.domain) && out && !outputs.has(out) && node.output.length === 1) {
      let constant: TensorProto | null = null;
      if (node.opType === "Constant") constant = constantTensor(node);
      else if (FOLDABLE.has(node.opType)) {
        const ins = node.input.map((i) => (i ? scope.get(i) : undefined));
        const allConstant = node.input.every((i, k) => !i || ins[k]);
        const folded = allConstant ? fold(node, ins, pass.opset) : null;
        if (folded) {
          const freed = node.input.filter((i, k) => i && k === 0 && (pass.readers.get(i) ?? 0) === 1);
          const freedBytes = freed.reduce((s, i) => s + storedBytes(scope.get(i)!), 0);
          const grows = storedBytes(folded) > freedBytes;
          const small = elementCount(tensorDims(folded)) <= SMALL;
          // A chain into a weight slot is folded even when it grows (a float16 weight cast to float32 is
          // quantized next), unless its source stays for other readers: folding would then store the weight
          // twice (a tied embedding's table, read by Gather and, transposed, by the output MatMul).
          const sourceStays = freed.length === 0 && !!node.input[0] && elementCount(tensorDims(ins[0]!)) > SMALL;
          if (!grows || small || (pass.feeds.has(out) && !sourceStays)) {
            constant = folded;
            for (const i of node.input) {
              if (!i) continue;
              const left = (pass.readers.get(i) ?? 0) - 1;
              pass.readers.set(i, left);
              if (left === 0) pass.dropped.add(i);
            }
          }
        }
      }
      if (constant) {
        added.push(constant);
        scope.set(out, constant);
        changed = true;
        continue;
      }
    }
    // Bodies see this graph's constants (and the outer ones) as outer-scope names.
    let attrChanged = false;
    const attribute = node.attribute.map((a) => {
      if (a.type === AT.GRAPH && a.g) {
        const g = normalizeGraph(a.g, scope, pass);
        if (g === a.g) return a;
        attrChanged = true;
        return edited(a, { g });
      }
      if (a.type === AT.GRAPHS && a.graphs.length > 0) {
        const graphs = a.graphs.map((g) => normalizeGraph(g, scope, pass));
        if (graphs.every((g, i) => g === a.graphs[i])) return a;
        attrChanged = true;
        return edited(a, { graphs });
      }
      return a;
    });
    nodes.push(attrChanged ? edited(node, { attribute }) : node);
    changed ||= attrChanged;
  }
  if (!changed) return graph;
  pass.changed = true;
  return edited(graph, { node: nodes, initializer: [...graph.initializer, ...added] });
}

/** Drops the initializers folds consumed, in whichever graph holds them. */
function dropConsumed(graph: GraphProto, dropped: ReadonlySet<string>): GraphProto {
  const initializer = graph.initializer.filter((t) => !dropped.has(t.name));
  let nodeChanged = false;
  const node = graph.node.map((n) => {
    if (subgraphs(n).length === 0) return n;
    const attribute = n.attribute.map((a) => {
      if (a.type === AT.GRAPH && a.g) {
        const g = dropConsumed(a.g, dropped);
        return g === a.g ? a : edited(a, { g });
      }
      if (a.type === AT.GRAPHS && a.graphs.length > 0) {
        const graphs = a.graphs.map((g) => dropConsumed(g, dropped));
        return graphs.every((g, i) => g === a.graphs[i]) ? a : edited(a, { graphs });
      }
      return a;
    });
    if (attribute.every((a, i) => a === n.attribute[i])) return n;
    nodeChanged = true;
    return edited(n, { attribute });
  });
  if (!nodeChanged && initializer.length === graph.initializer.length) return graph;
  // IR < 4 lists initializers among the inputs: a consumed one goes from there too.
  return edited(graph, { initializer, node, input: graph.input.filter((v) => !dropped.has(v.name)) });
}

/**
 * The model with names made distinct across bodies (onnx/scopes.ts), Constant nodes as initializers and constant
 * chains folded (see the header). Returns `input` itself when there is nothing to normalize, so plain-initializer
 * models keep their exact bytes.
 */
export function normalizeConstants(input: ModelProto): ModelProto {
  // Reader counts and folded names are keyed by name: first, one name per tensor across the bodies.
  const model = distinctScopeNames(input);
  const graph = model.graph;
  if (!graph) return model;
  const readers = new Map<string, number>();
  countReaders(graph, readers);
  const pass: Pass = { opset: defaultOpset(model), readers, feeds: weightFeeds(graph), dropped: new Set(), changed: false };
  let out = normalizeGraph(graph, new Map(), pass);
  if (!pass.changed) return model;
  if (pass.dropped.size > 0) out = dropConsumed(out, pass.dropped);
  // Initializers outside the input list need IR 4.
  return edited(model, { graph: out, irVersion: model.irVersion < 4n ? 4n : model.irVersion });
}
