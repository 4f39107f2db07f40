// Runs a loaded session over a dataset in batches (inputs bound by name, converted to the model's types).
import type { Dataset } from "../datasets/dataset";
import { bindInputs, sliceBatch } from "../datasets/dataset";
import type { TensorSignature } from "../onnx/validate";
import type { LoadedSession } from "../serve/sessions";
import { halfValues } from "../onnx/encoding";
import { nextTurn } from "../turns";

/** The most rows one session call takes. */
export const BATCH = 64;

/**
 * What one session call should take, in ms: rows per call follow the measured time per row towards it. A call is one
 * thread that nothing else on the isolate gets meanwhile; at 64 rows an FP32 ResNet-18 at 224 x 224 is about 5.5 s.
 */
export const SLICE_MS = 250;

/**
 * Rows for the next call, from the last batch's: `elapsedMs` for `rows` rows through each of `sessions` sessions.
 * A power of two (the kernel engine plans once per input shape, so few distinct batch sizes), at most twice the
 * last (a batch that took no measurable time is not proof that 64 rows will not), at least 1, at most BATCH.
 */
export function nextRows(rows: number, elapsedMs: number, sessions: number): number {
  const perCall = elapsedMs / Math.max(1, sessions);
  const fitting = perCall > 0 ? Math.floor((SLICE_MS * rows) / perCall) : Infinity;
  const most = Math.max(1, Math.min(BATCH, 2 * rows, fitting));
  return 2 ** Math.floor(Math.log2(most));
}

/** The first batch's rows, before anything is measured. */
const FIRST_ROWS = 4;

export type Outputs = Record<string, { dims: readonly number[]; data: Float32Array }>;

/**
 * How the rows are cut into session calls:
 * - "timed" (nextRows): batches as big as fit SLICE_MS, for evaluation, whose figures do not depend on the cut;
 * - `{ rows }`: one row a call, for calibration, whose statistics must not depend on how fast the machine ran, and
 *   whose calls must each hold the isolate for one row only (64 rows of an image model are seconds). Statistics that
 *   take something from a whole batch of `rows` rows (a histogram's first range) gather them until `batchEnd` is
 *   called, after the batch's last row (after every row where the model's batch is fixed at 1).
 */
export type Batching = "timed" | { rows: number; batchEnd?: () => void | Promise<void> };

/**
 * Calls `each` with every call's float outputs (`start`: the call's first row in the dataset); `samples` caps how
 * many rows are used, from row `first` on. Rows keep their order, so statistics summed over rows in order are the
 * same whatever the cut where every output's leading axis is the batch.
 */
export async function forEachBatch(
  sessions: LoadedSession[],
  dataset: Dataset,
  inputs: readonly TensorSignature[],
  samples: number,
  each: (start: number, outputs: Outputs[], feeds: ReturnType<typeof sliceBatch>) => void,
  batching: Batching,
  first = 0,
): Promise<void> {
  const bound = bindInputs(dataset, inputs);
  const last = first + Math.min(samples, dataset.samples - first);
  // A model whose batch dim is a fixed 1 (torch.onnx.export without dynamic axes writes one) takes one row a call:
  // onnxruntime refuses any other batch.
  const fixedOne = inputs.some((sig) => sig.shape?.[0] === 1);
  let rows = fixedOne || batching !== "timed" ? 1 : FIRST_ROWS;
  const batchRows = fixedOne || batching === "timed" ? 1 : batching.rows;
  for (let start = first; start < last; ) {
    const end = Math.min(last, start + rows);
    // On Workers the clock moves only between events: the timer turn that ends each batch is what makes its
    // computation show in Date.now().
    const began = Date.now();
    const feeds = sliceBatch(bound, inputs, start, end);
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
    if (batching !== "timed" && ((end - first) % batchRows === 0 || end === last)) await batching.batchEnd?.();
    // Between batches, requests that arrived meanwhile (job polls, inference) run.
    await nextTurn();
    if (batching === "timed" && !fixedOne) rows = nextRows(end - start, Date.now() - began, sessions.length);
    start = end;
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
