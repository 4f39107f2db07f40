// Running a model both ways: the kernel engine (plain SIMD128 build, in Node) and onnxruntime-node (the reference,
// graph optimizations 'basic' so weight-only dequantization is not rewritten into integer kernels).
import * as ortNode from "onnxruntime-node";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import type { ModelProto } from "onnx-buf";
import { createKernelSession } from "@worker/serve/engine";
import { plainKernelModule } from "./kernels";

export type Feeds = Record<string, { dims: number[]; data: Float32Array }>;

export async function runReference(bytes: Uint8Array, feeds: Feeds): Promise<Record<string, { dims: number[]; data: Float32Array }>> {
  const session = await ortNode.InferenceSession.create(bytes, { graphOptimizationLevel: "basic", intraOpNumThreads: 1 });
  const inputs = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ortNode.Tensor("float32", v.data, v.dims)]));
  const out = await session.run(inputs);
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { dims: [...t.dims], data: t.data as Float32Array }]));
}

export function loadKernels(model: ModelProto | Uint8Array) {
  const proto = model instanceof Uint8Array ? decodeModel(model) : model;
  const loaded = createKernelSession(proto, plainKernelModule);
  if (!loaded.session) throw new Error(`not covered: ${loaded.reason}`);
  return loaded.session;
}

export async function runKernels(model: ModelProto | Uint8Array, feeds: Feeds) {
  const session = loadKernels(model);
  const checked = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { type: "float32", dims: v.dims, data: v.data }]));
  const raw = await session.run(checked);
  // Integer and bool outputs as float32 values, as onnxruntime's are compared in the tests.
  const outputs = Object.fromEntries(
    Object.entries(raw).map(([k, t]) => [k, { type: t.type, dims: t.dims, data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number | bigint>, Number) }]),
  );
  return { session, outputs };
}

/** max |a - b| / max(1e-6, max |b|). */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let scale = 1e-6;
  let diff = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  return diff / scale;
}

export { encodeModel };
