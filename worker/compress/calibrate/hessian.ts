// Second-order calibration statistics for error-compensating rounding: for each MatMul/Gemm with a 2-D weight, the
// Hessian of its output error in its weight, H = mean of x xᵀ over the input rows x the layer sees. Collecting the
// rows (running the model) happens elsewhere; these modules only see Float32Arrays.
import type { ModelProto } from "onnx-buf";
import { normalizeConstants } from "../../onnx/constants";
import { nodeLabel, weightedLayers } from "../../onnx/operators";
import { tensorDims } from "../../onnx/tensor";

/** A layer whose weight rounding can compensate: its weight, the activation it multiplies and the features summed. */
export interface HessianTarget {
  layer: string;
  weight: string;
  activation: string;
  /** Input features (the weight's summed axis; the activation's last). */
  features: number;
  /** The weight's axis holding those features. */
  inAxis: number;
}

/** Hessians by activation name: k x k row-major, with the row count they average. */
export type LayerHessians = Record<string, { features: number; rows: number; matrix: Float64Array }>;

const COMPENSATED_OPS = new Set(["MatMul", "Gemm"]);

/** Top-level MatMul (weight on the right) and Gemm (transA = 0) layers with a 2-D float weight. */
export function hessianTargets(model: ModelProto): HessianTarget[] {
  const graph = normalizeConstants(model).graph!;
  const inits = new Set(graph.initializer.map((t) => t.name));
  const out: HessianTarget[] = [];
  for (const { node, operator, weight, nested } of weightedLayers(graph)) {
    if (nested || !COMPENSATED_OPS.has(node.opType) || operator.weight !== 1 || operator.data !== 0) continue;
    if (node.attribute.some((a) => a.name === "transA" && a.i !== 0n)) continue;
    const dims = tensorDims(weight);
    const slot = dims.length === 2 ? operator.layout(node, dims) : null;
    const activation = node.input[0];
    if (!slot || !activation || inits.has(activation)) continue;
    out.push({ layer: nodeLabel(node), weight: weight.name, activation, features: dims[slot.inAxis]!, inAxis: slot.inAxis });
  }
  return out;
}

/** Bytes the Hessians of `targets` take (float64, one per distinct activation). */
export function hessianBytes(targets: readonly HessianTarget[]): number {
  const seen = new Map(targets.map((t) => [t.activation, t.features]));
  return [...seen.values()].reduce((a, k) => a + 8 * k * k, 0);
}

/** Sums x xᵀ over rows of `features` values (the upper triangle, mirrored on read). */
export class HessianAccumulator {
  readonly features: number;
  rows = 0;
  private readonly sum: Float64Array;

  constructor(features: number) {
    this.features = features;
    this.sum = new Float64Array(features * features);
  }

  /** Rows of the activation: every position but the last axis is one row. */
  observe(values: Float32Array): void {
    const k = this.features;
    if (values.length % k !== 0) throw new RangeError(`${values.length} values are not rows of ${k} features`);
    const x = new Float64Array(k);
    for (let base = 0; base < values.length; base += k) {
      for (let i = 0; i < k; i++) x[i] = values[base + i]!;
      for (let i = 0; i < k; i++) {
        const xi = x[i]!;
        if (xi === 0) continue;
        const row = i * k;
        for (let j = i; j < k; j++) this.sum[row + j] = this.sum[row + j]! + xi * x[j]!;
      }
      this.rows++;
    }
  }

  /** The mean of x xᵀ (zero before any row). */
  matrix(): Float64Array {
    const k = this.features;
    const h = new Float64Array(k * k);
    const scale = this.rows > 0 ? 1 / this.rows : 0;
    for (let i = 0; i < k; i++)
      for (let j = i; j < k; j++) {
        const v = this.sum[i * k + j]! * scale;
        h[i * k + j] = v;
        h[j * k + i] = v;
      }
    return h;
  }
}
