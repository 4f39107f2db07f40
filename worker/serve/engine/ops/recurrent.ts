// What LSTM and GRU share: their attributes and inputs checked at load, each direction's gate rows of W and R packed
// as linear layers (int8/int4 weights behind DequantizeLinear stay integer), the input projection X·W^T of every
// time step as one GEMM per direction, and the time index each batch row reads at each step.
import { floatAttribute, intAttribute, stringAttribute } from "../../../onnx/attributes";
import type { KernelInstance, Ptr } from "../../wasm/runtime";
import { createLinear, type Linear } from "../linear";
import type { PlanContext } from "../op";
import { floatData, intData, Uncovered, type Activation, type Constant, type RunState } from "../values";

export interface Recurrent {
  /** hidden_size, input size, gates (LSTM 4, GRU 3) and directions (1 or 2). */
  H: number;
  I: number;
  gates: number;
  dirs: number;
  /** Per direction: whether it runs from the last time step to the first. */
  reverse: boolean[];
  /** Gate pre-activations are clamped to [-clip, clip] (Infinity when the attribute is absent). */
  clip: number;
  /** Per direction: B's halves [Wb (gates*H), Rb (gates*H)], zeros when B is absent. */
  bias: { w: Float32Array; r: Float32Array }[];
  W: Constant;
  R: Constant;
  x: (run: RunState) => Activation;
  /** Initial state input `i` (5: initial_h, 6: initial_c), or null when absent (zeros). */
  initial(i: number): ((run: RunState) => Activation) | null;
  /** Which outputs (Y, Y_h[, Y_c]) the node names. */
  wanted: boolean[];
  /** sequence_lens: constant, read at run time (int32 values carried as float32), or null when absent (all steps). */
  lengths: number[] | ((run: RunState) => Activation) | null;
}

/**
 * Checks what the engine runs (layout 0, the default activations, constant W/R/B)
 * and reads the node. `defaults` are the op's activation functions for one direction.
 */
export function readRecurrent(ctx: PlanContext, gates: number, defaults: readonly string[], outputs: number): Recurrent {
  const node = ctx.node;
  if (intAttribute(node, "layout", 0) !== 0) throw new Uncovered("layout 1 (batch first)");
  const direction = stringAttribute(node, "direction", "forward");
  const reverse = direction === "forward" ? [false] : direction === "reverse" ? [true] : direction === "bidirectional" ? [false, true] : null;
  if (!reverse) throw new Uncovered(`direction '${direction}'`);
  const dirs = reverse.length;
  const acts = node.attribute.find((a) => a.name === "activations");
  if (acts) {
    const names = acts.strings.map((s) => new TextDecoder().decode(s).toLowerCase());
    const expected = Array.from({ length: dirs }, () => defaults.map((d) => d.toLowerCase())).flat();
    if (names.join() !== expected.join()) throw new Uncovered(`activations [${names}] (only the defaults [${defaults}] are covered)`);
  }
  const W = ctx.constant(1);
  const R = ctx.constant(2);
  if (!W || !R) throw new Uncovered("W or R is computed at run time");
  if (W.dims.length !== 3 || W.dims[0] !== dirs) throw new Uncovered(`W of dims [${W.dims}] for ${dirs} direction(s)`);
  const GH = W.dims[1]!;
  const I = W.dims[2]!;
  const H = intAttribute(node, "hidden_size", GH / gates);
  if (GH !== gates * H || R.dims.join() !== [dirs, GH, H].join()) throw new Uncovered(`W [${W.dims}] and R [${R.dims}] do not fit hidden_size ${H}`);
  let biasData: Float32Array | null = null;
  if (ctx.has(3)) {
    const b = ctx.constant(3);
    if (!b) throw new Uncovered("B is computed at run time");
    if (b.dims.join() !== [dirs, 2 * GH].join()) throw new Uncovered(`B of dims [${b.dims}]`);
    biasData = floatData(b);
  }
  const bias = reverse.map((_, d) => ({
    w: biasData ? biasData.slice(d * 2 * GH, d * 2 * GH + GH) : new Float32Array(GH),
    r: biasData ? biasData.slice(d * 2 * GH + GH, (d + 1) * 2 * GH) : new Float32Array(GH),
  }));
  let lengths: Recurrent["lengths"] = null;
  if (ctx.has(4)) {
    const s = ctx.constant(4);
    lengths = s ? intData(s) : ctx.input(4);
    if (s && intData(s).some((l) => l < 1)) throw new Uncovered("sequence_lens holds a length below 1");
  }
  const clip = node.attribute.some((a) => a.name === "clip") ? floatAttribute(node, "clip", 0) : Infinity;
  const x = ctx.input(0);
  // Resolved now: a constant state is placed in kernel memory at plan time, never inside a run's arena.
  const states = new Map([5, 6].map((i) => [i, ctx.has(i) ? ctx.input(i) : null]));
  const initial = (i: number) => states.get(i) ?? null;
  const wanted = Array.from({ length: outputs }, (_, i) => !!node.output[i]);
  return { H, I, gates, dirs, reverse, clip, bias, W, R, x, initial, wanted, lengths };
}

/**
 * Rows [row0, row0 + rows) of direction d of a [dirs, gates*H, K] weight, read as the K x rows matrix of a GEMM.
 * 4- and 2-bit levels with one scale per gate row go on the int8 kernel: the recurrent weights run once per step on
 * one row per sequence, where the int8 kernel has about twice the int4 kernel's throughput (the LSTM's int4 variant ran
 * at 0.57-0.67x of FP32 on onnxruntime-web at batch 1, its int8 one at 0.36x); levels in blocks stay on the int4 kernel.
 */
export function gateRows(kx: KernelInstance, c: Constant, d: number, row0: number, rows: number, bias: Float32Array | null): Linear {
  const [, GH, K] = c.dims as [number, number, number];
  const offset = (d * GH + row0) * K;
  return createLinear(
    kx,
    c,
    { K, N: rows, index: (k, n) => offset + n * K + k, strides: { offset, kStride: 1, nStride: K } },
    { scale: null, bias, lo: -Infinity, hi: Infinity },
    { narrowOnInt8: true },
  );
}

/** The names of the kernels serving a node's layers (one when they agree). */
export function kernelsOf(layers: Linear[]): string {
  return [...new Set(layers.map((l) => l.kernel))].join("+");
}

/** A run's sequence: its sizes, each row's length, and each direction's input projection [seq * batch, gates * H]. */
export interface Sequence {
  seq: number;
  batch: number;
  lens: Int32Array;
  xw: Ptr[];
}

/** Checks X against the node and projects it through each direction's W (bias included) before the time loop. */
export function project(run: RunState, rc: Recurrent, w: Linear[]): Sequence {
  const x = rc.x(run);
  if (x.dims.length !== 3 || x.dims[2] !== rc.I) throw new RangeError(`X of dims [${x.dims}] does not match input size ${rc.I}`);
  const [seq, batch] = x.dims as [number, number];
  const lens = new Int32Array(batch).fill(seq);
  if (rc.lengths) {
    const given = Array.isArray(rc.lengths) ? rc.lengths : Array.from(run.view(rc.lengths(run)));
    if (given.length !== batch) throw new RangeError(`sequence_lens holds ${given.length} lengths for batch ${batch}`);
    given.forEach((l, b) => {
      if (!(Number.isInteger(l) && l >= 1 && l <= seq)) throw new RangeError(`sequence_lens ${l} is not a length in 1..${seq} (the time steps of X)`);
      lens[b] = l;
    });
  }
  const GH = rc.gates * rc.H;
  const xw = w.map((layer) => {
    const out = run.kx.alloc(seq * batch * GH * 4);
    const mark = run.kx.mark();
    layer.run(run.kx, seq * batch, x.ptr, rc.I, out, GH);
    run.kx.reset(mark); // the GEMM's scratch (quantized rows)
    return out;
  });
  return { seq, batch, lens, xw };
}

/** A state tensor [dirs, batch, H]: the initial input copied in (checked), else zeros. */
export function stateOf(run: RunState, rc: Recurrent, i: number, batch: number): Activation {
  const s = run.alloc([rc.dirs, batch, rc.H]);
  const given = rc.initial(i);
  if (!given) {
    run.view(s).fill(0);
    return s;
  }
  const a = given(run);
  if (a.dims.join() !== s.dims.join()) throw new RangeError(`initial state of dims [${a.dims}], expected [${s.dims}]`);
  run.view(s).set(run.view(a));
  return s;
}

/** One step of h·R^T (batch rows of H) into out, its GEMM scratch freed at once. */
export function recur(kx: KernelInstance, layer: Linear, batch: number, h: Ptr, lda: number, out: Ptr): void {
  const mark = kx.mark();
  layer.run(kx, batch, h, lda, out, layer.N);
  kx.reset(mark);
}
