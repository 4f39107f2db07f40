// How much pruning moved a layer's output: the relative L2 change ||(W' - W) x|| / ||W x|| of the layer's linear
// map on a few seeded probe inputs, so that a layer pruned into uselessness shows up in the report.
import { channelLayout } from "../../onnx/tensor";

/** Probe vectors per layer: enough to be stable, few enough to cost a handful of passes over the weights. */
const PROBES = 4;
const PROBE_SEED = 0x5eed;

/** Uniform in [-1, 1), from mulberry32: the same probes on every run and in every runtime. */
function probeInputs(length: number): Float64Array {
  let state = PROBE_SEED >>> 0;
  const x = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    x[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return x;
}

/**
 * The relative change of the output of the weight seen as a linear map from every axis but `outAxis` (MatMul/Gemm:
 * the input features; Conv: one input patch) to `outAxis`, summed over the probes. 0 for a weight that was all
 * zeros already (its output cannot move).
 */
export function outputChange(before: Float32Array, after: Float32Array, dims: readonly number[], outAxis: number): number {
  const { outer, channels: size, inner } = channelLayout(dims, outAxis);
  const fanIn = outer * inner;
  const x = probeInputs(PROBES * fanIn);
  const y = new Float64Array(PROBES * size);
  const d = new Float64Array(PROBES * size);
  for (let a = 0; a < outer; a++) {
    for (let o = 0; o < size; o++) {
      const row = (a * size + o) * inner;
      for (let b = 0; b < inner; b++) {
        const w = before[row + b]!;
        const dw = after[row + b]! - w;
        const j = a * inner + b;
        for (let p = 0; p < PROBES; p++) {
          const xv = x[p * fanIn + j]!;
          const k = p * size + o;
          y[k] = y[k]! + w * xv;
          if (dw !== 0) d[k] = d[k]! + dw * xv;
        }
      }
    }
  }
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) {
    num += d[i]! * d[i]!;
    den += y[i]! * y[i]!;
  }
  return den > 0 ? Math.sqrt(num / den) : 0;
}
