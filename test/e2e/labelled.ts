// A labelled classification set for a small model, and top-1 accuracy/agreement computed with onnxruntime-node: the
// independent reference that the server's evaluation reports (run by onnxruntime-web in workerd) are checked against.
import * as ort from "onnxruntime-node";
import { randomInput } from "@test/support/models";

export interface Labelled {
  x: Float32Array;
  labels: BigInt64Array;
  samples: number;
  features: number;
}

/** Top-1 class of each row of [rows, classes] logits. */
export function top1(logits: Float32Array, classes: number): number[] {
  const out: number[] = [];
  for (let r = 0; r * classes < logits.length; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[r * classes + c]! > logits[r * classes + best]!) best = c;
    out.push(best);
  }
  return out;
}

/** Logits of a model (input `input` [N, features], output `logits`) on onnxruntime-node with basic optimizations. */
export async function logitsOf(modelBytes: Uint8Array, x: Float32Array, features: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(modelBytes, { graphOptimizationLevel: "basic" });
  try {
    const out = await session.run({ input: new ort.Tensor("float32", x, [x.length / features, features]) });
    return out.logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * Seeded uniform inputs labelled with the FP32 model's own top-1 (by onnxruntime-node), except every `every`-th
 * sample, whose label is shifted by one class: the original scores 1 - 1/every, so accuracy drops are visible.
 */
export async function labelledSet(modelBytes: Uint8Array, opts: { samples: number; features: number; classes: number; seed: number; every?: number }): Promise<Labelled> {
  const x = new Float32Array(randomInput(opts.samples * opts.features, opts.seed));
  const predicted = top1(await logitsOf(modelBytes, x, opts.features), opts.classes);
  const every = opts.every ?? 10;
  const labels = BigInt64Array.from(predicted, (p, i) => BigInt(i % every === 0 ? (p + 1) % opts.classes : p));
  return { x, labels, samples: opts.samples, features: opts.features };
}

/** Top-1 accuracy against the labels, and agreement with a reference's top-1, of a model on the set. */
export async function scoreOn(modelBytes: Uint8Array, set: Labelled, classes: number, reference?: number[]): Promise<{ accuracy: number; top: number[]; agreement: number | null }> {
  const top = top1(await logitsOf(modelBytes, set.x, set.features), classes);
  const correct = top.filter((p, i) => BigInt(p) === set.labels[i]).length;
  const agreement = reference ? top.filter((p, i) => p === reference[i]).length / top.length : null;
  return { accuracy: correct / top.length, top, agreement };
}
