// The values the kernel engine handles: constants (decoded initializers and what folds from them at load, kept
// quantized when a DequantizeLinear produced them) and activations (float32 tensors in kernel memory).
import type { TensorProto } from "onnx-buf";
import { DT, dtypeName } from "../../onnx/dtype";
import { halfValues, unpackSubByte } from "../../onnx/encoding";
import { elementCount, isExternal, tensorDims } from "../../onnx/tensor";
import { skeletonRange } from "../../onnx/skeleton";
import type { KernelInstance, Ptr } from "../wasm/runtime";
import { Arena, type ArenaPlan, type Block } from "./arena";
import { LimitError, MAX_TENSOR_ELEMENTS } from "../../onnx/limits";

/** A graph construct the engine does not run: the whole model then goes to onnxruntime-web. */
export class Uncovered extends Error {
  override name = "Uncovered";
}

export type ConstData = Float32Array | Int32Array | Int8Array | Uint8Array | BigInt64Array | Float64Array;

/** Integer weights and their dequantization, as a DequantizeLinear of constants describes them (zero point removed). */
export interface QuantizedForm {
  /** Integer levels (q - zero_point), same layout as the dequantized tensor. */
  q: Int8Array;
  bits: 8 | 4 | 2;
  /** Scales: one (axis -1), one per index of `axis`, or one per block of `blockSize` along `axis`. */
  scale: Float32Array;
  axis: number;
  blockSize: number;
}

export interface Constant {
  dims: number[];
  dtype: number;
  data: ConstData;
  quant?: QuantizedForm;
  /** Float values shared through a codebook: element i is table[index[i]] (a Gather of constants produced it). */
  shared?: SharedForm;
}

/** A codebook weight (k-means weight sharing) as its Gather of constants describes it. */
export interface SharedForm {
  index: Uint8Array;
  table: Float32Array;
}

/** A float32 tensor in the kernel instance's memory. */
export interface Activation {
  dims: number[];
  ptr: Ptr;
}

export const sizeOf = (dims: readonly number[]) => elementCount(dims);

/** raw_data is little-endian: where the host is too, float32 data is a plain byte copy. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function rawView(t: TensorProto): DataView {
  return new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
}

/** Decodes an initializer (raw_data or typed fields) of the types the engine reads; others are Uncovered. */
export function readConstant(t: TensorProto): Constant {
  if (isExternal(t)) throw new Uncovered(`initializer '${t.name}' uses external data`);
  const dims = tensorDims(t);
  const n = elementCount(dims);
  const raw = t.rawData.byteLength > 0 ? rawView(t) : null;
  switch (t.dataType) {
    case DT.FLOAT: {
      const data = new Float32Array(n);
      if (raw && LITTLE_ENDIAN && t.rawData.byteLength >= n * 4) new Uint8Array(data.buffer).set(t.rawData.subarray(0, n * 4));
      else if (raw) for (let i = 0; i < n; i++) data[i] = raw.getFloat32(i * 4, true);
      else data.set(t.floatData);
      return { dims, dtype: DT.FLOAT, data };
    }
    case DT.FLOAT16: {
      const data = new Float32Array(n);
      const table = halfValues();
      if (raw) for (let i = 0; i < n; i++) data[i] = table[raw.getUint16(i * 2, true)]!;
      else for (let i = 0; i < n; i++) data[i] = table[t.int32Data[i]! & 0xffff]!; // the bit pattern in the low 16 bits
      return { dims, dtype: DT.FLOAT, data };
    }
    case DT.DOUBLE: {
      const data = new Float64Array(n);
      if (raw) for (let i = 0; i < n; i++) data[i] = raw.getFloat64(i * 8, true);
      else data.set(t.doubleData);
      return { dims, dtype: DT.DOUBLE, data };
    }
    case DT.INT64: {
      const data = new BigInt64Array(n);
      if (raw) for (let i = 0; i < n; i++) data[i] = raw.getBigInt64(i * 8, true);
      else t.int64Data.forEach((v, i) => (data[i] = BigInt(v)));
      return { dims, dtype: DT.INT64, data };
    }
    case DT.INT32: {
      const data = new Int32Array(n);
      if (raw) for (let i = 0; i < n; i++) data[i] = raw.getInt32(i * 4, true);
      else data.set(t.int32Data);
      return { dims, dtype: DT.INT32, data };
    }
    case DT.INT8:
    case DT.UINT8:
    case DT.BOOL: {
      const data = t.dataType === DT.INT8 ? new Int8Array(n) : new Uint8Array(n); // BOOL is one byte per value
      if (raw) data.set(t.dataType === DT.INT8 ? new Int8Array(t.rawData.buffer, t.rawData.byteOffset, n) : t.rawData.subarray(0, n));
      else data.set(t.int32Data);
      return { dims, dtype: t.dataType, data };
    }
    case DT.INT4:
    case DT.UINT4:
    case DT.INT2:
    case DT.UINT2: {
      // Widened to one byte each; int32_data holds the packed bytes one per entry (its low 8 bits).
      const width = t.dataType === DT.INT4 || t.dataType === DT.UINT4 ? 4 : 2;
      const signed = t.dataType === DT.INT4 || t.dataType === DT.INT2;
      const data = signed ? new Int8Array(n) : new Uint8Array(n);
      const bytes = raw ? t.rawData : Uint8Array.from(t.int32Data);
      if (raw && bytes.byteLength < Math.ceil((n * width) / 8)) {
        throw new RangeError(`initializer '${t.name}' raw_data holds ${bytes.byteLength} bytes, too few for ${n} ${dtypeName(t.dataType)} values`);
      }
      return { dims, dtype: t.dataType, data: unpackSubByte(bytes, n, width, data) };
    }
    default:
      throw new Uncovered(`initializer '${t.name}' has element type ${dtypeName(t.dataType)}`);
  }
}

/** A skeleton weight read before its bytes were fetched: the ranged load's window did not reach it. */
export class WeightNotLoaded extends Error {
  override name = "WeightNotLoaded";
}

/** The bytes of a skeleton tensor (one whose data lies in the model's object, onnx/skeleton.ts), fetched by range. */
export type FetchedBytes = (t: TensorProto) => Uint8Array;

/**
 * An initializer as a constant whose values are decoded on first use (a load decodes each weight when its node is
 * planned, not all of them first). Its element type is what readConstant gives (float16 widens to float32). A skeleton
 * tensor's bytes come from `fetched`, when a load reads the model by range.
 */
export function lazyConstant(t: TensorProto, fetched?: FetchedBytes): Constant {
  const ranged = fetched && skeletonRange(t) !== undefined;
  if (isExternal(t) && !ranged) throw new Uncovered(`initializer '${t.name}' uses external data`);
  const c = { dims: tensorDims(t), dtype: t.dataType === DT.FLOAT16 ? DT.FLOAT : t.dataType } as Constant;
  let source: TensorProto | null = t;
  Object.defineProperty(c, "data", {
    configurable: true,
    enumerable: true,
    get() {
      const inline = ranged ? ({ ...source!, rawData: fetched(source!), externalData: [], dataLocation: 0 } as TensorProto) : source!;
      const data = readConstant(inline).data;
      source = null;
      Object.defineProperty(c, "data", { value: data, configurable: true, enumerable: true, writable: false });
      return data;
    },
  });
  return c;
}

/** Decodes a lazy constant now (so that it no longer holds the bytes it was decoded from). */
export function materialize(c: Constant): void {
  void c.data;
}

/**
 * Drops a constant's values once every node that reads it has packed what it needs (the session keeps the packed
 * copy in kernel memory): reading them afterwards is a bug in the planner's release rule, so it throws rather than
 * seeing empty data.
 */
export function releaseConstant(c: Constant, name: string): void {
  const gone = () => {
    throw new Error(`constant '${name}' was read after its values were released`);
  };
  Object.defineProperty(c, "data", { get: gone, configurable: true, enumerable: false });
  if (c.quant) for (const key of ["q", "scale"]) Object.defineProperty(c.quant, key, { get: gone, configurable: true, enumerable: false });
  if (c.shared) c.shared = { get index(): Uint8Array { return gone(); }, get table(): Float32Array { return gone(); } };
}

/** Bytes of a constant's values held in JS (its packed or placed copy in kernel memory is counted there). */
export function heldBytes(c: Constant): number {
  const value = (o: object, key: string) => {
    const d = Object.getOwnPropertyDescriptor(o, key);
    return d && !d.get ? (d.value as { byteLength: number }).byteLength : 0; // a getter: released, or not decoded yet
  };
  return value(c, "data") + (c.quant ? value(c.quant, "q") + value(c.quant, "scale") : 0) + (c.shared ? value(c.shared, "index") + value(c.shared, "table") : 0);
}

/** The float32 values of a constant (dequantized when quantized). */
export function floatData(c: Constant): Float32Array {
  if (c.data instanceof Float32Array) return c.data;
  if (c.data instanceof BigInt64Array) return Float32Array.from(c.data, Number);
  return Float32Array.from(c.data as ArrayLike<number>);
}

/** Integer values (shapes, axes, pads) of an int64/int32 constant. */
export function intData(c: Constant): number[] {
  if (c.data instanceof BigInt64Array) return Array.from(c.data, Number);
  return Array.from(c.data as ArrayLike<number>);
}

/** What decides when a value's memory is free again: the last node that reads it, in the planner's node order. */
export interface Liveness {
  /** Per value: the position (in the planner's node order) of the last node that reads it; absent when none does. */
  readonly lastRead: ReadonlyMap<string, number>;
  /** Values kept to the end of the run whatever reads them (the graph's outputs). */
  readonly kept: ReadonlySet<string>;
}

/**
 * Per-run state: the activations by name, in the run's arena (engine/arena.ts: `plan` replays the offsets a trace
 * chose for these input shapes; without one, this run is the trace). With `liveness`, a value's memory is freed after
 * the last node that reads it and a step's scratch when the step ends; without, values live to the end of the run.
 * Every activation is checked before it is allocated: whole non-negative dims, at most MAX_TENSOR_ELEMENTS, and the
 * arena within `budget` (MAX_RUN_ARENA_BYTES unless the request says less). `close` ends the run (its arena is free
 * again).
 */
export class RunState {
  readonly values = new Map<string, Activation>();
  readonly arena: Arena;
  /** Named values whose memory is live, and the block each holds (undefined outside the arena: a placed constant). */
  private readonly held = new Map<string, Block | undefined>();
  /** The position of the step perform is running. */
  private at = -1;

  constructor(
    readonly kx: KernelInstance,
    private readonly liveness: Liveness | null = null,
    plan: ArenaPlan | null = null,
    budget?: number,
  ) {
    const arena = new Arena(kx, plan, budget);
    kx.attach(arena); // before the run's first allocation
    this.arena = arena;
  }

  alloc(dims: number[], name?: string): Activation {
    if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new RangeError(`activation${name ? ` '${name}'` : ""} would have dims [${dims}]`);
    const n = sizeOf(dims);
    if (n > MAX_TENSOR_ELEMENTS) {
      throw new LimitError(`tensor${name ? ` '${name}'` : ""} would hold ${n} elements (dims [${dims}]), over the limit of ${MAX_TENSOR_ELEMENTS} (MAX_TENSOR_ELEMENTS)`);
    }
    return { dims, ptr: this.kx.alloc(n * 4) };
  }

  /** The graph inputs' values (float32), each as an activation of its dims. */
  feed(feeds: Record<string, Float32Array>, dims: Record<string, readonly number[]>): void {
    for (const [name, data] of Object.entries(feeds)) {
      const a = this.alloc([...dims[name]!]);
      this.view(a).set(data);
      this.name(name, a);
    }
  }

  /**
   * Runs one step (the node at `at` in the planner's order) and names its outputs; then frees what the step allocated
   * that no output holds, and every value no later node reads.
   */
  perform(outputs: readonly string[], at: number, compute: () => Activation[]): Activation[] {
    this.at = at;
    const mark = this.arena.mark();
    const outs = compute();
    outputs.forEach((name, i) => this.name(name, outs[i]!));
    this.arena.reset(mark);
    if (this.liveness) {
      for (const [name, block] of this.held) {
        if (this.liveness.kept.has(name) || (this.liveness.lastRead.get(name) ?? -1) > at) continue;
        this.held.delete(name);
        this.values.delete(name);
        if (block) this.arena.release(block);
      }
    }
    return outs;
  }

  /**
   * Whether the step being performed may write its output over input `name`: a value in the run's arena that this step
   * is the last to read, that no graph output keeps and that no view shares. An elementwise map then runs in place,
   * so that an activation chain (a convolution's output, then its Swish) needs one tensor's memory, not two.
   */
  writable(name: string): boolean {
    if (!this.liveness || this.liveness.kept.has(name) || this.liveness.lastRead.get(name) !== this.at) return false;
    const block = this.held.get(name);
    return block !== undefined && block.holders === 1;
  }

  /** A view of an activation; any later allocation may detach it. */
  view(a: Activation): Float32Array {
    return this.kx.f32(a.ptr, sizeOf(a.dims));
  }

  /** Ends the run: the instance allocates after its load-time mark again. */
  close(): void {
    this.kx.attach(null);
  }

  private name(name: string, a: Activation): void {
    this.values.set(name, a);
    this.held.set(name, this.arena.hold(a.ptr));
  }
}
