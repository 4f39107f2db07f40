// NumPy .npy files (format v1.0 written; v1-v3 read): little-endian, C order, the element types the API accepts.

/**
 * @typedef {Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array} NpyData
 * @typedef {{ dtype: string, shape: number[], data: NpyData }} NpyArray
 */

/** API element type -> numpy descr and typed-array constructor. */
const DTYPES = /** @type {const} */ ({
  float32: { descr: "<f4", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new Float32Array(b, o, n) },
  float64: { descr: "<f8", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new Float64Array(b, o, n) },
  int8: { descr: "|i1", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new Int8Array(b, o, n) },
  uint8: { descr: "|u1", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new Uint8Array(b, o, n) },
  int16: { descr: "<i2", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new Int16Array(b, o, n) },
  uint16: { descr: "<u2", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new Uint16Array(b, o, n) },
  int32: { descr: "<i4", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new Int32Array(b, o, n) },
  uint32: { descr: "<u4", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new Uint32Array(b, o, n) },
  int64: { descr: "<i8", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new BigInt64Array(b, o, n) },
  uint64: { descr: "<u8", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new BigUint64Array(b, o, n) },
  bool: { descr: "|b1", make: (/** @type {ArrayBuffer} */ b, /** @type {number} */ o, /** @type {number} */ n) => new Uint8Array(b, o, n) },
});

/** @typedef {keyof typeof DTYPES} NpyDtype */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** numpy aligns the data to 64 bytes and leaves room in the header for the first axis to grow to 21 digits. */
const ALIGN = 64;
const GROWTH_DIGITS = 21;

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
  if (!(name in DTYPES)) throw new NpyError(`element type '${name}' cannot be written as .npy (known: ${Object.keys(DTYPES).join(", ")})`);
  return /** @type {NpyDtype} */ (name);
}

/**
 * Encodes an array as .npy v1.0, byte for byte what numpy.save writes.
 * @param {NpyArray} array
 * @returns {Uint8Array}
 */
export function encodeNpy(array) {
  const dtype = dtypeNamed(array.dtype);
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) throw new NpyError(`shape ${shapeRepr(array.shape)} needs ${count} values, got ${array.data.length}`);
  let dict = `{'descr': '${DTYPES[dtype].descr}', 'fortran_order': False, 'shape': ${shapeRepr(array.shape)}, }`;
  if (array.shape.length > 0) dict += " ".repeat(GROWTH_DIGITS - String(array.shape[0]).length);
  const pad = ALIGN - ((MAGIC.length + 2 + 2 + dict.length + 1) % ALIGN);
  const header = `${dict}${" ".repeat(pad % ALIGN)}\n`;
  if (header.length > 0xffff) throw new NpyError("header too long for .npy v1.0");
  const out = new Uint8Array(10 + header.length + array.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength), 10 + header.length);
  return out;
}

/**
 * Decodes .npy bytes (versions 1-3, little-endian or single-byte types, C order).
 * @param {Uint8Array} bytes
 * @returns {NpyArray}
 */
export function decodeNpy(bytes) {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NpyError("not a .npy file (missing \\x93NUMPY magic)");
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen;
  let start;
  if (major === 1) [headerLen, start] = [view.getUint16(8, true), 10];
  else if (major === 2 || major === 3) [headerLen, start] = [view.getUint32(8, true), 12];
  else throw new NpyError(`unsupported .npy version ${major}`);
  if (start + headerLen > bytes.length) throw new NpyError("truncated .npy header");
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new NpyError(`malformed .npy header: ${header.trim()}`);
  if (fortran === "True") throw new NpyError("Fortran-order arrays are not supported; save with np.ascontiguousarray");
  const entry = Object.entries(DTYPES).find(([, d]) => d.descr === descr || (d.descr[0] === "|" && d.descr.slice(1) === descr.slice(1) && descr[0] !== ">"));
  if (!entry) throw new NpyError(`unsupported dtype '${descr}' (little-endian ${Object.values(DTYPES).map((d) => d.descr).join(", ")})`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new NpyError(`malformed shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const [name, dtype] = entry;
  const itemSize = Number(dtype.descr.slice(2));
  const offset = start + headerLen;
  if (bytes.length - offset < count * itemSize) throw new NpyError(`truncated data: ${count} values of ${itemSize} bytes need ${count * itemSize}, file has ${bytes.length - offset}`);
  // Copy so the typed array is aligned whatever the header length (and not a view of a pooled Node Buffer).
  const copy = new Uint8Array(count * itemSize);
  copy.set(bytes.subarray(offset, offset + count * itemSize));
  return { dtype: name, shape, data: dtype.make(copy.buffer, 0, count) };
}

/**
 * An .npy array as the API's JSON tensor.
 * @param {NpyArray} array
 * @returns {{ type: string, dims: number[], data: (number | boolean)[] }}
 */
export function npyToTensor(array) {
  const data = Array.from(/** @type {ArrayLike<number | bigint>} */ (array.data), (v) => (array.dtype === "bool" ? v !== 0 : Number(v)));
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
  const data = DTYPES[dtype].make(new ArrayBuffer(count * Number(DTYPES[dtype].descr.slice(2))), 0, count);
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  tensor.data.forEach((v, i) => {
    const n = typeof v === "boolean" ? Number(v) : v;
    if (big) /** @type {BigInt64Array} */ (data)[i] = BigInt(Math.trunc(n));
    else /** @type {Float64Array} */ (data)[i] = n;
  });
  return { dtype, shape: tensor.dims, data };
}
