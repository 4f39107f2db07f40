import { describe, expect, it } from "vitest";
import {
  channelLayout,
  dequantizePerChannel,
  quantizationError,
  quantizeWeightsPerChannel,
} from "../../../../worker/compress/quantize/weights";

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

  it("reports an exact reconstruction as infinite SQNR", () => {
    const w = Float32Array.from([0, 0, 0]);
    expect(quantizationError(w, w)).toEqual({ maxAbsError: 0, sqnrDb: Infinity });
  });
});
