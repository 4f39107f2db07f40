// Product quantization of weights ("And the bit goes down", Stock et al. 2019): each output's weights are cut into
// sub-vectors of `subvector` consecutive inputs, and every sub-vector of a layer becomes the index of one of
// `centroids` shared sub-vectors, found by k-means. With calibration the distance is the layer's output error on the
// activations it saw, (w - c)ᵀ H_j (w - c) with H_j the block of the input Hessian over the sub-vector's inputs, and a
// centroid is the H-weighted mean of its members (Σ H_j)⁻¹ Σ H_j w; without, plain squared distance and the mean.
// Standard ONNX reads it back: UINT8 (or UINT4) indices, Cast to INT64, Gather from the [centroids, subvector]
// codebook (float16, as the paper stores it: half the codebook bytes, which dominate small layers), Cast to float,
// then Transpose/Reshape into the weight's own layout.
import { makeNode } from "../../onnx/builders";
import { DT } from "../../onnx/dtype";
import { fromHalf, toHalf } from "../../onnx/encoding";
import type { GemmLayout } from "../../onnx/operators";
import { makeTensor } from "../../onnx/tensor";
import type { CodebookReport, WeightEncoding } from "./encoding";
import { indexContainer, indexTensors } from "./codebook";
import { solveSymmetric } from "./gptq";
import { seededRandom } from "../../seeded-random";
import { quantizationError } from "./weights";

export interface PqOptions {
  subvector: number;
  centroids: number;
  seed: number;
  iterations: number;
  /**
   * The layer's input Hessian (groups x K x K, mean x xᵀ), by weight name, when the recipe is calibrated; undefined
   * leaves the plain squared distance.
   */
  hessianFor?: (weight: string, gemm: GemmLayout) => Float64Array | undefined;
}

/** Sub-vectors k-means fits its centroids on (a deterministic, evenly strided subset beyond this); all are assigned. */
const FIT_POINTS = 16384;
/** Added to each Hessian block's diagonal, as a fraction of its mean (as GPTQ's dampening keeps it invertible). */
const DAMPENING = 0.01;

/** How the weight's memory maps to sub-vectors: inputs contiguous (Gemm transB, Conv) or outputs contiguous (MatMul). */
function storageOf(gemm: GemmLayout): "inputs-contiguous" | "outputs-contiguous" | null {
  const { K, N, kStride, nStride, groupStride } = gemm;
  if (kStride === 1 && nStride === K && groupStride === N * K) return "inputs-contiguous";
  if (kStride === N && nStride === 1 && groupStride === K * N) return "outputs-contiguous";
  return null;
}

/** Why PQ leaves this weight as it is, or null. */
export function pqUnsupported(gemm: GemmLayout | null | undefined, options: Pick<PqOptions, "subvector" | "centroids">): string | null {
  if (!gemm || !storageOf(gemm)) return "weight is not a plain matrix product (no sub-vectors along its inputs)";
  if (gemm.K % options.subvector !== 0) return `its ${gemm.K} inputs per output are not a multiple of the sub-vector length ${options.subvector}`;
  const points = (gemm.groups * gemm.K * gemm.N) / options.subvector;
  // The (float16) codebook alone would be at least a quarter of the float weight: no gain worth an approximation.
  if (options.centroids * options.subvector * 2 > gemm.groups * gemm.K * gemm.N || points <= options.centroids) {
    return `${points} sub-vectors: a ${options.centroids}-entry codebook would not make this weight smaller`;
  }
  return null;
}

/** The point (sub-vector) order: index p's values and its Hessian block (group, input block). */
function pointLayout(gemm: GemmLayout, d: number) {
  const { groups, K, N } = gemm;
  const blocks = K / d;
  const count = groups * N * blocks;
  const inputsContiguous = storageOf(gemm) === "inputs-contiguous";
  // inputs-contiguous: p = (g * N + n) * blocks + j; outputs-contiguous: p = (g * blocks + j) * N + n.
  // The point's Hessian block: (group, input block) as one index g * blocks + j.
  const blockOf = (p: number) => (inputsContiguous ? Math.floor(p / (N * blocks)) * blocks + (p % blocks) : Math.floor(p / N));
  // Flat index in the weight of element t of point p.
  const at = (p: number, t: number) => {
    if (inputsContiguous) return p * d + t;
    const b = blockOf(p);
    return Math.floor(b / blocks) * K * N + ((b % blocks) * d + t) * N + (p % N);
  };
  const gather = (data: Float32Array, out: Float32Array) => {
    for (let p = 0; p < count; p++) for (let t = 0; t < d; t++) out[p * d + t] = data[at(p, t)]!;
    return out;
  };
  const scatter = (values: Float32Array, out: Float32Array) => {
    for (let p = 0; p < count; p++) for (let t = 0; t < d; t++) out[at(p, t)] = values[p * d + t]!;
    return out;
  };
  return { count, blockOf, gather, scatter, inputsContiguous };
}

/** The d x d metric of each (group, input block): the dampened diagonal block of the Hessian, or null for identity. */
function metricBlocks(hessian: Float64Array | undefined, gemm: GemmLayout, d: number): Float64Array[] | null {
  if (!hessian) return null;
  const { groups, K } = gemm;
  const blocks: Float64Array[] = [];
  for (let g = 0; g < groups; g++)
    for (let j = 0; j < K / d; j++) {
      const m = new Float64Array(d * d);
      let trace = 0;
      for (let a = 0; a < d; a++) {
        for (let b = 0; b < d; b++) m[a * d + b] = hessian[g * K * K + (j * d + a) * K + (j * d + b)]!;
        trace += m[a * d + a]!;
      }
      const damp = DAMPENING * (trace / d) + 1e-12;
      for (let a = 0; a < d; a++) m[a * d + a]! += damp;
      blocks.push(m);
    }
  return blocks;
}

export interface PqClustering {
  /** k x d, each rounded by `round` (what the codebook stores). */
  centroids: Float32Array;
  /** The centroid of each point. */
  assignment: Uint8Array;
}

/**
 * k-means over `count` points of dimension d (row-major in `points`), each with a metric block (`blockOf`, `metrics`;
 * identity when `metrics` is null): k-means++ seeds from `seed`, at most `iterations` Lloyd steps on at most
 * FIT_POINTS points, then every point assigned to its nearest centroid under its own metric.
 */
export function pqKmeans(
  points: Float32Array,
  count: number,
  d: number,
  k: number,
  seed: number,
  iterations: number,
  metrics: Float64Array[] | null,
  blockOf: (p: number) => number,
  round: (x: number) => number = Math.fround,
): PqClustering {
  const stride = Math.max(1, Math.floor(count / FIT_POINTS));
  const fit = Array.from({ length: Math.ceil(count / stride) }, (_, i) => i * stride).filter((p) => p < count);
  const random = seededRandom(seed);
  const centroids = new Float64Array(k * d);
  // k-means++ seeding (squared distance) over the fit points.
  const d2 = new Float64Array(fit.length).fill(Infinity);
  let chosen = 0;
  let next = fit[Math.min(fit.length - 1, Math.floor(random() * fit.length))]!;
  for (;;) {
    for (let t = 0; t < d; t++) centroids[chosen * d + t] = points[next * d + t]!;
    chosen++;
    if (chosen === k) break;
    let total = 0;
    for (let i = 0; i < fit.length; i++) {
      const p = fit[i]!;
      let s = 0;
      for (let t = 0; t < d; t++) s += (points[p * d + t]! - centroids[(chosen - 1) * d + t]!) ** 2;
      d2[i] = Math.min(d2[i]!, s);
      total += d2[i]!;
    }
    if (total === 0) break;
    let target = random() * total;
    next = fit[fit.length - 1]!;
    for (let i = 0; i < fit.length; i++) {
      target -= d2[i]!;
      if (target < 0) {
        next = fit[i]!;
        break;
      }
    }
  }
  // Unfilled entries (fewer distinct points than k) repeat the first centroid: never nearer than it.
  for (let c = chosen; c < k; c++) for (let t = 0; t < d; t++) centroids[c * d + t] = centroids[t]!;

  const blockCount = metrics ? metrics.length : 1;
  // Per block and centroid: H c (d values) and cᵀ H c, so a distance is cᵀHc - 2 (Hc)·w (wᵀHw is the same for all c).
  const hc = new Float64Array(blockCount * k * d);
  const chc = new Float64Array(blockCount * k);
  const prepare = () => {
    for (let b = 0; b < blockCount; b++) {
      const m = metrics?.[b];
      for (let c = 0; c < k; c++) {
        let q = 0;
        for (let a = 0; a < d; a++) {
          let s = 0;
          if (m) for (let t = 0; t < d; t++) s += m[a * d + t]! * centroids[c * d + t]!;
          else s = centroids[c * d + a]!;
          hc[(b * k + c) * d + a] = s;
          q += s * centroids[c * d + a]!;
        }
        chc[b * k + c] = q;
      }
    }
  };
  const nearest = (p: number) => {
    const b = metrics ? blockOf(p) : 0;
    let best = 0;
    let bestScore = Infinity;
    for (let c = 0; c < k; c++) {
      let dot = 0;
      const base = (b * k + c) * d;
      for (let t = 0; t < d; t++) dot += hc[base + t]! * points[p * d + t]!;
      const score = chc[b * k + c]! - 2 * dot;
      if (score < bestScore) {
        bestScore = score;
        best = c;
      }
    }
    return best;
  };
  const members = new Int32Array(fit.length);
  for (let it = 0; it < iterations; it++) {
    prepare();
    let moved = it === 0;
    for (let i = 0; i < fit.length; i++) {
      const c = nearest(fit[i]!);
      if (c !== members[i]) moved = true;
      members[i] = c;
    }
    if (!moved) break;
    // Update: the (H-weighted) mean of each centroid's members; an empty one keeps its place.
    const weight = new Float64Array(k * d * (metrics ? d : 1));
    const rhs = new Float64Array(k * d);
    const counts = new Int32Array(k);
    for (let i = 0; i < fit.length; i++) {
      const p = fit[i]!;
      const c = members[i]!;
      counts[c]!++;
      const m = metrics?.[blockOf(p)];
      if (!m) {
        for (let t = 0; t < d; t++) rhs[c * d + t]! += points[p * d + t]!;
        continue;
      }
      for (let a = 0; a < d; a++) {
        let s = 0;
        for (let t = 0; t < d; t++) {
          s += m[a * d + t]! * points[p * d + t]!;
          weight[(c * d + a) * d + t]! += m[a * d + t]!;
        }
        rhs[c * d + a]! += s;
      }
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue;
      const x = metrics ? solveSymmetric(weight.subarray(c * d * d, (c + 1) * d * d), rhs.subarray(c * d, (c + 1) * d), d) : rhs.subarray(c * d, (c + 1) * d).map((v) => v / counts[c]!);
      if (x) centroids.set(x, c * d);
    }
  }
  // Points are assigned to the centroids as stored.
  const stored = Float32Array.from(centroids, round);
  centroids.set(stored);
  prepare();
  const assignment = new Uint8Array(count);
  for (let p = 0; p < count; p++) assignment[p] = nearest(p);
  return { centroids: stored, assignment };
}

/** The PQ encoding of weights whose layer the caller gives as `gemm` (WeightToEncode.gemm). */
export function pqEncoding(options: PqOptions): WeightEncoding {
  const d = options.subvector;
  const k = options.centroids;
  return {
    bits: Math.log2(k) / d,
    unsupported: (w) => pqUnsupported(w.gemm, options),
    encode(w) {
      const gemm = w.gemm!;
      const layout = pointLayout(gemm, d);
      const points = layout.gather(w.data, new Float32Array(w.data.length));
      const hessian = options.hessianFor?.(w.name, gemm);
      const metrics = metricBlocks(hessian, gemm, d);
      const { centroids, assignment } = pqKmeans(points, layout.count, d, k, options.seed, options.iterations, metrics, layout.blockOf, (x) => fromHalf(toHalf(x)));
      const chosen = new Float32Array(layout.count * d);
      for (let p = 0; p < layout.count; p++) chosen.set(centroids.subarray(assignment[p]! * d, assignment[p]! * d + d), p * d);
      const reconstructed = layout.scatter(chosen, new Float32Array(w.data.length));

      const { groups, K, N } = gemm;
      const blocks = K / d;
      const indexDims = layout.inputsContiguous ? [groups, N, blocks] : [groups, blocks, N];
      const container = indexContainer(Math.ceil(Math.log2(k)), w.opset);
      const bookName = w.fresh(`${w.name}_pq_codebook`);
      const gathered = w.fresh(`${w.name}_pq_subvectors`);
      const shapeName = w.fresh(`${w.name}_pq_shape`);
      const output = w.fresh(`${w.name}_pq`);
      const stored = indexTensors(w, "pq", assignment, indexDims, container);
      const longName = stored.output;
      const initializers = [makeTensor(bookName, DT.FLOAT16, [k, d], Uint16Array.from(centroids, toHalf)), ...stored.initializers];
      const nodes = [...stored.nodes];
      const halves = w.fresh(`${w.name}_pq_subvectors_fp16`);
      nodes.push(makeNode("Gather", [bookName, longName], [halves], w.fresh(`${w.name}_pq_gather`), { axis: 0 }));
      nodes.push(makeNode("Cast", [halves], [gathered], w.fresh(`${w.name}_pq_to_float`), { to: DT.FLOAT }));
      let flat = gathered;
      if (!layout.inputsContiguous) {
        // [G, blocks, N, d] -> [G, blocks, d, N]: the inputs of a block back onto the rows of a [K, N] weight.
        flat = w.fresh(`${w.name}_pq_rows`);
        nodes.push(makeNode("Transpose", [gathered], [flat], w.fresh(`${w.name}_pq_transpose`), { perm: [0, 1, 3, 2] }));
      }
      initializers.push(makeTensor(shapeName, DT.INT64, [w.dims.length], BigInt64Array.from(w.dims, BigInt)));
      nodes.push(makeNode("Reshape", [flat, shapeName], [output], w.fresh(`${w.name}_pq_reshape`)));
      const report: CodebookReport = {
        scope: "per-layer",
        centroids: k,
        codebooks: 1,
        indexBits: container,
        indexBytes: Math.ceil((layout.count * container) / 8),
        codebookBytes: k * d * 2,
        subvector: d,
      };
      return { initializers, nodes, output, error: quantizationError(w.data, reconstructed), scales: [], axis: w.slot.outAxis, codebook: report };
    },
  };
}
