// The wasm per-channel quantizer against the scalar loops it replaces: values and scales bit for bit, the error
// statistics to rounding (summed in another order), on both layouts, at 8 and 4 bits, across chunk boundaries.
import { afterEach, describe, expect, it } from "vitest";
import { compressionKernelModule, provideCompressionKernels } from "@worker/compress/simd-quantize";
import { quantizeWeightsPerChannel, quantizeWeightsPerChannelScalar } from "@worker/compress/quantize/weights";
import { channelLayout } from "@worker/onnx/tensor";
import { plainKernelModule, uniform } from "@test/support/kernels";

const CHUNK_VALUES = 1 << 18; // compress/simd-quantize.ts moves tensors through kernel memory in chunks of this many values

function expectSameQuantization(data: Float32Array, dims: number[], axis: number, bits: number): void {
  const kernel = quantizeWeightsPerChannel(data, dims, axis, bits);
  provideCompressionKernels(undefined);
  const reference = quantizeWeightsPerChannelScalar(data, dims, axis, bits);
  provideCompressionKernels(plainKernelModule);
  const where = `dims [${dims}] axis ${axis} bits ${bits}`;
  expect(kernel.scales.length, where).toBe(reference.scales.length);
  // Bit patterns, so that -0 and NaN would count too.
  expect(Buffer.from(kernel.scales.buffer, kernel.scales.byteOffset, kernel.scales.byteLength).equals(Buffer.from(reference.scales.buffer)), where).toBe(true);
  const firstDiff = kernel.values.findIndex((v, i) => v !== reference.values[i]);
  expect(firstDiff === -1 ? null : { at: firstDiff, data: data[firstDiff], kernel: kernel.values[firstDiff], reference: reference.values[firstDiff] }, where).toBeNull();
  expect(kernel.values.length, where).toBe(reference.values.length);
  expect(kernel.error.maxAbsError, where).toBe(reference.error.maxAbsError);
  if (Number.isFinite(reference.error.sqnrDb)) expect(Math.abs(kernel.error.sqnrDb - reference.error.sqnrDb), where).toBeLessThanOrEqual(1e-9 * Math.abs(reference.error.sqnrDb));
  else expect(kernel.error.sqnrDb, where).toBe(reference.error.sqnrDb);
}

describe("per-channel quantization on the wasm kernel", () => {
  afterEach(() => provideCompressionKernels(plainKernelModule));

  it("is what the unit tests quantize with", () => {
    expect(compressionKernelModule()).toBe(plainKernelModule);
  });

  it("gives the scalar loops' values and scales on random data, channels last or first, odd sizes, 8 and 4 bits", () => {
    const shapes: [number[], number][] = [
      [[1, 1], 1], [[5, 3], 1], [[7, 13], 1], [[33, 17], 1], [[17, 33], 0], [[64, 10], 1], [[10, 64], 0],
      [[6, 4, 3, 3], 0], [[3, 5, 7], 1], [[2, 9, 1, 1], 0], [[16, 1, 5, 5], 0], [[4, 6, 2], 2],
    ];
    for (const [dims, axis] of shapes) {
      const n = dims.reduce((a, b) => a * b, 1);
      for (const bits of [8, 4]) expectSameQuantization(uniform(n, n + bits, 1 + (n % 5)), dims, axis, bits);
    }
  });

  it("rounds exact halves up as Math.round does (and -x.5 toward zero), and clamps, in SIMD lanes and tails", () => {
    // Channels 0-3 hold qmax, so their scale is exactly 1 and w * inv is w: every .5 is a tie. 9 channels: the
    // first 8 go through the kernel's 4-wide lanes, the last through its scalar tail.
    for (const [bits, qmax] of [[8, 127], [4, 7]] as const) {
      const ties = [qmax, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, qmax - 0.5, -(qmax - 0.5), 0.49999997, -0.49999997, 0, -0, 3.5];
      const rows = ties.length;
      const channels = 9;
      const value = (r: number, c: number) => (c < 4 ? (c % 2 ? -ties[r]! : ties[r]!) : c === 8 ? ties[r]! : (ties[r]! * (c + 1)) / 7);
      const columns = Float32Array.from({ length: rows * channels }, (_, i) => value(Math.floor(i / channels), i % channels));
      const blocks = Float32Array.from({ length: rows * channels }, (_, i) => value(i % rows, Math.floor(i / rows)));
      expectSameQuantization(columns, [rows, channels], 1, bits);
      expectSameQuantization(blocks, [channels, rows], 0, bits);
      const q = quantizeWeightsPerChannel(columns, [rows, channels], 1, bits);
      for (const c of [0, 1, 8]) {
        expect(ties.map((_, r) => q.values[r * channels + c]), `channel ${c}`).toEqual(ties.map((_, r) => Math.round(value(r, c)) | 0));
      }
      const b = quantizeWeightsPerChannel(blocks, [channels, rows], 0, bits);
      expect(Array.from(b.values.subarray(0, rows))).toEqual(ties.map((t) => Math.round(t) | 0));
    }
  });

  it("gives all-zero channels scale 1, and handles NaN, infinities and scales that underflow like the scalar loops", () => {
    const data = uniform(8 * 6, 3, 2);
    for (let r = 0; r < 8; r++) data[r * 6 + 2] = 0; // channel 2 all zero
    data[6 + 4] = NaN;
    data[12 + 5] = Infinity;
    data[18 + 5] = -Infinity;
    for (let r = 0; r < 8; r++) data[r * 6 + 1] = r === 3 ? 1e-45 : 0; // absmax / 127 underflows to a zero scale
    expectSameQuantization(data, [8, 6], 1, 8);
    expectSameQuantization(data, [6, 8], 0, 8);
    expectSameQuantization(data, [2, 6, 4], 1, 4);
    expect(quantizeWeightsPerChannel(data, [8, 6], 1).scales[2]).toBe(1);
  });

  it("gives the same bytes when a tensor spans several chunks of kernel memory, either layout", () => {
    const rows = Math.ceil((2.5 * CHUNK_VALUES) / 1000);
    const data = uniform(rows * 1000, 9, 0.3);
    expectSameQuantization(data, [rows, 1000], 1, 8); // rows of 1000 channels, chunked by rows
    expectSameQuantization(data, [rows, 1000], 0, 8); // blocks of 1000, chunked by blocks
    expectSameQuantization(data, [5, rows, 200], 1, 8); // outer > 1: a chunk's blocks start mid-way through the channels
    const wide = uniform(2 * (CHUNK_VALUES + 3), 10, 1);
    expectSameQuantization(wide, [2, CHUNK_VALUES + 3], 1, 8); // one row is more than a chunk
  });

  it("reads float32 little-endian bytes at any offset (a raw_data view) as it reads the Float32Array", () => {
    const data = uniform(37 * 11, 12, 1);
    const bytes = new Uint8Array(data.byteLength + 3);
    bytes.set(new Uint8Array(data.buffer), 3);
    const view = bytes.subarray(3);
    const fromBytes = quantizeWeightsPerChannel(view, [37, 11], 1);
    const fromFloats = quantizeWeightsPerChannel(data, [37, 11], 1);
    expect(fromBytes.values).toEqual(fromFloats.values);
    expect(fromBytes.scales).toEqual(fromFloats.scales);
    expect(fromBytes.error).toEqual(fromFloats.error);
    expect(channelLayout([37, 11], 1).channels).toBe(11);
  });

  it("rejects data whose size does not match the dims", () => {
    expect(() => quantizeWeightsPerChannel(new Float32Array(10), [3, 3], 1)).toThrow(RangeError);
  });
});
