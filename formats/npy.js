// NumPy .npy files, one array each: the header (v1.0 written as numpy.save writes it; v1-v3 read), the element types
// as the API names them, and the JSON tensor form. Shared by the Worker (dataset uploads, which it reads strictly),
// the CLI and the tests; plain ESM with JSDoc types so that Node runs it without a build.
import { fromHalf, toHalf } from "./half.js";

/**
 * @typedef {Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array} NpyData
 * @typedef {{ dtype: NpyDtype, shape: number[], data: NpyData }} NpyArray
 * @typedef {{ descr: string, shape: number[], fortranOrder?: boolean }} NpyHeader
 *   A header as written, any descr: tests also write what readers must refuse (big-endian, Fortran order).
 */

/** @typedef {(buffer: ArrayBuffer, count: number) => NpyData} MakeData */

/** API element type -> numpy descr ('<' little-endian, '|' one byte), element size and typed-array view. */
const DTYPES = /** @type {const} */ ({
  float32: { descr: "<f4", size: 4, make: /** @type {MakeData} */ ((b, n) => new Float32Array(b, 0, n)) },
  float64: { descr: "<f8", size: 8, make: /** @type {MakeData} */ ((b, n) => new Float64Array(b, 0, n)) },
  // Half precision held as its bits; JSON tensors carry its values.
  float16: { descr: "<f2", size: 2, make: /** @type {MakeData} */ ((b, n) => new Uint16Array(b, 0, n)) },
  int8: { descr: "|i1", size: 1, make: /** @type {MakeData} */ ((b, n) => new Int8Array(b, 0, n)) },
  uint8: { descr: "|u1", size: 1, make: /** @type {MakeData} */ ((b, n) => new Uint8Array(b, 0, n)) },
  int16: { descr: "<i2", size: 2, make: /** @type {MakeData} */ ((b, n) => new Int16Array(b, 0, n)) },
  uint16: { descr: "<u2", size: 2, make: /** @type {MakeData} */ ((b, n) => new Uint16Array(b, 0, n)) },
  int32: { descr: "<i4", size: 4, make: /** @type {MakeData} */ ((b, n) => new Int32Array(b, 0, n)) },
  uint32: { descr: "<u4", size: 4, make: /** @type {MakeData} */ ((b, n) => new Uint32Array(b, 0, n)) },
  int64: { descr: "<i8", size: 8, make: /** @type {MakeData} */ ((b, n) => new BigInt64Array(b, 0, n)) },
  uint64: { descr: "<u8", size: 8, make: /** @type {MakeData} */ ((b, n) => new BigUint64Array(b, 0, n)) },
  bool: { descr: "|b1", size: 1, make: /** @type {MakeData} */ ((b, n) => new Uint8Array(b, 0, n)) },
});

/** @typedef {keyof typeof DTYPES} NpyDtype */

/** Every element type this module reads and writes. */
export const NPY_DTYPES = /** @type {NpyDtype[]} */ (Object.keys(DTYPES));

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** numpy aligns the data to 64 bytes and leaves room in the header for the first axis to grow to 21 digits. */
const ALIGN = 64;
const GROWTH_DIGITS = 21;

/** A malformed or unsupported .npy/.npz, or an array that cannot be written as one. */
export class NpyError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "NpyError";
  }
}

/** @param {number[]} shape */
const shapeRepr = (shape) => (shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`);

/** @param {string} name @returns {NpyDtype} */
function dtypeNamed(name) {
  if (!(name in DTYPES)) throw new NpyError(`element type '${name}' cannot be written as .npy (known: ${NPY_DTYPES.join(", ")})`);
  return /** @type {NpyDtype} */ (name);
}

/** @param {Uint8Array} bytes */
export function isNpy(bytes) {
  return bytes.byteLength >= 6 && MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * A v1.0 .npy of a header and the raw data bytes, laid out as numpy.save lays it out.
 * @param {NpyHeader} header
 * @param {ArrayBufferView} data
 * @returns {Uint8Array}
 */
export function writeNpy(header, data) {
  let dict = `{'descr': '${header.descr}', 'fortran_order': ${header.fortranOrder ? "True" : "False"}, 'shape': ${shapeRepr(header.shape)}, }`;
  if (header.shape.length > 0) dict += " ".repeat(Math.max(0, GROWTH_DIGITS - String(header.shape[0]).length));
  const pad = ALIGN - ((MAGIC.length + 2 + 2 + dict.length + 1) % ALIGN);
  const text = `${dict}${" ".repeat(pad % ALIGN)}\n`;
  if (text.length > 0xffff) throw new NpyError("header too long for .npy v1.0");
  const out = new Uint8Array(10 + text.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + text.length);
  return out;
}

/**
 * Encodes an array as .npy v1.0, byte for byte what numpy.save writes.
 * @param {{ dtype: string, shape: number[], data: NpyData }} array
 * @returns {Uint8Array}
 */
export function encodeNpy(array) {
  const dtype = dtypeNamed(array.dtype);
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) throw new NpyError(`shape ${shapeRepr(array.shape)} needs ${count} values, got ${array.data.length}`);
  return writeNpy({ descr: DTYPES[dtype].descr, shape: array.shape }, array.data);
}

/** @param {string} header @param {string} key @returns {string | null} */
function headerField(header, key) {
  const m = header.match(new RegExp(`['"]${key}['"]\\s*:\\s*(\\([^)]*\\)|'[^']*'|"[^"]*"|True|False)`));
  return m ? /** @type {string} */ (m[1]) : null;
}

/**
 * Decodes one .npy (versions 1-3, little-endian or one-byte types, C order); the data must be exactly what the shape
 * needs. `label` names the array in errors; `dtypes` narrows the element types accepted (a dataset takes fewer).
 * @param {Uint8Array} bytes
 * @param {{ label?: string, dtypes?: readonly NpyDtype[] }} [options]
 * @returns {NpyArray}
 */
export function decodeNpy(bytes, options = {}) {
  const where = options.label ? `${options.label}: ` : "";
  const accepted = options.dtypes ?? NPY_DTYPES;
  if (!isNpy(bytes)) throw new NpyError(`${where}not a .npy file (missing \\x93NUMPY magic)`);
  const major = /** @type {number} */ (bytes[6]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major < 1 || major > 3) throw new NpyError(`${where}unsupported .npy version ${major}`);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.byteLength < 8 + lenBytes) throw new NpyError(`${where}truncated .npy header`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes + headerLen;
  if (start > bytes.byteLength) throw new NpyError(`${where}truncated .npy header`);
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(8 + lenBytes, start));
  const descr = headerField(header, "descr")?.slice(1, -1);
  const fortran = headerField(header, "fortran_order");
  const shapeText = headerField(header, "shape");
  if (descr === undefined || fortran === null || shapeText === null) {
    throw new NpyError(`${where}.npy header lacks descr, fortran_order or shape`);
  }
  const dtype = accepted.find((d) => DTYPES[d].descr === descr);
  if (dtype === undefined) {
    throw new NpyError(`${where}dtype '${descr}' is not supported; use one of ${accepted.join(", ")} (little-endian)`);
  }
  if (fortran === "True") throw new NpyError(`${where}Fortran-order arrays are not supported; save with np.ascontiguousarray(x)`);
  const shape = shapeText
    .slice(1, -1)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new NpyError(`${where}bad shape ${shapeText}`);
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * DTYPES[dtype].size;
  const found = bytes.byteLength - start;
  if (found !== need) {
    throw new NpyError(`${where}${found < need ? "truncated data: " : ""}shape (${shape.join(", ")}) of ${descr} needs ${need} data bytes, found ${found}`);
  }
  // Copy into an aligned buffer of its own: the data offset inside a zip entry (or a pooled Node Buffer) is arbitrary.
  const buffer = new ArrayBuffer(need);
  new Uint8Array(buffer).set(bytes.subarray(start));
  return { dtype, shape, data: DTYPES[dtype].make(buffer, count) };
}

/**
 * An .npy array as the API's JSON tensor.
 * @param {NpyArray} array
 * @returns {{ type: string, dims: number[], data: (number | boolean)[] }}
 */
export function npyToTensor(array) {
  const half = array.dtype === "float16";
  const data = Array.from(/** @type {ArrayLike<number | bigint>} */ (array.data), (v) => (array.dtype === "bool" ? v !== 0 : half ? fromHalf(Number(v)) : Number(v)));
  return { type: array.dtype, dims: array.shape, data };
}

/**
 * The API's JSON tensor as an .npy array.
 * @param {{ type: string, dims: number[], data: (number | boolean)[] }} tensor
 * @returns {NpyArray}
 */
export function tensorToNpy(tensor) {
  const dtype = dtypeNamed(tensor.type);
  const count = tensor.data.length;
  const data = DTYPES[dtype].make(new ArrayBuffer(count * DTYPES[dtype].size), count);
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  const half = dtype === "float16";
  tensor.data.forEach((v, i) => {
    const n = typeof v === "boolean" ? Number(v) : v;
    if (big) /** @type {BigInt64Array} */ (data)[i] = BigInt(Math.trunc(n));
    else if (half) /** @type {Uint16Array} */ (data)[i] = toHalf(n);
    else /** @type {Float64Array} */ (data)[i] = n;
  });
  return { dtype, shape: tensor.dims, data };
}
