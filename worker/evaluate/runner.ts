// Runs a loaded session over a dataset in batches (inputs bound by name, converted to the model's types).
import type { Dataset } from "../datasets/dataset";
import { bindInputs, sliceBatch } from "../datasets/dataset";
import type { TensorSignature } from "../onnx/validate";
import type { LoadedSession } from "../serve/sessions";
import { halfValues } from "../onnx/encoding";
import { nextTurn } from "../turns";

export const BATCH = 64;

export type Outputs = Record<string, { dims: readonly number[]; data: Float32Array }>;

/** Calls `each` with every batch's float outputs; `samples` caps how many rows are used. */
export async function forEachBatch(
  sessions: LoadedSession[],
  dataset: Dataset,
  inputs: readonly TensorSignature[],
  samples: number,
  each: (start: number, outputs: Outputs[], feeds: ReturnType<typeof sliceBatch>) => void,
): Promise<void> {
  const bound = bindInputs(dataset, inputs);
  const n = Math.min(samples, dataset.samples);
  for (let start = 0; start < n; start += BATCH) {
    const feeds = sliceBatch(bound, inputs, start, Math.min(n, start + BATCH));
    const outs: Outputs[] = [];
    for (const [k, s] of sessions.entries()) {
      // A turn between the sessions too: each run of a big model is seconds of one thread.
      if (k > 0) await nextTurn();
      const raw = await s.run(feeds);
      const floats: Outputs = {};
      for (const [name, t] of Object.entries(raw)) {
        const data = floatOutput(t);
        if (data) floats[name] = { dims: t.dims, data };
      }
      outs.push(floats);
    }
    each(start, outs, feeds);
    // Between batches, requests that arrived meanwhile (job polls, inference) run.
    await nextTurn();
  }
}

/** A float output as float32: a half-precision model's (half bits, or a runtime's Float16Array) widened exactly; null for others. */
function floatOutput(t: { type: string; data: unknown }): Float32Array | null {
  if (t.data instanceof Float32Array) return t.data;
  if (t.type !== "float16" || !ArrayBuffer.isView(t.data)) return null;
  if (t.data instanceof Uint16Array) {
    const table = halfValues();
    return Float32Array.from(t.data, (h) => table[h]!);
  }
  return Float32Array.from(t.data as unknown as ArrayLike<number>);
}
