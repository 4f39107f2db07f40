// Second-order calibration statistics for error-compensating rounding: for each MatMul/Gemm/Conv, the Hessian of its
// output error in its weight, H = mean of x xᵀ over the input rows x the layer sees (a Conv's rows are its input
// patches, one Hessian per group). Collecting the activations (running the model) happens elsewhere; these modules
// only see Float32Arrays.
import type { ModelProto } from "onnx-buf";
import { normalizeConstants } from "../../onnx/constants";
import { layerLevels, nodeLabel, weightedLayers } from "../../onnx/operators";
import { tensorDims } from "../../onnx/tensor";
import { intsAttribute, stringAttribute } from "../../onnx/attributes";
import { samePads } from "../../onnx/window";

/** A 2-D convolution's window over its input (the engine's geometry, per ONNX Conv). */
export interface ConvWindow {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** Explicit pads [top, left, bottom, right], or auto_pad SAME_UPPER / SAME_LOWER / VALID. */
  pads: [number, number, number, number];
  autoPad: string;
}

/** A layer whose weight rounding can compensate: its weight, the activation it multiplies, its matrix products. */
export interface HessianTarget {
  layer: string;
  weight: string;
  activation: string;
  /** Inputs summed per output (a Conv's C/group x kernel), and the number of products (a Conv's group). */
  features: number;
  groups: number;
  /** For a Conv: the window its rows (patches) are read through. */
  window?: ConvWindow;
  /** 1 + the highest level of the targets upstream of it (operators.ts layerLevels). */
  level: number;
}

/** Hessians by layer label: `groups` k x k row-major matrices, concatenated, and the row count they average. */
export type LayerHessians = Record<string, { features: number; groups: number; rows: number; matrix: Float64Array }>;

/**
 * Top-level MatMul (weight on the right), Gemm (transA = 0) and 2-D Conv layers with a float weight, as the operator
 * table's matrix products see them.
 */
export function hessianTargets(model: ModelProto): HessianTarget[] {
  const graph = normalizeConstants(model).graph!;
  const inits = new Set(graph.initializer.map((t) => t.name));
  const out: HessianTarget[] = [];
  for (const { node, operator, weight, nested } of weightedLayers(graph)) {
    if (nested || operator.weight !== 1 || operator.data !== 0) continue;
    const activation = node.input[0];
    if (!activation || inits.has(activation)) continue;
    const dims = tensorDims(weight);
    const layout = operator.gemm(node, dims);
    if (!layout) continue;
    const base = { layer: nodeLabel(node), weight: weight.name, activation, features: layout.K, groups: layout.groups, level: 0 };
    if ((node.opType === "MatMul" && dims.length === 2) || (node.opType === "Gemm" && !node.attribute.some((a) => a.name === "transA" && a.i !== 0n))) {
      out.push(base);
    } else if (node.opType === "Conv" && dims.length === 4) {
      const autoPad = stringAttribute(node, "auto_pad", "NOTSET");
      if (!["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].includes(autoPad)) continue;
      const pair = (name: string, fallback: number) => intsAttribute(node, name, [fallback, fallback]) as [number, number];
      const pads = intsAttribute(node, "pads", [0, 0, 0, 0]) as [number, number, number, number];
      out.push({ ...base, window: { kernel: [dims[2]!, dims[3]!], strides: pair("strides", 1), dilations: pair("dilations", 1), pads, autoPad } });
    }
  }
  const levels = layerLevels(graph, new Set(out.map((t) => t.layer)));
  for (const t of out) t.level = levels.get(t.layer)!;
  return out;
}

/** Bytes the Hessians of `targets` take (float64). */
export function hessianBytes(targets: readonly HessianTarget[]): number {
  return targets.reduce((a, t) => a + 8 * t.groups * t.features * t.features, 0);
}

/** Sums x xᵀ over rows of `features` values per group (upper triangles, mirrored on read). */
export class HessianAccumulator {
  readonly features: number;
  readonly groups: number;
  rows = 0;
  private readonly sum: Float64Array;
  private readonly row: Float64Array;

  constructor(features: number, groups = 1) {
    this.features = features;
    this.groups = groups;
    this.sum = new Float64Array(groups * features * features);
    this.row = new Float64Array(features);
  }

  /** Rows of a MatMul/Gemm activation: every position but the last axis is one row. */
  observe(values: Float32Array): void {
    const k = this.features;
    if (values.length % k !== 0) throw new RangeError(`${values.length} values are not rows of ${k} features`);
    for (let base = 0; base < values.length; base += k) {
      for (let i = 0; i < k; i++) this.row[i] = values[base + i]!;
      this.add(0);
      this.rows++;
    }
  }

  /** Rows of a Conv input [N, C, H, W]: each output position's patch of each group's C/group channels. */
  observeConv(values: Float32Array, dims: readonly number[], w: ConvWindow): void {
    const [N, C, H, W] = dims as [number, number, number, number];
    const g = this.groups;
    const [kh, kw] = w.kernel;
    const cg = C / g;
    if (dims.length !== 4 || !Number.isInteger(cg) || cg * kh * kw !== this.features) throw new RangeError(`Conv input [${dims}] does not give rows of ${this.features}`);
    let [pt, pl] = w.autoPad === "VALID" ? [0, 0] : [w.pads[0], w.pads[1]];
    let [pb, pr] = w.autoPad === "VALID" ? [0, 0] : [w.pads[2], w.pads[3]];
    if (w.autoPad.startsWith("SAME")) {
      [pt, pb] = samePads(H, kh, w.strides[0], w.dilations[0], w.autoPad === "SAME_UPPER");
      [pl, pr] = samePads(W, kw, w.strides[1], w.dilations[1], w.autoPad === "SAME_UPPER");
    }
    const OH = Math.floor((H + pt + pb - w.dilations[0] * (kh - 1) - 1) / w.strides[0]) + 1;
    const OW = Math.floor((W + pl + pr - w.dilations[1] * (kw - 1) - 1) / w.strides[1]) + 1;
    for (let b = 0; b < N; b++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          for (let gi = 0; gi < g; gi++) {
            let i = 0;
            for (let c = 0; c < cg; c++) {
              const plane = (b * C + gi * cg + c) * H * W;
              for (let ky = 0; ky < kh; ky++) {
                const y = oy * w.strides[0] - pt + ky * w.dilations[0];
                for (let kx = 0; kx < kw; kx++, i++) {
                  const x = ox * w.strides[1] - pl + kx * w.dilations[1];
                  this.row[i] = y >= 0 && y < H && x >= 0 && x < W ? values[plane + y * W + x]! : 0;
                }
              }
            }
            this.add(gi);
          }
          this.rows++;
        }
  }

  private add(group: number): void {
    const k = this.features;
    const x = this.row;
    const at = group * k * k;
    for (let i = 0; i < k; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      const row = at + i * k;
      for (let j = i; j < k; j++) this.sum[row + j] = this.sum[row + j]! + xi * x[j]!;
    }
  }

  /** The mean of x xᵀ per group (zero before any row), groups concatenated. */
  matrix(): Float64Array {
    const k = this.features;
    const h = new Float64Array(this.groups * k * k);
    const scale = this.rows > 0 ? 1 / this.rows : 0;
    for (let g = 0; g < this.groups; g++) {
      const at = g * k * k;
      for (let i = 0; i < k; i++)
        for (let j = i; j < k; j++) {
          const v = this.sum[at + i * k + j]! * scale;
          h[at + i * k + j] = v;
          h[at + j * k + i] = v;
        }
    }
    return h;
  }
}
