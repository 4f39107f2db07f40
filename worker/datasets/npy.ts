// The .npy format (numpy's one-array file): header parsing, dtype checks and typed-array views of the data.
// Only what `np.save` writes for numeric arrays in C order is accepted; anything else is a DatasetFormatError.

export class DatasetFormatError extends Error {
  override name = "DatasetFormatError";
}

export type NpyDtype = "float32" | "float64" | "int64" | "int32" | "uint8" | "bool";

export type NpyData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

/** numpy descr -> our dtype; '<' little-endian, '|' not applicable (one byte). */
const DESCRS: Record<string, { dtype: NpyDtype; size: number }> = {
  "<f4": { dtype: "float32", size: 4 },
  "<f8": { dtype: "float64", size: 8 },
  "<i8": { dtype: "int64", size: 8 },
  "<i4": { dtype: "int32", size: 4 },
  "|u1": { dtype: "uint8", size: 1 },
  "|b1": { dtype: "bool", size: 1 },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function isNpy(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 6 && MAGIC.every((b, i) => bytes[i] === b);
}

function headerField(header: string, key: string): string | null {
  const m = header.match(new RegExp(`['"]${key}['"]\\s*:\\s*(\\([^)]*\\)|'[^']*'|"[^"]*"|True|False)`));
  return m ? m[1]! : null;
}

/** Parses one .npy file; `label` names it in errors (the npz entry or "the .npy upload"). */
export function parseNpy(bytes: Uint8Array, label: string): NpyArray {
  if (!isNpy(bytes)) throw new DatasetFormatError(`${label} is not a .npy array (bad magic)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major < 1 || major > 3) throw new DatasetFormatError(`${label}: unsupported .npy version ${major}`);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.byteLength < 8 + lenBytes) throw new DatasetFormatError(`${label}: truncated .npy header`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes + headerLen;
  if (start > bytes.byteLength) throw new DatasetFormatError(`${label}: truncated .npy header`);
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(8 + lenBytes, start));
  const descr = headerField(header, "descr")?.slice(1, -1);
  const fortran = headerField(header, "fortran_order");
  const shapeText = headerField(header, "shape");
  if (descr === undefined || fortran === null || shapeText === null) {
    throw new DatasetFormatError(`${label}: .npy header lacks descr, fortran_order or shape`);
  }
  const kind = DESCRS[descr];
  if (!kind) {
    throw new DatasetFormatError(
      `${label}: dtype '${descr}' is not supported; use one of float32, float64, int64, int32, uint8, bool (little-endian)`,
    );
  }
  if (fortran === "True") {
    throw new DatasetFormatError(`${label}: Fortran-order arrays are not supported; save with np.ascontiguousarray(x)`);
  }
  const shape = shapeText
    .slice(1, -1)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new DatasetFormatError(`${label}: bad shape ${shapeText}`);
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * kind.size;
  if (bytes.byteLength - start !== need) {
    throw new DatasetFormatError(`${label}: shape (${shape.join(", ")}) of ${descr} needs ${need} data bytes, found ${bytes.byteLength - start}`);
  }
  // Copy into an aligned buffer: the data offset inside a zip entry is arbitrary.
  const buf = new ArrayBuffer(need);
  new Uint8Array(buf).set(bytes.subarray(start));
  const data: NpyData =
    kind.dtype === "float32" ? new Float32Array(buf)
    : kind.dtype === "float64" ? new Float64Array(buf)
    : kind.dtype === "int64" ? new BigInt64Array(buf)
    : kind.dtype === "int32" ? new Int32Array(buf)
    : new Uint8Array(buf);
  return { dtype: kind.dtype, shape, data };
}
