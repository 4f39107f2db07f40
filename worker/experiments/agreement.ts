// Agreement between an arm's output and the control's on the same input: top-1 per row (argmax over the
// last axis), cosine similarity and the largest absolute difference over the whole tensor.
import type { JsonTensor } from "../serve/inputs";

export interface Agreement {
  rows: number;
  top1Matches: number;
  cosine: number;
  maxAbsDiff: number;
}

const values = (t: JsonTensor) => t.data.map((v) => (typeof v === "boolean" ? (v ? 1 : 0) : v));

/** Argmax over the last axis for each row (the first maximum wins); a scalar is one row of one value. */
export function top1Rows(t: JsonTensor): number[] {
  const cols = t.dims.length ? t.dims[t.dims.length - 1]! : 1;
  const v = values(t);
  const rows = cols > 0 ? Math.floor(v.length / cols) : 0;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (v[r * cols + c]! > v[r * cols + best]!) best = c;
    out.push(best);
  }
  return out;
}

/** Null when the two tensors differ in shape (nothing comparable). */
export function compareOutputs(control: JsonTensor, arm: JsonTensor): Agreement | null {
  if (control.dims.length !== arm.dims.length || control.dims.some((d, i) => d !== arm.dims[i])) return null;
  const a = values(control);
  const b = values(arm);
  if (a.length !== b.length) return null;
  let dot = 0;
  let na = 0;
  let nb = 0;
  let maxAbsDiff = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
  }
  // Two zero vectors are identical; one zero vector against a non-zero one shares no direction.
  const cosine = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  const ta = top1Rows(control);
  const tb = top1Rows(arm);
  const top1Matches = ta.reduce((n, c, i) => n + (c === tb[i] ? 1 : 0), 0);
  return { rows: ta.length, top1Matches, cosine, maxAbsDiff };
}
