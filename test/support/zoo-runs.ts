// Runs a model over seeded feeds in onnxruntime-node and in onnxruntime-web (wasm, one thread), at graph
// optimization 'basic' (weight-only DequantizeLinear computed as written): the float outputs per feed. Shared by the
// zoo test and the zoo benchmark.
import * as ortWeb from "onnxruntime-web";
import { ort } from "./ort-node";
import type { Feeds } from "./zoo";

ortWeb.env.wasm.numThreads = 1;
ortWeb.env.logLevel = "error";

/** Each feed's float outputs by name. */
export type Outputs = Record<string, Float32Array>[];

export async function runNode(bytes: Uint8Array, feeds: Feeds[]): Promise<Outputs> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: "basic", logSeverityLevel: 3, intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out: Outputs = [];
    for (const f of feeds) out.push(floats(await session.run(f)));
    return out;
  } finally {
    await session.release();
  }
}

export async function runWeb(bytes: Uint8Array, feeds: Feeds[]): Promise<Outputs> {
  const session = await ortWeb.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "basic" });
  try {
    const out: Outputs = [];
    for (const f of feeds) {
      // The same values, as onnxruntime-web's own tensors.
      const webFeeds = Object.fromEntries(Object.entries(f).map(([k, t]) => [k, new ortWeb.Tensor(t.type as "float32", t.data as Float32Array, t.dims)]));
      out.push(floats(await session.run(webFeeds)));
    }
    return out;
  } finally {
    await session.release();
  }
}

function floats(out: Record<string, { data: unknown }>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data as Float32Array]));
}
