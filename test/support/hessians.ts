// Calibration data for the tests of calibrated compression (GPTQ rounding, calibrated pq): correlated activations,
// the layers' input Hessians measured by onnxruntime-node (the independent executor), and the output error against
// FP32 on unseen inputs.
import { HessianAccumulator, hessianTargets, type LayerHessians } from "@worker/compress/calibrate/hessian";
import { decodeModel, encodeModel } from "@worker/onnx/codec";
import { withExtraOutputs } from "@worker/onnx/outputs";
import { rng } from "./models";
import { floatTensor, runReference } from "./ort-node";

/** A seeded [k, n] weight, uniform in [-0.5, 0.5]. */
export function seededWeights(k: number, n: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: k * n }, () => (next() * 2 - 1) * 0.5);
}

/** H = mean of x xᵀ over the rows of x (k features each). */
export function hessianOf(x: Float32Array, k: number): Float64Array {
  const acc = new HessianAccumulator(k);
  acc.observe(x);
  return acc.matrix();
}

/** Sum over the rows of x of the squared output error of wq against w (x W, W [k, n]): measured from the inputs, not through H. */
export function outputError(x: Float32Array, w: Float32Array, wq: Float32Array, k: number, n: number): number {
  let total = 0;
  for (let r = 0; r < x.length / k; r++)
    for (let o = 0; o < n; o++) {
      let d = 0;
      for (let i = 0; i < k; i++) d += x[r * k + i]! * (w[i * n + o]! - wq[i * n + o]!);
      total += d * d;
    }
  return total;
}

/** Rows of correlated features (a few latent factors plus noise), as real activations are. */
export function correlated(rows: number, k: number, seed: number): Float32Array {
  const next = rng(seed);
  const mixNext = rng(1234);
  const mix = Array.from({ length: 4 * k }, () => mixNext() * 2 - 1);
  const x = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const z = Array.from({ length: 4 }, () => next() * 2 - 1);
    for (let i = 0; i < k; i++) {
      let v = 0.1 * (next() * 2 - 1);
      for (let f = 0; f < 4; f++) v += z[f]! * mix[f * k + i]!;
      x[r * k + i] = v;
    }
  }
  return x;
}

/** Hessians of every MatMul/Gemm input, from onnxruntime-node (the independent executor) on `x`. */
export async function hessians(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<LayerHessians> {
  const model = decodeModel(bytes);
  const targets = hessianTargets(model);
  const exposed = encodeModel(withExtraOutputs(model, targets.map((t) => t.activation).filter((a) => a !== "input")));
  const out = await runReference(exposed, { input: floatTensor(x, dims) });
  const result: LayerHessians = {};
  for (const t of targets) {
    const acc = new HessianAccumulator(t.features, t.groups);
    const tensor = t.activation === "input" ? { data: x, dims } : { data: out[t.activation]!.data as Float32Array, dims: out[t.activation]!.dims as number[] };
    if (t.window) acc.observeConv(tensor.data, tensor.dims, t.window);
    else acc.observe(tensor.data);
    result[t.layer] = { features: t.features, groups: t.groups, rows: acc.rows, matrix: acc.matrix() };
  }
  return result;
}

export async function meanSquaredError(reference: Uint8Array, variant: Uint8Array, x: Float32Array, dims: number[]): Promise<number> {
  const a = (await runReference(reference, { input: floatTensor(x, dims) })).logits!.data as Float32Array;
  const b = (await runReference(variant, { input: floatTensor(x, dims) })).logits!.data as Float32Array;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}
