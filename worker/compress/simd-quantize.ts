// Compression's SIMD quantizer (the wasm kernels of kernels/src/compress.c): where the compiled module comes from,
// and the per-channel quantizer driven over a bounded scratch instance. Pure: the module is handed in
// (worker/index.ts provides serve/wasm/builds.ts's at startup; test/support/compression-kernels.ts in Node tests).
// Where none was provided, weights.ts runs its scalar loops instead. The module and the scratch are per-isolate
// state (worker/isolate.ts, OWNED_STATE.compressionKernels).
import type { QuantizationStats } from "./quantize/stats";

type Ptr = number;

interface QpcExports {
  memory: WebAssembly.Memory;
  heap_base(): number;
  qpc_absmax_columns(rows: number, channels: number, X: Ptr, absmax: Ptr): void;
  qpc_absmax_blocks(first: number, count: number, channels: number, inner: number, X: Ptr, absmax: Ptr): void;
  qpc_scales(channels: number, qmax: number, absmax: Ptr, scales: Ptr, inv: Ptr): void;
  qpc_quantize_columns(rows: number, channels: number, X: Ptr, inv: Ptr, scales: Ptr, qmax: number, Q: Ptr, stats: Ptr): void;
  qpc_quantize_blocks(first: number, count: number, channels: number, inner: number, X: Ptr, inv: Ptr, scales: Ptr, qmax: number, Q: Ptr, stats: Ptr): void;
}

/** Float32 values copied into kernel memory per chunk: 1 MB, so the scratch stays near 1.3 MB for any tensor. */
const CHUNK_VALUES = 1 << 18;
/** An instance whose memory grew past this (a row or the channel arrays above a chunk) is dropped after its call. */
const KEEP_BYTES = 4 << 20;
const PAGE = 65536;

let provided: WebAssembly.Module | undefined;
let scratch: WebAssembly.Instance | undefined;

/** Hands compression the compiled kernels module (undefined to go back to the scalar code). */
export function provideCompressionKernels(module: WebAssembly.Module | undefined): void {
  if (module !== provided) scratch = undefined;
  provided = module;
}

/** The module compression quantizes with, if one was provided. */
export function compressionKernelModule(): WebAssembly.Module | undefined {
  return provided;
}

/** Result of the kernel quantizer: values and scales bit-identical to weights.ts's scalar loops. */
export interface KernelPerChannel {
  values: Int8Array;
  scales: Float32Array;
  stats: QuantizationStats;
}

/**
 * Symmetric per-channel quantization of `data` (float32 values, or their little-endian bytes) laid out as outer x channels x inner, or null without a module.
 * The tensor passes through kernel memory in chunks of whole rows (inner = 1) or whole blocks: absmax over every
 * chunk, then scales, then quantization chunk by chunk (a tensor that fits one chunk is copied in once).
 */
export function quantizePerChannelWithKernels(
  data: Float32Array | Uint8Array, outer: number, channels: number, inner: number, qmax: number,
): KernelPerChannel | null {
  if (!provided) return null;
  const instance = scratch ?? new WebAssembly.Instance(provided, {});
  const k = instance.exports as unknown as QpcExports;
  const columns = inner === 1;
  // A unit is a row of `channels` values (columns) or a block of `inner` values; chunks hold whole units.
  const unit = columns ? channels : inner;
  const units = columns ? outer : outer * channels;
  const perChunk = Math.max(1, Math.floor(CHUNK_VALUES / Math.max(unit, 1)));
  const chunkValues = Math.min(units, perChunk) * unit;

  const align = (n: number) => Math.ceil(n / 16) * 16;
  const absmax = align(k.heap_base());
  const scales = align(absmax + 4 * channels);
  const inv = align(scales + 4 * channels);
  const stats = align(inv + 8 * channels);
  const x = align(stats + 8 * 3);
  const q = align(x + 4 * chunkValues);
  const end = q + chunkValues;
  const have = k.memory.buffer.byteLength;
  if (end > have) k.memory.grow(Math.ceil((end - have) / PAGE));
  const mem = k.memory.buffer;
  new Float32Array(mem, absmax, channels).fill(0);
  new Float64Array(mem, stats, 3).fill(0);

  const source = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const target = new Uint8Array(mem, x, 4 * chunkValues);
  const copyIn = (first: number, count: number) =>
    target.set(source.subarray(first * unit * 4, (first + count) * unit * 4));
  for (let first = 0; first < units; first += perChunk) {
    const count = Math.min(perChunk, units - first);
    copyIn(first, count);
    if (columns) k.qpc_absmax_columns(count, channels, x, absmax);
    else k.qpc_absmax_blocks(first, count, channels, inner, x, absmax);
  }
  k.qpc_scales(channels, qmax, absmax, scales, inv);
  const values = new Int8Array(outer * channels * inner);
  const out = new Int8Array(mem, q, chunkValues);
  for (let first = 0; first < units; first += perChunk) {
    const count = Math.min(perChunk, units - first);
    if (first > 0 || count < units) copyIn(first, count); // one chunk: still in memory from the absmax pass
    if (columns) k.qpc_quantize_columns(count, channels, x, inv, scales, qmax, q, stats);
    else k.qpc_quantize_blocks(first, count, channels, inner, x, inv, scales, qmax, q, stats);
    values.set(count === perChunk ? out : out.subarray(0, count * unit), first * unit);
  }
  const result = {
    values,
    scales: new Float32Array(mem.slice(scales, scales + 4 * channels)),
    stats: { signal: new Float64Array(mem, stats, 3)[0]!, noise: new Float64Array(mem, stats, 3)[1]!, maxAbsError: new Float64Array(mem, stats, 3)[2]! },
  };
  // Wasm memory never shrinks: keep the scratch only while it is small.
  scratch = k.memory.buffer.byteLength <= KEEP_BYTES ? instance : undefined;
  return result;
}
