// Declared sizes backed by bytes: a tensor's dims are believed only as far as the data it carries, sparse tensors'
// dims, values and indices are checked against each other, and a model's declared elements are bounded by its bytes,
// all before anything is allocated (a 120-byte model must not declare 2e8 parameters).
import type { SparseTensorProto, TensorProto } from "onnx-buf";
import { DT, dtypeName, rawByteLength } from "./dtype";
import { isExternal } from "./tensor";
import { skeletonRange } from "./skeleton";
import { DECLARED_ELEMENTS_FLOOR, DECLARED_ELEMENTS_PER_BYTE, LimitError, MAX_DECLARED_ELEMENTS } from "./limits";
import { DomainError } from "../domain-error";

/** What a model's tensors declare and hold, summed while validating. */
export interface TensorTally {
  declared: number;
  bytes: number;
  /**
   * Set when validating a skeleton (./skeleton.ts): the size of the original object its external tensors point into.
   * Those tensors are backed when their range lies within it and holds exactly their dims' bytes.
   */
  objectBytes?: number;
}

/** A model that is not well formed: 400 invalid_model naming the first problem. */
export class OnnxValidationError extends DomainError {
  override name = "OnnxValidationError";
  constructor(message: string) {
    super("invalid_model", message);
  }
}

const invalid = (message: string) => new OnnxValidationError(message);

/** Element count of dims that must be non-negative and whose product stays an exact integer. */
function checkedCount(dims: readonly bigint[], what: string): number {
  let n = 1;
  for (const d of dims) {
    if (d < 0n) throw invalid(`${what} has a negative dim (${d})`);
    n *= Number(d);
  }
  if (!Number.isSafeInteger(n)) throw invalid(`${what} declares dims [${dims.join(", ")}], too many elements to address`);
  return n;
}

/** Values a typed field must hold for `n` elements of this type (ONNX's TensorProto layout). */
function typedLength(t: TensorProto, n: number): { held: number; expected: number } | undefined {
  switch (t.dataType) {
    case DT.FLOAT:
      return { held: t.floatData.length, expected: n };
    case DT.COMPLEX64:
      return { held: t.floatData.length, expected: 2 * n };
    case DT.DOUBLE:
      return { held: t.doubleData.length, expected: n };
    case DT.COMPLEX128:
      return { held: t.doubleData.length, expected: 2 * n };
    case DT.INT64:
      return { held: t.int64Data.length, expected: n };
    case DT.UINT32:
    case DT.UINT64:
      return { held: t.uint64Data.length, expected: n };
    case DT.STRING:
      return { held: t.stringData.length, expected: n };
    case DT.INT4:
    case DT.UINT4:
    case DT.FLOAT4E2M1:
      return { held: t.int32Data.length, expected: Math.ceil(n / 2) };
    case DT.INT2:
    case DT.UINT2:
      return { held: t.int32Data.length, expected: Math.ceil(n / 4) };
    case DT.INT32:
    case DT.INT16:
    case DT.INT8:
    case DT.UINT16:
    case DT.UINT8:
    case DT.BOOL:
    case DT.FLOAT16:
    case DT.BFLOAT16:
    case DT.FLOAT8E4M3FN:
    case DT.FLOAT8E4M3FNUZ:
    case DT.FLOAT8E5M2:
    case DT.FLOAT8E5M2FNUZ:
      return { held: t.int32Data.length, expected: n };
    default:
      return undefined;
  }
}

/** A lower bound on the wire bytes of a tensor's data (each typed value takes at least one byte). */
function heldBytes(t: TensorProto): number {
  return (
    t.rawData.byteLength + 4 * t.floatData.length + 8 * t.doubleData.length + t.int32Data.length + t.int64Data.length +
    t.uint64Data.length + t.stringData.reduce((sum, s) => sum + s.byteLength, 0)
  );
}

/**
 * Checks that a dense tensor holds exactly the data its dims declare (raw_data or the typed field of its type) and
 * adds it to the tally. Returns its element count.
 */
export function checkTensor(t: TensorProto, what: string, tally: TensorTally): number {
  const n = checkedCount(t.dims, what);
  if (isExternal(t)) {
    const range = tally.objectBytes === undefined ? undefined : skeletonRange(t);
    if (range) {
      const expected = rawByteLength(t.dataType, n);
      if (expected !== range.length) {
        throw invalid(`${what} has ${range.length} bytes of raw_data, expected ${expected ?? "a fixed-size element type"} for dims [${t.dims.join(", ")}]`);
      }
      if (range.offset + range.length > tally.objectBytes!) throw invalid(`${what} has raw_data past the end of the model`);
      tally.declared += n;
      tally.bytes += range.length;
      return n;
    }
    if (n > 0) {
      throw invalid(`${what} keeps its data outside the model (external data): upload each file it names first (POST /v1/uploads with its location), then the model naming those uploads (externalData)`);
    }
    return n;
  }
  if (t.rawData.byteLength > 0) {
    const expected = rawByteLength(t.dataType, n);
    if (expected === undefined) throw invalid(`${what} has raw_data for element type ${dtypeName(t.dataType)}, which has no fixed size`);
    if (expected !== t.rawData.byteLength) {
      throw invalid(`${what} has ${t.rawData.byteLength} bytes of raw_data, expected ${expected} for dims [${t.dims.join(", ")}]`);
    }
  } else if (n > 0) {
    const typed = typedLength(t, n);
    if (!typed) throw invalid(`${what} declares ${n} elements of element type ${dtypeName(t.dataType)} and holds no raw_data`);
    if (typed.held !== typed.expected) {
      throw invalid(`${what} declares dims [${t.dims.join(", ")}] but holds ${typed.held} values, expected ${typed.expected} (raw_data is empty)`);
    }
  }
  tally.declared += n;
  tally.bytes += heldBytes(t);
  return n;
}

/** The int64 values of an index tensor already checked by checkTensor (raw_data little-endian, or int64_data). */
function indexAt(t: TensorProto): (k: number) => bigint {
  if (t.rawData.byteLength > 0) {
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    return (k) => view.getBigInt64(k * 8, true);
  }
  return (k) => BigInt(t.int64Data[k]!);
}

/**
 * A sparse tensor (COO): values 1-D [NNZ]; indices int64, [NNZ] (linear) or [NNZ, rank] (coordinates), each within
 * dims. Its dense size counts as declared. Linear in NNZ.
 */
export function checkSparseTensor(s: SparseTensorProto, what: string, tally: TensorTally): void {
  const values = s.values;
  if (!values) throw invalid(`${what} has no values`);
  const dense = checkedCount(s.dims, what);
  const nnz = checkTensor(values, `${what} values`, tally);
  if (values.dims.length !== 1) throw invalid(`${what} values must be 1-D [NNZ], got dims [${values.dims.join(", ")}]`);
  if (nnz > dense) throw invalid(`${what} has ${nnz} values for ${dense} elements`);
  const rank = s.dims.length;
  const idx = s.indices;
  if (!idx) {
    if (nnz > 0) throw invalid(`${what} has ${nnz} values and no indices`);
  } else {
    if (idx.dataType !== DT.INT64) throw invalid(`${what} indices are ${dtypeName(idx.dataType)}, expected int64`);
    checkTensor(idx, `${what} indices`, tally);
    const idims = idx.dims.map(Number);
    const linear = idims.length === 1 && idims[0] === nnz;
    const coordinates = idims.length === 2 && idims[0] === nnz && idims[1] === rank;
    if (!linear && !coordinates) {
      throw invalid(`${what} indices have dims [${idims.join(", ")}], expected [${nnz}] or [${nnz}, ${rank}]`);
    }
    const at = indexAt(idx);
    if (linear) {
      for (let k = 0; k < nnz; k++) {
        const i = at(k);
        if (i < 0n || i >= BigInt(dense)) throw invalid(`${what} index ${i} (value ${k}) is outside [0, ${dense})`);
      }
    } else {
      for (let k = 0; k < nnz; k++) {
        for (let d = 0; d < rank; d++) {
          const c = at(k * rank + d);
          if (c < 0n || c >= s.dims[d]!) throw invalid(`${what} coordinate ${c} of value ${k} is outside dim ${d} (${s.dims[d]})`);
        }
      }
    }
  }
  tally.declared += dense - nnz; // the values were counted by checkTensor
}

/** The whole model's bound: declared elements within the absolute cap and within what its bytes can back. */
export function checkTally(tally: TensorTally): void {
  if (tally.declared > MAX_DECLARED_ELEMENTS) {
    throw new LimitError(`the model's tensors declare ${tally.declared} elements, over the limit of ${MAX_DECLARED_ELEMENTS} (MAX_DECLARED_ELEMENTS)`);
  }
  const backed = DECLARED_ELEMENTS_FLOOR + DECLARED_ELEMENTS_PER_BYTE * tally.bytes;
  if (tally.declared > backed) {
    throw new LimitError(
      `the model's tensors declare ${tally.declared} elements but hold ${tally.bytes} bytes of data: at most ${backed} ` +
        `(DECLARED_ELEMENTS_FLOOR + DECLARED_ELEMENTS_PER_BYTE per byte)`,
    );
  }
}
