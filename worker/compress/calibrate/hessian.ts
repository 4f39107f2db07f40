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
import { BATCH_ROWS, MIN_KERNEL_FEATURES, type RowProducts } from "./row-products";
import { MAX_COMPENSATED_FEATURES, MAX_HESSIAN_BYTES, MIN_BLOCK_FEATURES } from "./bounds";

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
  /**
   * Diagonal blocks the Hessian is kept as (features / blocks inputs each; absent: 1, the whole matrix): how a layer
   * over MAX_COMPENSATED_FEATURES inputs is compensated, within each block of consecutive inputs.
   */
  blocks?: number;
  /** 1 + the highest level of the targets upstream of it (operators.ts layerLevels). */
  level: number;
}

/**
 * Hessians by layer label: `groups` k x k row-major matrices, concatenated, and the row count they average; with
 * `blocks`, each group's is its `blocks` diagonal blocks of k / blocks inputs instead, concatenated. Measured on
 * quantized inputs x̃ toward the float model's x (compress/quantized-inputs.ts), `cross` holds E[x̃ xᵀ] likewise, and
 * both are kept in float32, so that the two take the bytes of one float64 Hessian.
 */
export type LayerHessians = Record<string, { features: number; groups: number; blocks?: number; rows: number; matrix: Float64Array | Float32Array; cross?: Float32Array }>;

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

/**
 * The targets compensated rounding measures: those within `blockInputs` inputs whole, and wider single-product layers
 * (a transformer's 3072-input projection, a 3 x 3 Conv over 512 channels) in the fewest equal diagonal blocks within
 * it, where their blocks take at most MAX_HESSIAN_BYTES; the others round to nearest.
 */
export function compensatedTargets(model: ModelProto, blockInputs = MAX_COMPENSATED_FEATURES): HessianTarget[] {
  return hessianTargets(model).flatMap((t) => {
    if (t.features <= blockInputs) return [t];
    const blocks = t.groups === 1 ? diagonalBlocks(t.features, blockInputs) : undefined;
    const blocked = blocks === undefined ? undefined : { ...t, blocks };
    return blocked && hessianBytes([blocked]) <= MAX_HESSIAN_BYTES ? [blocked] : [];
  });
}

/** The fewest equal blocks of at most `blockInputs` consecutive inputs (MIN_BLOCK_FEATURES or more) that `features` divides into. */
export function diagonalBlocks(features: number, blockInputs = MAX_COMPENSATED_FEATURES): number | undefined {
  for (let blocks = Math.ceil(features / blockInputs); features / blocks >= MIN_BLOCK_FEATURES; blocks++) {
    if (features % blocks === 0) return blocks;
  }
  return undefined;
}

/** Bytes the Hessians of `targets` take (float64; diagonal blocks only, where blocked). */
export function hessianBytes(targets: readonly HessianTarget[]): number {
  return targets.reduce((a, t) => a + (8 * t.groups * t.features * t.features) / (t.blocks ?? 1), 0);
}

/**
 * `targets` in parts, in order, each taking at most `maxBytes` of Hessians where it can: layers reading the same weight
 * stay in one part (their Hessians are summed for it), so a part over the bound is one weight's readers alone.
 */
export function hessianParts(targets: readonly HessianTarget[], maxBytes: number): HessianTarget[][] {
  const byWeight = new Map<string, HessianTarget[]>();
  for (const t of targets) byWeight.set(t.weight, [...(byWeight.get(t.weight) ?? []), t]);
  const parts: HessianTarget[][] = [];
  let part: HessianTarget[] = [];
  let bytes = 0;
  for (const readers of byWeight.values()) {
    const b = hessianBytes(readers);
    if (part.length > 0 && bytes + b > maxBytes) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(...readers);
    bytes += b;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/**
 * Sums x xᵀ over rows of `features` values per group (upper triangles, mirrored on read), or only its `blocks`
 * diagonal blocks. Given the float model's values of the same rows beside them (`paired`), also sums x xᵀ_float, the
 * cross statistics of LayerHessians.
 */
export class HessianAccumulator {
  readonly features: number;
  readonly groups: number;
  readonly blocks: number;
  /** Inputs per diagonal block (features, unblocked). */
  private readonly span: number;
  rows = 0;
  private readonly sum: Float64Array;
  private readonly row: Float64Array;
  private readonly pairRow: Float64Array;
  private crossSum: Float64Array | undefined;
  /** With the kernels' GEMM: rows gathered per group, feature-major, BATCH_ROWS at a time (and the float ones beside). */
  private readonly products: RowProducts | undefined;
  private batch: Float32Array[] = [];
  private pairBatch: Float32Array[] = [];
  private batched = 0;

  /** `products`: the kernels' GEMM, used for layers of MIN_KERNEL_FEATURES inputs and more. */
  constructor(features: number, groups = 1, products?: RowProducts, blocks = 1) {
    if (features % blocks !== 0) throw new RangeError(`${features} inputs do not split into ${blocks} equal blocks`);
    this.features = features;
    this.groups = groups;
    this.blocks = blocks;
    this.span = features / blocks;
    this.sum = new Float64Array(groups * blocks * this.span * this.span);
    this.row = new Float64Array(features);
    this.pairRow = new Float64Array(features);
    this.products = products && features >= MIN_KERNEL_FEATURES ? products : undefined;
    if (this.products) this.batch = Array.from({ length: groups }, () => new Float32Array(features * BATCH_ROWS));
  }

  /** Rows of a MatMul/Gemm activation: every position but the last axis is one row. */
  observe(values: Float32Array, paired?: Float32Array): void {
    const k = this.features;
    if (values.length % k !== 0) throw new RangeError(`${values.length} values are not rows of ${k} features`);
    this.checkPaired(values, paired);
    for (let base = 0; base < values.length; base += k) {
      for (let i = 0; i < k; i++) this.row[i] = values[base + i]!;
      if (paired) for (let i = 0; i < k; i++) this.pairRow[i] = paired[base + i]!;
      this.add(0, paired !== undefined);
      this.endRow();
    }
  }

  /** Rows of a Conv input [N, C, H, W]: each output position's patch of each group's C/group channels. */
  observeConv(values: Float32Array, dims: readonly number[], w: ConvWindow, paired?: Float32Array): void {
    const [N, C, H, W] = dims as [number, number, number, number];
    const g = this.groups;
    const [kh, kw] = w.kernel;
    const cg = C / g;
    if (dims.length !== 4 || !Number.isInteger(cg) || cg * kh * kw !== this.features) throw new RangeError(`Conv input [${dims}] does not give rows of ${this.features}`);
    this.checkPaired(values, paired);
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
                  const inside = y >= 0 && y < H && x >= 0 && x < W;
                  this.row[i] = inside ? values[plane + y * W + x]! : 0;
                  if (paired) this.pairRow[i] = inside ? paired[plane + y * W + x]! : 0;
                }
              }
            }
            this.add(gi, paired !== undefined);
          }
          this.endRow();
        }
  }

  private checkPaired(values: Float32Array, paired: Float32Array | undefined): void {
    if (paired && paired.length !== values.length) throw new RangeError(`${paired.length} float values beside ${values.length} quantized ones`);
    if ((paired !== undefined) !== (this.crossSum !== undefined) && this.rows > 0) throw new RangeError("rows with and without float values beside them");
    if (paired) this.crossSum ??= new Float64Array(this.sum.length);
    if (paired && this.products && this.pairBatch.length === 0) this.pairBatch = this.batch.map((b) => new Float32Array(b.length));
  }

  private endRow(): void {
    this.rows++;
    if (this.products && ++this.batched === BATCH_ROWS) this.flush();
  }

  /** Adds the gathered rows' products into the sums (full k x k blocks; the Hessian's lower half is never read). */
  private flush(): void {
    const n = this.batched;
    if (!this.products || n === 0) return;
    const s = this.span;
    for (let g = 0; g < this.groups; g++)
      for (let b = 0; b < this.blocks; b++) {
        // Feature-major rows: a block's features are consecutive.
        const rows = this.batch[g]!.subarray(b * s * BATCH_ROWS);
        const at = (g * this.blocks + b) * s * s;
        this.products.add(this.sum, at, rows, rows, s, n, BATCH_ROWS);
        if (this.crossSum) this.products.add(this.crossSum, at, rows, this.pairBatch[g]!.subarray(b * s * BATCH_ROWS), s, n, BATCH_ROWS);
      }
    this.batched = 0;
  }

  private add(group: number, paired: boolean): void {
    const k = this.features;
    const s = this.span;
    const x = this.row;
    if (this.products) {
      const rows = this.batch[group]!;
      const pairs = this.pairBatch[group];
      const r = this.batched;
      for (let i = 0; i < k; i++) rows[i * BATCH_ROWS + r] = x[i]!;
      if (paired) for (let i = 0; i < k; i++) pairs![i * BATCH_ROWS + r] = this.pairRow[i]!;
      return;
    }
    for (let i = 0; i < k; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      // Within i's block: entry (i, j) of block b at (i - first) s + (j - first).
      const first = i - (i % s);
      const row = (group * this.blocks + first / s) * s * s + (i - first) * s - first;
      for (let j = i; j < first + s; j++) this.sum[row + j] = this.sum[row + j]! + xi * x[j]!;
      if (!paired) continue;
      const cross = this.crossSum!;
      const f = this.pairRow;
      for (let j = first; j < first + s; j++) cross[row + j] = cross[row + j]! + xi * f[j]!;
    }
  }

  /** The mean of x xᵀ_float per group over paired rows (rows: these values, columns: the float ones); undefined unpaired. */
  cross(): Float64Array | undefined {
    this.flush();
    if (!this.crossSum) return undefined;
    const scale = this.rows > 0 ? 1 / this.rows : 0;
    return this.crossSum.map((v) => v * scale);
  }

  /** The mean of x xᵀ per group (zero before any row), groups concatenated; per diagonal block, blocks concatenated. */
  matrix(): Float64Array {
    this.flush();
    const k = this.span;
    const h = new Float64Array(this.sum.length);
    const scale = this.rows > 0 ? 1 / this.rows : 0;
    for (let g = 0; g < this.groups * this.blocks; g++) {
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
