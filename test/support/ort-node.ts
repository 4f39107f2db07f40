// onnxruntime-node as the independent reference executor (Node tests only), one thread, basic optimisations
// so that weight-only DequantizeLinear graphs are computed as written (docs/architecture.md, "How inference runs").
import { fromBinary } from "@bufbuild/protobuf";
import * as ort from "onnxruntime-node";
import { TensorProtoSchema, type TensorProto } from "onnx-buf";
import { DT } from "@worker/onnx/dtype";
import { makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import type { ModelProto } from "onnx-buf";

export { ort };

ort.env.logLevel = "error";

export async function runReference(
  bytes: Uint8Array,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: "basic",
    logSeverityLevel: 3,
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

export function floatTensor(data: number[] | Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor("float32", Float32Array.from(data), dims);
}

/** Decodes a corpus `input_N.pb`/`output_N.pb` into an onnxruntime tensor (numeric types only). */
export function tensorFromPb(bytes: Uint8Array): { name: string; tensor: ort.Tensor } | null {
  const t: TensorProto = fromBinary(TensorProtoSchema, bytes);
  const dims = t.dims.map(Number);
  const raw = t.rawData.byteLength > 0 ? new Uint8Array(t.rawData).buffer : null;
  const make = <A>(Ctor: { new (b: ArrayBuffer): A; from(x: ArrayLike<number> | ArrayLike<bigint>): A }, field: ArrayLike<number> | ArrayLike<bigint>) =>
    raw ? new Ctor(raw) : Ctor.from(field);
  const count = dims.reduce((a, b) => a * b, 1);
  const sizes: Record<number, [number, number]> = {
    [DT.FLOAT]: [4, t.floatData.length],
    [DT.DOUBLE]: [8, t.doubleData.length],
    [DT.INT32]: [4, t.int32Data.length],
    [DT.INT64]: [8, t.int64Data.length],
  };
  const size = sizes[t.dataType];
  // Sequence and optional protos also decode as (empty) tensors: anything whose data does not fit is skipped.
  if (!size || (raw ? raw.byteLength !== count * size[0] : size[1] !== count)) return null;
  switch (t.dataType) {
    case DT.FLOAT:
      return { name: t.name, tensor: new ort.Tensor("float32", make(Float32Array, t.floatData) as Float32Array, dims) };
    case DT.DOUBLE:
      return { name: t.name, tensor: new ort.Tensor("float64", make(Float64Array, t.doubleData) as Float64Array, dims) };
    case DT.INT32:
      return { name: t.name, tensor: new ort.Tensor("int32", make(Int32Array, t.int32Data) as Int32Array, dims) };
    case DT.INT64:
      return { name: t.name, tensor: new ort.Tensor("int64", make(BigInt64Array, t.int64Data) as BigInt64Array, dims) };
    default:
      return null;
  }
}

/** Largest |a - b| and the largest |b| (to scale tolerances). */
export function compareOutputs(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbsDiff: number; maxAbsRef: number } {
  let maxAbsDiff = 0;
  let maxAbsRef = 0;
  for (let i = 0; i < b.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
    maxAbsRef = Math.max(maxAbsRef, Math.abs(b[i]!));
  }
  return { maxAbsDiff, maxAbsRef };
}

/**
 * The float tensor onnxruntime-node computes for input `index` of node `node` in `model` (with `dims`), exposed as an
 * extra graph output: a compressed weight as the runtime reads it back.
 */
export async function readBack(model: ModelProto, node: string, index: number, dims: number[], feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const probe = structuredClone(model);
  const name = probe.graph!.node.find((n) => n.name === node)!.input[index]!;
  probe.graph!.output.push(makeValueInfo(name, DT.FLOAT, dims));
  return (await runReference(encodeModel(probe), feeds))[name]!.data as Float32Array;
}
