// AdaRound (Nagel et al. 2020, "Up or Down? Adaptive Rounding for Post-Training Quantization"): each weight rounds
// down or up on its encoding's grid, and which is learned per layer. A rectified sigmoid h(V) in [0, 1] relaxes the
// choice; Adam minimises the layer's output error on the calibration inputs, Σ over outputs of δᵀ H δ with δ the
// weight error and H the input Hessian GPTQ uses (so no activations are kept, and every step sees all the data),
// plus a regulariser Σ 1 - |2h - 1|^β whose β anneals from 20 to 2 so that every h ends at 0 or 1. Bounded in
// iterations, each costing one K x K by K x N product (on the kernels' fp32 GEMM where compression has the kernels
// module). An output whose learned rounding errs more than nearest rounding keeps nearest's. Levels land on the grid
// the encoding chose, so the stored form is unchanged.
import type { GemmLayout } from "../../onnx/operators";
import { packF32Panels, roundUp } from "../../serve/wasm/packing";
import { KernelInstance } from "../../serve/wasm/runtime";
import { compressionKernelModule } from "../simd-quantize";
import { nearestLevel, type AffineGrid } from "./affine";
import { Pieces, stepped, type SteppedRounding } from "./stepped";

export interface AdaroundOptions {
  /** Adam steps per layer. */
  iterations: number;
  /** The regulariser's weight (per weight, averaged) against the output error (scaled to 1 at nearest rounding). */
  regularization: number;
}

export const ADAROUND_DEFAULTS: AdaroundOptions = { iterations: 500, regularization: 10 };

/** The rectified sigmoid's stretch, as in the paper: h = clip(σ(V)(ZETA - GAMMA) + GAMMA, 0, 1). */
const ZETA = 1.1;
const GAMMA = -0.1;
/** Share of the steps before the regulariser starts (the error alone first). */
const WARMUP = 0.2;
const BETA_START = 20;
const BETA_END = 2;
/** Adam's step in V (logit) units: a weight can cross from one side to the other within a few dozen steps. */
const LEARNING_RATE = 0.1;
const ADAM_B1 = 0.9;
const ADAM_B2 = 0.999;
const ADAM_EPS = 1e-8;

/** Multiply-adds per step from which the product goes to the kernels. */
const KERNEL_PRODUCT_MIN = 1 << 20;

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** AdaRound as a LevelRounding for a weight seen as the operator table's matrix products (as gptqRounding takes it). */
export function adaroundRounding(hessians: Float64Array, layout: GemmLayout, options: AdaroundOptions = ADAROUND_DEFAULTS): SteppedRounding {
  const { groups, K: k, N: n } = layout;
  if (hessians.length !== groups * k * k) throw new RangeError(`${hessians.length} Hessian values for ${groups} group(s) of ${k} input features`);
  return stepped(function* (data: Float32Array, grid: AffineGrid) {
    const pieces = new Pieces();
    const levels = new Int32Array(data.length);
    for (let g = 0; g < groups; g++) {
      const base = g * layout.groupStride;
      const at = (f: number, o: number) => base + f * layout.kStride + o * layout.nStride;
      yield* roundGroup(data, grid, hessians.subarray(g * k * k, (g + 1) * k * k), k, n, at, options, levels, pieces);
    }
    return { levels, scales: grid.scales };
  });
}

/** G = H D for D feature-major [k, n] (rows of H that are zero, features never active, skipped). */
function hessianTimes(h: Float64Array, d: Float64Array, k: number, n: number, out: Float64Array): void {
  out.fill(0);
  for (let f = 0; f < k; f++) {
    const row = f * k;
    const gf = f * n;
    for (let j = 0; j < k; j++) {
      const c = h[row + j]!;
      if (c === 0) continue;
      const dj = j * n;
      for (let o = 0; o < n; o++) out[gf + o] = out[gf + o]! + c * d[dj + o]!;
    }
  }
}

/**
 * G = H D for D feature-major [k, n], computed each step: on the kernels' fp32 GEMM (H in kernel memory once, D packed
 * into its column panels per call) when compression has the kernels module, else by hessianTimes. float32 suffices
 * for the gradient; the final choice between learned and nearest levels is measured in float64.
 */
function hessianProduct(h: Float64Array, k: number, n: number): (d: Float64Array, out: Float64Array) => void {
  const module = compressionKernelModule();
  // Small products (a depthwise filter's 9 inputs) cost less in JS than a kernel instance does to set up.
  if (!module || k * k * n < KERNEL_PRODUCT_MIN) return (d, out) => hessianTimes(h, d, k, n, out);
  const kx = new KernelInstance(module);
  const a = kx.put(Float32Array.from(h));
  const panels = roundUp(n, 8) * k;
  const b = kx.alloc(panels * 4);
  const bias = kx.put(new Float32Array(roundUp(n, 8)));
  const c = kx.alloc(k * n * 4);
  const d32 = new Float32Array(k * n);
  return (d, out) => {
    d32.set(d);
    kx.f32(b, panels).set(packF32Panels({ K: k, N: n, data: d32, offset: 0, kStride: n, nStride: 1, colScale: null }));
    kx.k.f32_gemm_wasmsimd_4x8(k, k, n, a, k, b, bias, c, n, -Infinity, Infinity);
    out.set(kx.f32(c, k * n));
  };
}

/** Per output, δᵀ H δ from D and G = H D. */
function columnErrors(d: Float64Array, g: Float64Array, k: number, n: number): Float64Array {
  const e = new Float64Array(n);
  for (let f = 0; f < k; f++) for (let o = 0; o < n; o++) e[o] = e[o]! + d[f * n + o]! * g[f * n + o]!;
  return e;
}

function* roundGroup(
  data: Float32Array,
  grid: AffineGrid,
  hessian: Float64Array,
  k: number,
  n: number,
  at: (f: number, o: number) => number,
  options: AdaroundOptions,
  levels: Int32Array,
  pieces: Pieces,
): Generator<void, void, void> {
  const size = k * n;
  // Feature-major [k, n]: the element, its lower level, the level step, the error at h = 0 and its growth per unit h.
  const element = new Int32Array(size);
  const lower = new Int32Array(size);
  const step = new Int32Array(size);
  const offset = new Float64Array(size);
  const span = new Float64Array(size);
  const v = new Float64Array(size);
  const free = new Uint8Array(size);
  const nearest = new Int32Array(size);
  const nearDelta = new Float64Array(size);
  let freeCount = 0;
  for (let f = 0; f < k; f++)
    for (let o = 0; o < n; o++) {
      const i = f * n + o;
      const e = at(f, o);
      element[i] = e;
      const gi = grid.index[e]!;
      const s = grid.scales[gi]!;
      const zp = grid.zeroPoints ? grid.zeroPoints[gi]! : 0;
      const w = data[e]!;
      const q = w === 0 && !grid.signOnly ? zp : nearestLevel(w, grid, gi);
      nearest[i] = q;
      nearDelta[i] = (q - zp) * s - w;
      // A weight that is exactly zero (pruned) stays zero, as GPTQ keeps it.
      // A negative scale (INT2's grid flipped) rounds as a positive one does; a zero or non-finite one cannot.
      if ((w === 0 && !grid.signOnly) || !(Math.abs(s) > 0) || !Number.isFinite(s)) {
        lower[i] = q;
        offset[i] = nearDelta[i]!;
        continue;
      }
      let lo: number;
      let frac: number;
      if (grid.signOnly) {
        lo = -1;
        step[i] = 2;
        frac = Math.min(1, Math.max(0, (w / s + 1) / 2));
      } else {
        const x = w / s + zp;
        lo = Math.min(grid.qmax - 1, Math.max(grid.qmin, Math.floor(x)));
        step[i] = 1;
        frac = Math.min(1, Math.max(0, x - lo));
      }
      lower[i] = lo;
      offset[i] = (lo - zp) * s - w;
      span[i] = step[i]! * s;
      const p = (frac - GAMMA) / (ZETA - GAMMA); // in [1/12, 11/12]: V finite
      v[i] = Math.log(p / (1 - p));
      free[i] = 1;
      freeCount++;
    }
  const g = new Float64Array(size);
  hessianTimes(hessian, nearDelta, k, n, g);
  yield* pieces.spend(k * size);
  const nearErrors = columnErrors(nearDelta, g, k, n);
  const scale = nearErrors.reduce((a, b) => a + b, 0);
  if (freeCount > 0 && scale > 0) yield* optimise();
  // Each output keeps the learned rounding only where it errs less than nearest rounding.
  const chosen = new Int32Array(size);
  const delta = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    chosen[i] = free[i] ? lower[i]! + (v[i]! >= 0 ? step[i]! : 0) : lower[i]!;
    delta[i] = free[i] ? offset[i]! + (v[i]! >= 0 ? span[i]! : 0) : offset[i]!;
  }
  hessianTimes(hessian, delta, k, n, g);
  yield* pieces.spend(k * size);
  const learned = columnErrors(delta, g, k, n);
  for (let o = 0; o < n; o++) {
    const keep = learned[o]! <= nearErrors[o]!;
    for (let f = 0; f < k; f++) levels[element[f * n + o]!] = keep ? chosen[f * n + o]! : nearest[f * n + o]!;
  }

  function* optimise(): Generator<void, void, void> {
    const product = hessianProduct(hessian, k, n);
    const sigmoids = new Float64Array(size);
    const m = new Float64Array(size);
    const s2 = new Float64Array(size);
    const d = new Float64Array(size);
    const warm = Math.floor(options.iterations * WARMUP);
    const lambda = options.regularization / freeCount;
    for (let t = 0; t < options.iterations; t++) {
      for (let i = 0; i < size; i++) {
        if (!free[i]) {
          d[i] = offset[i]!;
          continue;
        }
        const sg = sigmoid(v[i]!);
        sigmoids[i] = sg;
        d[i] = offset[i]! + span[i]! * Math.min(1, Math.max(0, sg * (ZETA - GAMMA) + GAMMA));
      }
      product(d, g);
      const annealing = t >= warm;
      const beta = annealing ? BETA_START + ((BETA_END - BETA_START) * (t - warm)) / Math.max(1, options.iterations - warm) : 0;
      const b1t = 1 - ADAM_B1 ** (t + 1);
      const b2t = 1 - ADAM_B2 ** (t + 1);
      for (let i = 0; i < size; i++) {
        if (!free[i]) continue;
        const sg = sigmoids[i]!;
        const raw = sg * (ZETA - GAMMA) + GAMMA;
        if (raw <= 0 || raw >= 1) {
          // Clipped: the error no longer moves with V, but Adam's momentum carries on as in the paper.
          m[i] = ADAM_B1 * m[i]!;
          s2[i] = ADAM_B2 * s2[i]!;
          v[i] = v[i]! - (LEARNING_RATE * (m[i]! / b1t)) / (Math.sqrt(s2[i]! / b2t) + ADAM_EPS);
          continue;
        }
        let dh = (2 * g[i]! * span[i]!) / scale;
        if (annealing) {
          const c = 2 * raw - 1;
          dh -= lambda * beta * 2 * Math.sign(c) * Math.abs(c) ** (beta - 1);
        }
        const grad = dh * sg * (1 - sg) * (ZETA - GAMMA);
        m[i] = ADAM_B1 * m[i]! + (1 - ADAM_B1) * grad;
        s2[i] = ADAM_B2 * s2[i]! + (1 - ADAM_B2) * grad * grad;
        v[i] = v[i]! - (LEARNING_RATE * (m[i]! / b1t)) / (Math.sqrt(s2[i]! / b2t) + ADAM_EPS);
      }
      // A step is the product (counted as JS's, an upper bound where the kernels take it) and a few passes over V.
      yield* pieces.spend(k * size + 8 * size);
    }
  }
}
