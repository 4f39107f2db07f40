// Sparse initializers (ONNX SparseTensorProto, COO with int64 linearised indices): the compact storage of
// pruned weights. onnxruntime (node and web) turns them back into dense initializers when it loads a model.
import { create } from "@bufbuild/protobuf";
import { SparseTensorProtoSchema, TensorProtoSchema, type ModelProto, type SparseTensorProto, type TensorProto } from "onnx-buf";
import { DT, rawByteLength } from "./dtype";
import { elementCount, isExternal, tensorDims } from "./tensor";

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Element types stored sparse (onnxruntime's loader accepts these; 4-bit packed types are left dense). */
const SPARSE_TYPES: Record<number, number> = { [DT.FLOAT]: 4, [DT.INT8]: 1, [DT.UINT8]: 1, [DT.FLOAT16]: 2 };
/** Tensors below this many elements are never worth the bookkeeping. */
const MIN_ELEMENTS = 256;
/**
 * A tensor goes sparse only when its COO form is at most this fraction of its dense bytes. Measured on pruned
 * 784x300 weights: past that point the raw saving is large while the gzip/brotli size is about the same as the
 * dense form's; short of it, the 8-byte indices cost more on the wire than the zeros they replace.
 */
export const SPARSE_MAX_FRACTION = 0.5;

export interface SparseReport {
  name: string;
  nnz: number;
  elements: number;
  denseBytes: number;
  sparseBytes: number;
}

function toSparse(t: TensorProto, width: number): { sparse: SparseTensorProto; nnz: number } {
  const dims = tensorDims(t);
  const count = elementCount(dims);
  const raw = t.rawData;
  // -0.0 has a set sign bit but is zero; float16 likewise.
  const isZero = (i: number) => {
    for (let b = 0; b < width; b++) if (raw[i * width + b] !== 0) return t.dataType === DT.FLOAT && raw[i * 4 + 3] === 0x80 && raw[i * 4] === 0 && raw[i * 4 + 1] === 0 && raw[i * 4 + 2] === 0;
    return true;
  };
  let nnz = 0;
  for (let i = 0; i < count; i++) if (!isZero(i)) nnz++;
  const values = new Uint8Array(nnz * width);
  // int64 little-endian indices written as (low, high) 32-bit words: no BigInt per element (a weight has < 2^32).
  const words = new Uint32Array(nnz * 2);
  for (let i = 0, k = 0; i < count; i++) {
    if (isZero(i)) continue;
    for (let b = 0; b < width; b++) values[k * width + b] = raw[i * width + b]!;
    words[2 * k++] = i;
  }
  const indices = new Uint8Array(words.buffer);
  const sparse = create(SparseTensorProtoSchema, {
    values: create(TensorProtoSchema, { name: t.name, dataType: t.dataType, dims: [BigInt(nnz)], rawData: values }),
    indices: create(TensorProtoSchema, {
      name: `${t.name}.indices`,
      dataType: DT.INT64,
      dims: [BigInt(nnz)],
      rawData: indices,
    }),
    dims: t.dims,
  });
  return { sparse, nnz };
}

/**
 * Moves every initializer whose sparse form is small enough (see SPARSE_MAX_FRACTION) into sparse_initializer.
 * Models before IR 6 (which has no sparse initializers) come back unchanged.
 */
export function sparsifyInitializers(model: ModelProto): { model: ModelProto; tensors: SparseReport[] } {
  const graph = model.graph!;
  if (model.irVersion < 6n) return { model, tensors: [] };
  const tensors: SparseReport[] = [];
  const sparse: SparseTensorProto[] = [];
  const initializer = graph.initializer.filter((t) => {
    const width = SPARSE_TYPES[t.dataType];
    const count = elementCount(tensorDims(t));
    if (!width || isExternal(t) || count < MIN_ELEMENTS || t.rawData.byteLength !== count * width) return true;
    const { sparse: s, nnz } = toSparse(t, width);
    const sparseBytes = nnz * (8 + width);
    if (sparseBytes > SPARSE_MAX_FRACTION * count * width) return true;
    sparse.push(s);
    tensors.push({ name: t.name, nnz, elements: count, denseBytes: count * width, sparseBytes });
    return false;
  });
  if (sparse.length === 0) return { model, tensors };
  return { model: { ...model, graph: { ...graph, initializer, sparseInitializer: [...graph.sparseInitializer, ...sparse] } }, tensors };
}

/**
 * Dense copies of the sparse initializers (raw_data, linearised or coordinate indices; none at all for a fully pruned
 * tensor), so rewrites and the kernel engine see plain weights.
 */
export function densifyInitializers(model: ModelProto): ModelProto {
  const graph = model.graph!;
  if (graph.sparseInitializer.length === 0) return model;
  const dense: TensorProto[] = [];
  const kept: SparseTensorProto[] = [];
  for (const s of graph.sparseInitializer) {
    const t = s.values;
    const idx = s.indices;
    const dims = s.dims.map(Number);
    const count = elementCount(dims);
    const bytes = t ? rawByteLength(t.dataType, count) : undefined;
    const width = t ? SPARSE_TYPES[t.dataType] : undefined;
    const nnz = t ? elementCount(tensorDims(t)) : 0;
    if (!t || !idx || !width || bytes === undefined || t.rawData.byteLength !== nnz * width || idx.dataType !== DT.INT64 || (idx.rawData.byteLength === 0 && nnz > 0)) {
      kept.push(s);
      continue;
    }
    const ix = new BigInt64Array(new Uint8Array(idx.rawData).buffer);
    const words = new Uint32Array(ix.buffer); // little-endian halves: an index below 2^32 is its low word, read without a BigInt
    const rank = ix.length === nnz ? 1 : dims.length;
    const raw = new Uint8Array(bytes);
    // Four-byte values move as words (values copied once to be aligned); other widths byte by byte.
    const from32 = width === 4 && LITTLE_ENDIAN ? new Uint32Array(new Uint8Array(t.rawData).buffer) : null;
    const to32 = from32 ? new Uint32Array(raw.buffer) : null;
    for (let k = 0; k < nnz; k++) {
      let at = 0;
      if (rank === 1) at = LITTLE_ENDIAN && words[2 * k + 1] === 0 ? words[2 * k]! : Number(ix[k]);
      else for (let d = 0; d < dims.length; d++) at = at * dims[d]! + Number(ix[k * dims.length + d]);
      if (at < 0 || at >= count) throw new RangeError(`sparse initializer '${t.name}' has index ${at} outside [0, ${count})`);
      if (to32) to32[at] = from32![k]!;
      else for (let b = 0; b < width; b++) raw[at * width + b] = t.rawData[k * width + b]!;
    }
    dense.push(create(TensorProtoSchema, { name: t.name, dataType: t.dataType, dims: s.dims, rawData: raw }));
  }
  return { ...model, graph: { ...graph, initializer: [...graph.initializer, ...dense], sparseInitializer: kept } };
}
