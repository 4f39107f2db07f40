// Weight quantization math: per-channel symmetric integer quantization and the error statistics it reports.
import { channelLayout } from "../../onnx/tensor";
import { quantizePerChannelWithKernels } from "../simd-quantize";
import type { QuantizationStats } from "./stats";

export interface PerChannelQuantized {
  values: Int8Array;
  scales: Float32Array;
  /** Error of the reconstruction values x scale (as float32), measured in the quantizing pass. */
  error: QuantizationError;
}

export type { QuantizationStats };

/**
 * Symmetric per-channel quantization to signed `bits` integers: scale_c = absmax_c / (2^(bits-1) - 1),
 * q = clamp(round(w / scale_c)). An all-zero channel gets scale 1 so that dequantization stays exact.
 * `data` is the float32 values, or their little-endian bytes (a raw_data view, maybe unaligned).
 * Runs on the wasm kernel (kernels/src/compress.c, bit-identical values and scales) when compression was handed
 * the kernels module (compress/simd-quantize.ts), on the scalar loops below otherwise.
 */
export function quantizeWeightsPerChannel(
  data: Float32Array | Uint8Array,
  dims: readonly number[],
  axis: number,
  bits = 8,
): PerChannelQuantized {
  const { outer, channels, inner } = channelLayout(dims, axis);
  if (data.byteLength !== 4 * outer * channels * inner) throw new RangeError(`${data.byteLength} bytes for float32 dims [${dims}]`);
  const q = quantizePerChannelWithKernels(data, outer, channels, inner, 2 ** (bits - 1) - 1);
  if (!q) return quantizeWeightsPerChannelScalar(data instanceof Float32Array ? data : alignedFloat32(data), dims, axis, bits);
  return { values: q.values, scales: q.scales, error: errorStats(q.stats.signal, q.stats.noise, q.stats.maxAbsError) };
}

/**
 * The scalar reference of quantizeWeightsPerChannel (and its path where no kernels module is available).
 * Two passes over the data (absmax, then quantize + error statistics); no reconstructed copy is materialised.
 */
export function quantizeWeightsPerChannelScalar(
  data: Float32Array,
  dims: readonly number[],
  axis: number,
  bits = 8,
): PerChannelQuantized {
  const { outer, channels, inner } = channelLayout(dims, axis);
  const qmax = 2 ** (bits - 1) - 1;
  const absmax = new Float64Array(channels);
  if (inner === 1) absmaxOfColumns(data, outer, channels, absmax);
  else absmaxOfBlocks(data, outer, channels, inner, absmax);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = absmax[c]! > 0 ? absmax[c]! / qmax : 1;
  // Reciprocal of the float32 scale, in double precision, as round(w / scale_c) has always been computed.
  const inv = new Float64Array(channels);
  for (let c = 0; c < channels; c++) inv[c] = 1 / scales[c]!;
  const values = new Int8Array(data.length);
  const stats = new Float64Array(3); // signal, noise, max |error|
  if (inner === 1) quantizeColumns(data, outer, channels, inv, scales, qmax, values, stats);
  else quantizeBlocks(data, outer, channels, inner, inv, scales, qmax, values, stats);
  return { values, scales, error: errorStats(stats[0]!, stats[1]!, stats[2]!) };
}

function alignedFloat32(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

// The loops below live in small functions of their own so that V8 optimizes each once and keeps it (one large
// function deoptimizes on every call when it leaves an on-stack-replaced loop).

/** Channels are the fastest axis (MatMul, Gemm without transB): sweep rows of `channels` values. */
function absmaxOfColumns(data: Float32Array, rows: number, channels: number, absmax: Float64Array): void {
  for (let base = 0, end = rows * channels; base < end; base += channels) {
    for (let c = 0; c < channels; c++) {
      const a = Math.abs(data[base + c]!);
      if (a > absmax[c]!) absmax[c] = a;
    }
  }
}

function absmaxOfBlocks(data: Float32Array, outer: number, channels: number, inner: number, absmax: Float64Array): void {
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      let m = absmax[c]!;
      for (let i = base, end = base + inner; i < end; i++) {
        const a = Math.abs(data[i]!);
        if (a > m) m = a;
      }
      absmax[c] = m;
    }
  }
}

function quantizeColumns(
  data: Float32Array, rows: number, channels: number, inv: Float64Array, scales: Float32Array, qmax: number,
  values: Int8Array, stats: Float64Array,
): void {
  let signal = 0;
  let noise = 0;
  let maxAbsError = 0;
  for (let base = 0, end = rows * channels; base < end; base += channels) {
    for (let c = 0; c < channels; c++) {
      const w = data[base + c]!;
      const r = Math.round(w * inv[c]!);
      const q = r > qmax ? qmax : r < -qmax ? -qmax : r;
      values[base + c] = q;
      const e = w - Math.fround(q * scales[c]!);
      signal += w * w;
      noise += e * e;
      const a = Math.abs(e);
      if (a > maxAbsError) maxAbsError = a;
    }
  }
  stats[0] = signal;
  stats[1] = noise;
  stats[2] = maxAbsError;
}

function quantizeBlocks(
  data: Float32Array, outer: number, channels: number, inner: number, inv: Float64Array, scales: Float32Array,
  qmax: number, values: Int8Array, stats: Float64Array,
): void {
  let signal = 0;
  let noise = 0;
  let maxAbsError = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const k = inv[c]!;
      const s = scales[c]!;
      for (let i = base, end = base + inner; i < end; i++) {
        const w = data[i]!;
        const r = Math.round(w * k);
        const q = r > qmax ? qmax : r < -qmax ? -qmax : r;
        values[i] = q;
        const e = w - Math.fround(q * s);
        signal += w * w;
        noise += e * e;
        const a = Math.abs(e);
        if (a > maxAbsError) maxAbsError = a;
      }
    }
  }
  stats[0] = signal;
  stats[1] = noise;
  stats[2] = maxAbsError;
}

/** The float32 reconstruction (for tests and callers that need the values; the report does not). */
export function dequantizePerChannel(q: Pick<PerChannelQuantized, "values" | "scales">, dims: readonly number[], axis: number): Float32Array {
  const { outer, channels, inner } = channelLayout(dims, axis);
  const out = new Float32Array(q.values.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const s = q.scales[c]!;
      for (let i = 0; i < inner; i++) out[base + i] = q.values[base + i]! * s;
    }
  }
  return out;
}

export interface QuantizationError {
  maxAbsError: number;
  /** Signal-to-quantization-noise ratio in dB; Infinity when the reconstruction is exact. */
  sqnrDb: number;
}

export function quantizationError(original: Float32Array, reconstructed: Float32Array): QuantizationError {
  let signal = 0;
  let noise = 0;
  let maxAbsError = 0;
  for (let i = 0; i < original.length; i++) {
    const w = original[i]!;
    const e = w - reconstructed[i]!;
    signal += w * w;
    noise += e * e;
    const a = Math.abs(e);
    if (a > maxAbsError) maxAbsError = a;
  }
  return errorStats(signal, noise, maxAbsError);
}

function errorStats(signal: number, noise: number, maxAbsError: number): QuantizationError {
  return { maxAbsError, sqnrDb: noise === 0 ? Infinity : 10 * Math.log10(signal / noise) };
}
