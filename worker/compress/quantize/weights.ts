// Weight quantization math: per-channel symmetric integer quantization and the error statistics it reports.

/** Splits a tensor of `dims` around `axis`: outer x channels x inner elements. */
export function channelLayout(dims: readonly number[], axis: number): { outer: number; channels: number; inner: number } {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  return { outer, channels: dims[axis]!, inner };
}

export interface PerChannelQuantized {
  values: Int8Array;
  scales: Float32Array;
}

/**
 * Symmetric per-channel quantization to signed `bits` integers: scale_c = absmax_c / (2^(bits-1) - 1),
 * q = clamp(round(w / scale_c)). An all-zero channel gets scale 1 so that dequantization stays exact.
 */
export function quantizeWeightsPerChannel(
  data: Float32Array,
  dims: readonly number[],
  axis: number,
  bits = 8,
): PerChannelQuantized {
  const { outer, channels, inner } = channelLayout(dims, axis);
  const qmax = 2 ** (bits - 1) - 1;
  const absmax = new Float32Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      let m = absmax[c]!;
      for (let i = 0; i < inner; i++) {
        const a = Math.abs(data[base + i]!);
        if (a > m) m = a;
      }
      absmax[c] = m;
    }
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = absmax[c]! > 0 ? absmax[c]! / qmax : 1;
  const values = new Int8Array(data.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const inv = 1 / scales[c]!;
      for (let i = 0; i < inner; i++) {
        const q = Math.round(data[base + i]! * inv);
        values[base + i] = q > qmax ? qmax : q < -qmax ? -qmax : q;
      }
    }
  }
  return { values, scales };
}

export function dequantizePerChannel(q: PerChannelQuantized, dims: readonly number[], axis: number): Float32Array {
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
  const sqnrDb = noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
  return { maxAbsError, sqnrDb };
}
