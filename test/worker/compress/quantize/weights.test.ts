import { describe, expect, it } from "vitest";
import { channelLayout } from "@worker/onnx/tensor";
import {
  dequantizePerChannel,
  quantizationError,
  quantizeWeightsPerChannel,
  quantizeWeightsPerChannelScalar,
} from "@worker/compress/quantize/weights";

describe("quantizeWeightsPerChannel", () => {
  it("scales each output channel by its own absmax / 127", () => {
    // [K=2, N=3], channels along axis 1: columns (1,-4), (2, 0.5), (0, 0)
    const w = Float32Array.from([1, 2, 0, -4, 0.5, 0]);
    const q = quantizeWeightsPerChannel(w, [2, 3], 1);
    expect(Array.from(q.scales)).toEqual([4 / 127, 2 / 127, 1].map(Math.fround));
    expect(Array.from(q.values)).toEqual([Math.round(127 / 4), 127, 0, -127, Math.round(0.5 / (2 / 127)), 0]);
  });

  it("handles channels on axis 0 of a 4-D conv weight", () => {
    expect(channelLayout([8, 3, 3, 3], 0)).toEqual({ outer: 1, channels: 8, inner: 27 });
    expect(channelLayout([2, 4, 5], 1)).toEqual({ outer: 2, channels: 4, inner: 5 });
  });

  it("reconstructs within half a step per channel", () => {
    const w = Float32Array.from({ length: 64 * 10 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 10)));
    const q = quantizeWeightsPerChannel(w, [64, 10], 1);
    const r = dequantizePerChannel(q, [64, 10], 1);
    for (let i = 0; i < w.length; i++) expect(Math.abs(w[i]! - r[i]!)).toBeLessThanOrEqual(q.scales[i % 10]! / 2 + 1e-7);
    const err = quantizationError(w, r);
    expect(err.sqnrDb).toBeGreaterThan(35);
  });

  // The unit tests quantize on the wasm kernel (test/support/compression-kernels.ts); the scalar loops are its
  // reference. The kernel sums the error in another order: the same SQNR up to rounding, the same max error.
  it.each([
    ["the kernel", quantizeWeightsPerChannel, 1e-12],
    ["the scalar loops", quantizeWeightsPerChannelScalar, 0],
  ] as const)("measures the same error in its quantizing pass as a dequantize-then-compare reference, on either layout (%s)", (_, quantize, tolerance) => {
    for (const [dims, axis] of [[[33, 17], 1], [[17, 33], 0], [[6, 4, 3, 3], 0], [[3, 5, 7], 1]] as const) {
      const n = dims.reduce((a, b) => a * b, 1);
      const w = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 1.7) * (1 + (i % 7)) * (i % 11 === 0 ? 0 : 1));
      const q = quantize(w, dims, axis);
      // Reference: the plain formula per element, independent of the channel loops.
      const { outer, channels, inner } = channelLayout(dims, axis);
      for (let i = 0; i < n; i++) {
        const c = Math.floor(i / inner) % channels;
        expect(q.values[i]).toBe(Math.max(-127, Math.min(127, Math.round(w[i]! / q.scales[c]!))) | 0);
      }
      expect(outer * channels * inner).toBe(n);
      const reference = quantizationError(w, dequantizePerChannel(q, dims, axis));
      expect(q.error.maxAbsError).toBe(reference.maxAbsError);
      expect(Math.abs(q.error.sqnrDb - reference.sqnrDb)).toBeLessThanOrEqual(tolerance * reference.sqnrDb);
    }
  });

  it("reports an exact reconstruction as infinite SQNR", () => {
    const w = Float32Array.from([0, 0, 0]);
    expect(quantizationError(w, w)).toEqual({ maxAbsError: 0, sqnrDb: Infinity });
  });
});
