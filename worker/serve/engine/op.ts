// The contract between the engine and its operator modules (one module per op type, registered in ops/registry.ts).
import type { NodeProto } from "onnx-buf";
import type { KernelInstance } from "../wasm/runtime";
import type { Activation, Constant, RunState } from "./values";

/** Per-output-channel work fused into a linear op: y = clamp(x * scale + bias, lo, hi). */
export interface Epilogue {
  scale: Float32Array | null;
  bias: Float32Array | null;
  lo: number;
  hi: number;
}

export interface PlanContext {
  readonly node: NodeProto;
  readonly opset: number;
  readonly kx: KernelInstance;
  /** The constant behind input `i`, or undefined when it is computed at run time (or absent). */
  constant(i: number): Constant | undefined;
  /**
   * The dims of input i for the shapes this plan is specialised to: a constant's, or an activation's (traced by
   * running the steps planned so far). Reading an activation's dims makes the plan specific to these input shapes.
   */
  dims(i: number): readonly number[] | undefined;
  /** True when input i is given (ONNX marks an absent optional input with ""). */
  has(i: number): boolean;
  /** Resolves input i at run time: an activation, or a constant placed in kernel memory once at load. */
  input(i: number): (run: RunState) => Activation;
  /**
   * For linear ops: absorbs the single-consumer chain after this node (per-channel Add, BatchNormalization,
   * Relu/Clip) into an epilogue over `channels` output channels along `axis` of a rank-`rank` output.
   * Returns the epilogue and the output name the step must produce.
   */
  absorbEpilogue(channels: number, axis: number, rank: number, start?: Epilogue): { epilogue: Epilogue; output: string };
  /** For elementwise ops: absorbs a following Relu or constant-bounded Clip that alone reads the output. */
  absorbActivation(): { lo: number; hi: number; output: string };
  /** For QuantizeLinear: absorbs the DequantizeLinear on `grid` that alone reads its output; that one's output name. */
  absorbDequantize(grid: Grid): string | null;
  /** Records which kernel serves this (linear) node. */
  noteKernel(kernel: string): void;
  /** What planning knows of input i's elements at run time (see ValueMark), if anything. */
  mark(i: number): ValueMark | undefined;
}

/** A static 8-bit activation grid: levels in [lo, hi], value = (level - zeroPoint) * scale. */
export interface Grid {
  scale: number;
  zeroPoint: number;
  lo: number;
  hi: number;
}

/** What planning knows of a run-time value's elements. */
export type ValueMark =
  | { kind: "signs" } // all -1 or +1: a binarized activation
  | { kind: "levels"; grid: Grid } // a QuantizeLinear's levels
  | { kind: "grid"; grid: Grid }; // values on the grid: a DequantizeLinear of such levels

/** What a node becomes: constants folded at load, or a step run per inference. */
export type OpPlan =
  | { kind: "constant"; outputs: Constant[] }
  | { kind: "step"; run: (run: RunState) => Activation[]; outputs?: string[]; /** what output 0's elements are */ mark?: ValueMark };

export interface Op {
  /** Plans the node or throws Uncovered naming what the engine cannot run. */
  plan(ctx: PlanContext): OpPlan;
  /** Output 0's elements are input 0's, moved or selected: input 0's mark carries over. */
  movesElements?: boolean;
}
