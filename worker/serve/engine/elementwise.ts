// Building blocks for elementwise ops: unary maps and broadcasting binary (and ternary Where) ops that fold at load
// when every operand is constant (integer constants stay integers, comparisons become bool) and otherwise run as a
// step over float32 activations. Each kind has its own typed-array loop: the op is chosen once per row, never per
// element.
import type { Op, OpPlan, PlanContext } from "./op";
import { broadcastBinary, broadcastDims, broadcastWalk, eachRow, remap, type Elements, type IntInput } from "./shape";
import { floatData, sizeOf, Uncovered, type Activation, type Constant, type RunState } from "./values";
import { DT } from "../../onnx/dtype";

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** A step writing y (input 0's dims) from input 0 a: `write(run, a, y)`; y is a itself where nothing reads a after it (RunState.writable). */
export function mapStep(ctx: PlanContext, write: (run: RunState, a: Activation, y: Activation) => void): Extract<OpPlan, { kind: "step" }> {
  const x = ctx.input(0);
  const name = ctx.node.input[0]!;
  return {
    kind: "step",
    run(run) {
      const a = x(run);
      // Element i of the output reads element i of the input alone: over an input nothing reads after, in place.
      const y = run.writable(name) ? { dims: [...a.dims], ptr: a.ptr } : run.alloc([...a.dims]);
      write(run, a, y);
      return [y];
    },
  };
}

export function unaryOp(f: (x: number) => number): Op {
  return {
    plan: (ctx) =>
      mapStep(ctx, (run, a, y) => {
        const src = run.view(a);
        const dst = run.view(y);
        for (let i = 0; i < dst.length; i++) dst[i] = f(src[i]!);
      }),
  };
}

export function binaryOp(f: (x: number, y: number) => number): Op {
  return {
    plan(ctx: PlanContext): OpPlan {
      const ca = ctx.constant(0);
      const cb = ctx.constant(1);
      if (ca && cb) {
        const dims = broadcastDims(ca.dims, cb.dims);
        const data = new Float32Array(dims.reduce((p, d) => p * d, 1));
        broadcastBinary(floatData(ca), ca.dims, floatData(cb), cb.dims, data, dims, f);
        return { kind: "constant", outputs: [{ dims, dtype: DT.FLOAT, data }] };
      }
      const a = ctx.input(0);
      const b = ctx.input(1);
      return {
        kind: "step",
        run(run) {
          const x = a(run);
          const w = b(run);
          const dims = broadcastDims(x.dims, w.dims);
          const y = run.alloc(dims);
          broadcastBinary(run.view(x), x.dims, run.view(w), w.dims, run.view(y), dims, f);
          return [y];
        },
      };
    },
  };
}

/**
 * An op whose output is its input with other dims (no copy: activations are never written in place). A constant keeps
 * its element type (int64 shapes stay int64); a quantized one is dequantized, its scale layout belonging to the old dims.
 */
export function viewOp(dimsOf: (dims: readonly number[]) => number[]): Op {
  return {
    movesElements: true,
    plan(ctx) {
      const c = ctx.constant(0);
      if (c) {
        const dims = dimsOf(c.dims);
        // Same dims (Identity, a no-op Reshape): the constant itself, so that a quantized weight read through an
        // exporter's Identity (a shared weight's second reader) still reaches its layer as integers.
        if (sameDims(dims, c.dims)) return { kind: "constant", outputs: [c] };
        const out: Constant = c.quant ? { dims, dtype: DT.FLOAT, data: floatData(c) } : { dims, dtype: c.dtype, data: c.data };
        return { kind: "constant", outputs: [out] };
      }
      const x = ctx.input(0);
      return {
        kind: "step",
        run(run) {
          const a = x(run);
          return [{ dims: dimsOf(a.dims), ptr: a.ptr }];
        },
      };
    },
  };
}

// ---- element types of folded constants

const INTEGER_TYPES = new Set<number>([DT.INT64, DT.INT32, DT.INT16, DT.INT8, DT.UINT8, DT.UINT16, DT.UINT32, DT.UINT64]);

/** True for integer element types (bool apart). */
export const isInteger = (dtype: number) => INTEGER_TYPES.has(dtype);

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** A number as int64, saturating where a float64 overshoots the range (INT64_MAX does as a double). */
export function toInt64(v: number): bigint {
  if (!Number.isFinite(v)) return v > 0 ? INT64_MAX : v < 0 ? INT64_MIN : 0n;
  const b = BigInt(Math.trunc(v));
  return b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b;
}

/** The values of a constant as float64 numbers. */
export function numbersOf(c: Constant): Float64Array {
  if (c.data instanceof Float64Array) return c.data;
  if (c.data instanceof BigInt64Array) return Float64Array.from(c.data, Number);
  if (c.quant) return Float64Array.from(floatData(c));
  return Float64Array.from(c.data as ArrayLike<number>);
}

/** A constant of `dtype` holding `values` (integers truncated; bool as 0/1 bytes). */
export function constantOf(dtype: number, dims: number[], values: ArrayLike<number>): Constant {
  const n = values.length;
  switch (dtype) {
    case DT.INT64: {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) data[i] = toInt64(values[i]!);
      return { dims, dtype, data };
    }
    case DT.INT32:
      return { dims, dtype, data: Int32Array.from(values, Math.trunc) };
    case DT.INT8:
      return { dims, dtype, data: Int8Array.from(values, Math.trunc) };
    case DT.UINT8:
      return { dims, dtype, data: Uint8Array.from(values, Math.trunc) };
    case DT.BOOL:
      return { dims, dtype, data: Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0)) };
    case DT.DOUBLE:
      return { dims, dtype, data: Float64Array.from(values) };
    default:
      return { dims, dtype: DT.FLOAT, data: Float32Array.from(values) };
  }
}

/** An empty typed array of the kind a constant of `dtype` holds. */
export function elementsLike(c: Constant, n: number): Elements {
  if (c.quant) return new Float32Array(n);
  const C = c.data.constructor as new (n: number) => Elements;
  return new C(n);
}

/** The data of a constant as elements to copy (dequantized when quantized). */
export function elementsOf(c: Constant): Elements {
  return c.quant ? floatData(c) : c.data;
}

// ---- unary maps

export type UnaryKind =
  | "Sigmoid" | "HardSigmoid" | "HardSwish" | "Sqrt" | "Exp" | "Log" | "Neg" | "Abs" | "Erf" | "Not" | "Reciprocal" | "Floor" | "Ceil"
  // Activations with an alpha (and Selu's gamma as beta), and the rest of ONNX's common maps.
  | "LeakyRelu" | "Elu" | "Selu" | "Celu" | "ThresholdedRelu" | "Softplus" | "Softsign" | "Mish" | "Sin" | "Cos" | "Sign" | "Round" | "IsNaN" | "IsInf"
  // Run-time casts of float32-carried values to integers (toward zero) and to bool.
  | "Trunc" | "Bool";

/** erf in float64 to about 1e-7 relative (float32-accurate): a series near 0, else 1 - erfc (rational, 1.2e-7). */
export function erf(x: number): number {
  const z = Math.abs(x);
  if (z < 0.5) {
    // sum (-1)^n x^(2n+1) / (n! (2n+1)), times 2/sqrt(pi); 9 terms reach 1e-16 at |x| = 0.5.
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 10; n++) {
      term *= -x2 / n;
      sum += term / (2 * n + 1);
    }
    return sum * 1.1283791670955126;
  }
  if (z >= 4) return x > 0 ? 1 : -1; // erfc(4) = 1.5e-8 is below half an ulp of 1 in float32
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
      t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x > 0 ? 1 - erfc : erfc - 1;
}

/** log(1 + e^x) without overflow for large x. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** Round half to even (ONNX Round). */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** dst[i] = kind(src[i]) for i < n. */
export function unaryKernel(kind: UnaryKind, src: ArrayLike<number>, dst: Float32Array | Float64Array, alpha = 0.2, beta = 0.5): void {
  const n = dst.length;
  switch (kind) {
    case "Sigmoid": for (let i = 0; i < n; i++) dst[i] = 1 / (1 + Math.exp(-src[i]!)); break;
    case "HardSigmoid":
      for (let i = 0; i < n; i++) { const v = alpha * src[i]! + beta; dst[i] = v < 0 ? 0 : v > 1 ? 1 : v; }
      break;
    case "HardSwish":
      for (let i = 0; i < n; i++) { const x = src[i]!; const v = x / 6 + 0.5; dst[i] = v <= 0 ? 0 : v >= 1 ? x : x * v; }
      break;
    case "Sqrt": for (let i = 0; i < n; i++) dst[i] = Math.sqrt(src[i]!); break;
    case "Exp": for (let i = 0; i < n; i++) dst[i] = Math.exp(src[i]!); break;
    case "Log": for (let i = 0; i < n; i++) dst[i] = Math.log(src[i]!); break;
    case "Neg": for (let i = 0; i < n; i++) dst[i] = -src[i]!; break;
    case "Abs": for (let i = 0; i < n; i++) dst[i] = Math.abs(src[i]!); break;
    case "Erf": for (let i = 0; i < n; i++) dst[i] = erf(src[i]!); break;
    case "Not": for (let i = 0; i < n; i++) dst[i] = src[i]! !== 0 ? 0 : 1; break;
    case "Reciprocal": for (let i = 0; i < n; i++) dst[i] = 1 / src[i]!; break;
    case "Floor": for (let i = 0; i < n; i++) dst[i] = Math.floor(src[i]!); break;
    case "Ceil": for (let i = 0; i < n; i++) dst[i] = Math.ceil(src[i]!); break;
    case "LeakyRelu": for (let i = 0; i < n; i++) { const x = src[i]!; dst[i] = x < 0 ? alpha * x : x; } break;
    case "Elu": for (let i = 0; i < n; i++) { const x = src[i]!; dst[i] = x < 0 ? alpha * Math.expm1(x) : x; } break;
    case "Selu": for (let i = 0; i < n; i++) { const x = src[i]!; dst[i] = beta * (x <= 0 ? alpha * Math.expm1(x) : x); } break;
    case "Celu": for (let i = 0; i < n; i++) { const x = src[i]!; dst[i] = x < 0 ? alpha * Math.expm1(x / alpha) : x; } break;
    case "ThresholdedRelu": for (let i = 0; i < n; i++) { const x = src[i]!; dst[i] = x > alpha ? x : 0; } break;
    case "Softplus": for (let i = 0; i < n; i++) dst[i] = softplus(src[i]!); break;
    case "Softsign": for (let i = 0; i < n; i++) { const x = src[i]!; dst[i] = x / (1 + Math.abs(x)); } break;
    case "Mish": for (let i = 0; i < n; i++) { const x = src[i]!; dst[i] = x * Math.tanh(softplus(x)); } break;
    case "Sin": for (let i = 0; i < n; i++) dst[i] = Math.sin(src[i]!); break;
    case "Cos": for (let i = 0; i < n; i++) dst[i] = Math.cos(src[i]!); break;
    case "Sign": for (let i = 0; i < n; i++) { const x = src[i]!; dst[i] = x > 0 ? 1 : x < 0 ? -1 : x; } break;
    case "Round": for (let i = 0; i < n; i++) dst[i] = roundEven(src[i]!); break;
    case "IsNaN": for (let i = 0; i < n; i++) dst[i] = Number.isNaN(src[i]!) ? 1 : 0; break;
    case "IsInf": for (let i = 0; i < n; i++) { const x = src[i]!; dst[i] = (alpha && x === Infinity) || (beta && x === -Infinity) ? 1 : 0; } break;
    case "Trunc": for (let i = 0; i < n; i++) dst[i] = Math.trunc(src[i]!); break;
    case "Bool": for (let i = 0; i < n; i++) dst[i] = src[i]! !== 0 ? 1 : 0; break;
  }
}

/** The element type of a unary op's result on a constant of `dtype`. */
function unaryType(kind: UnaryKind, dtype: number): number {
  if (kind === "Not" || kind === "Bool" || kind === "IsNaN" || kind === "IsInf") return DT.BOOL;
  if ((kind === "Neg" || kind === "Abs" || kind === "Sign" || kind === "Round") && isInteger(dtype)) return dtype;
  return dtype === DT.DOUBLE ? DT.DOUBLE : DT.FLOAT;
}

/**
 * A unary op by kind, folded in float64 on constants; `params` reads attributes (HardSigmoid's alpha and beta), and
 * `onKernels` computes it at run time where the kernels have it (else unaryKernel does, in JavaScript).
 */
export function unaryMap(
  kind: UnaryKind,
  params?: (ctx: PlanContext) => { alpha: number; beta: number },
  onKernels?: (run: RunState, a: Activation, y: Activation, p: { alpha: number; beta: number }) => void,
): Op {
  return {
    plan(ctx) {
      const { alpha, beta } = params ? params(ctx) : { alpha: 0.2, beta: 0.5 };
      const c = ctx.constant(0);
      if (c) {
        const out = new Float64Array(c.data.length);
        unaryKernel(kind, numbersOf(c), out, alpha, beta);
        const dtype = unaryType(kind, c.dtype);
        if (dtype === DT.FLOAT) return { kind: "constant", outputs: [{ dims: [...c.dims], dtype, data: Float32Array.from(out) }] };
        return { kind: "constant", outputs: [constantOf(dtype, [...c.dims], out)] };
      }
      return mapStep(ctx, onKernels ? (run, a, y) => onKernels(run, a, y, { alpha, beta }) : (run, a, y) => unaryKernel(kind, run.view(a), run.view(y), alpha, beta));
    },
  };
}

// ---- binary and ternary ops with broadcasting

export type BinaryKind =
  | "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min"
  // Mod: the remainder with the divisor's sign (ONNX's fmod 0, integers); Fmod: the dividend's (fmod 1, C's fmod).
  | "Mod" | "Fmod"
  | "Equal" | "Greater" | "Less" | "GreaterOrEqual" | "LessOrEqual" | "And" | "Or"
  // PRelu: x where x >= 0, else slope * x (the slope broadcast to x).
  | "PRelu";

const LOGICAL = new Set<BinaryKind>(["Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or"]);

type Floats = Float32Array | Float64Array;

/**
 * `rows` rows of n elements: out[o + r * n + i] = a[ia + r * ra + i * sa] kind b[ib + r * rb + i * sb] (steps 0 or 1).
 * Two loop levels per call, so that a short broadcast row (a bias over the last dim) costs no call per row.
 */
function binaryRows(
  kind: BinaryKind, a: Floats, ia: number, sa: number, ra: number, b: Floats, ib: number, sb: number, rb: number, out: Floats, o: number, n: number, rows: number,
): void {
  switch (kind) {
    case "Add":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x + y; }
      }
      break;
    case "Sub":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x - y; }
      }
      break;
    case "Mul":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x * y; }
      }
      break;
    case "Div":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x / y; }
      }
      break;
    case "Pow":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = Math.pow(x, y); }
      }
      break;
    case "Max":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x >= y ? x : y; }
      }
      break;
    case "Min":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x <= y ? x : y; }
      }
      break;
    case "Mod":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; const m = x % y; out[po + i] = m !== 0 && m < 0 !== y < 0 ? m + y : m; }
      }
      break;
    case "Fmod":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) out[po + i] = a[pa + i * sa]! % b[pb + i * sb]!;
      }
      break;
    case "Equal":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x === y ? 1 : 0; }
      }
      break;
    case "Greater":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x > y ? 1 : 0; }
      }
      break;
    case "Less":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x < y ? 1 : 0; }
      }
      break;
    case "GreaterOrEqual":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x >= y ? 1 : 0; }
      }
      break;
    case "LessOrEqual":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x <= y ? 1 : 0; }
      }
      break;
    case "And":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x !== 0 && y !== 0 ? 1 : 0; }
      }
      break;
    case "Or":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x !== 0 || y !== 0 ? 1 : 0; }
      }
      break;
    case "PRelu":
      for (let r = 0; r < rows; r++) {
        const pa = ia + r * ra, pb = ib + r * rb, po = o + r * n;
        for (let i = 0; i < n; i++) { const x = a[pa + i * sa]!, y = b[pb + i * sb]!; out[po + i] = x < 0 ? x * y : x; }
      }
      break;
  }
}

/** out = a kind b with numpy broadcasting into outDims; `truncate` makes Div and Pow integer (toward zero). */
export function broadcastKernel(
  kind: BinaryKind, a: Floats, aDims: readonly number[], b: Floats, bDims: readonly number[], out: Floats, outDims: readonly number[], truncate = false,
): void {
  const n = out.length;
  if (a.length === n && b.length === n) binaryRows(kind, a, 0, 1, 0, b, 0, 1, 0, out, 0, n, 1);
  else {
    // The walk's last outer dim becomes the rows of each call; the dims above it are walked.
    const w = broadcastWalk(outDims, [aDims, bDims]);
    const last = w.outer.length - 1;
    const rows = last >= 0 ? w.outer[last]! : 1;
    const [ra, rb] = last >= 0 ? [w.strides[0]![last]!, w.strides[1]![last]!] : [0, 0];
    const [sa, sb] = w.steps as [number, number];
    const above = { n: w.n * rows, outer: w.outer.slice(0, Math.max(last, 0)), strides: w.strides.map((s) => s.slice(0, Math.max(last, 0))), steps: w.steps };
    eachRow(above, (off, o) => binaryRows(kind, a, off[0]!, sa, ra, b, off[1]!, sb, rb, out, o, w.n, rows));
  }
  if (truncate && (kind === "Div" || kind === "Pow")) for (let i = 0; i < n; i++) out[i] = Math.trunc(out[i]!);
}

/** The element type of a binary op's result on constants of these types. */
function binaryType(kind: BinaryKind, a: number): number {
  if (LOGICAL.has(kind)) return DT.BOOL;
  return isInteger(a) || a === DT.DOUBLE ? a : DT.FLOAT;
}

/** Folds kind over constants left to right (Max/Min take any number). */
export function foldBinary(kind: BinaryKind, cs: readonly Constant[]): Constant {
  let acc = cs[0]!;
  for (const c of cs.slice(1)) {
    const dims = broadcastDims(acc.dims, c.dims);
    const out = new Float64Array(dims.reduce((p, d) => p * d, 1));
    const integer = isInteger(acc.dtype) && isInteger(c.dtype);
    broadcastKernel(kind, numbersOf(acc), acc.dims, numbersOf(c), c.dims, out, dims, integer);
    const dtype = binaryType(kind, acc.dtype);
    acc = dtype === DT.FLOAT ? { dims, dtype, data: Float32Array.from(out) } : constantOf(dtype, dims, out);
  }
  return acc;
}

/** Row length from which a per-row broadcast runs on the kernels (a bias over the last axis, rows of one, stays here). */
const ROW_AFFINE_MIN = 8;

/**
 * When `small` broadcasts into `big` as one value per row of the trailing `len` elements, the same `rows` values for
 * each of `reps` leading blocks ([1, C, 1, 1] or [C, 1, 1] into [N, C, H, W]: reps N, rows C, len H * W; a scalar:
 * one row of everything): what f32_rows_affine walks. Null for any other broadcast, or when `big` is not the result.
 */
export function rowBroadcast(big: readonly number[], small: readonly number[]): { reps: number; rows: number; len: number } | null {
  if (small.length > big.length) return null;
  const s = [...new Array<number>(big.length - small.length).fill(1), ...small];
  let k = s.length;
  while (k > 0 && s[k - 1] === 1) k--; // axes from k on are 1 in small
  let m = k;
  while (m > 0 && s[m - 1] === big[m - 1]) m--; // axes m..k-1 are big's
  if (s.slice(0, m).some((d) => d !== 1)) return null;
  const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);
  return { reps: product(big.slice(0, m)), rows: product(big.slice(m, k)), len: product(big.slice(k)) };
}

/** The kernels' f32_binary_clamp operation codes. */
const KERNEL_OPS: Partial<Record<BinaryKind, number>> = { Add: 0, Sub: 1, Mul: 2, Div: 3 };

/** A broadcasting binary op by kind; Max and Min take one or more operands. */
export function binaryKind(kind: BinaryKind): Op {
  return {
    plan(ctx) {
      const count = kind === "Max" || kind === "Min" ? ctx.node.input.length : 2;
      const cs = Array.from({ length: count }, (_, i) => ctx.constant(i));
      if (cs.every((c) => c)) return { kind: "constant", outputs: [foldBinary(kind, cs as Constant[])] };
      // Run-time values are float32; a constant integer operand says the other is an integer too (ONNX types match).
      const truncate = cs.some((c) => c && isInteger(c.dtype));
      const xs = Array.from({ length: count }, (_, i) => ctx.input(i));
      const arithmetic = KERNEL_OPS[kind];
      if (arithmetic !== undefined && count === 2 && !truncate) {
        // Float arithmetic: same-shape operands in the kernels with a following Relu/Clip fused (a residual Add), as
        // are a Mul or Add by a value per plane; other broadcasts here, then the clamp.
        const act = ctx.absorbActivation();
        const clamped = act.lo !== -Infinity || act.hi !== Infinity;
        return {
          kind: "step",
          outputs: [act.output],
          run(run) {
            const a = xs[0]!(run);
            const b = xs[1]!(run);
            if (sameDims(a.dims, b.dims)) {
              const y = run.alloc([...a.dims]);
              run.kx.k.f32_binary_clamp(arithmetic, sizeOf(a.dims), a.ptr, b.ptr, act.lo, act.hi, y.ptr);
              return [y];
            }
            if (kind === "Mul" || kind === "Add") {
              // One operand broadcasts as a value per plane (a gate [N, C, 1, 1] over [N, C, H, W]): the kernels.
              const [big, small] = sameDims(broadcastDims(a.dims, b.dims), a.dims) ? [a, b] : [b, a];
              const rows = rowBroadcast(big.dims, small.dims);
              if (rows && rows.len >= ROW_AFFINE_MIN) {
                const y = run.alloc([...big.dims]);
                const [S, T] = kind === "Mul" ? [small.ptr, 0] : [0, small.ptr];
                const step = rows.rows * rows.len * 4;
                for (let r = 0; r < rows.reps; r++) run.kx.k.f32_rows_affine(rows.rows, rows.len, big.ptr + r * step, S, T, act.lo, act.hi, y.ptr + r * step);
                return [y];
              }
            }
            const y = binaryStep(run, kind, a, b, false);
            if (clamped) run.kx.k.f32_clamp(sizeOf(y.dims), y.ptr, act.lo, act.hi, y.ptr);
            return [y];
          },
        };
      }
      return {
        kind: "step",
        run(run) {
          let acc = xs[0]!(run);
          if (count === 1) {
            const y = run.alloc([...acc.dims]);
            run.view(y).set(run.view(acc));
            return [y];
          }
          for (let i = 1; i < count; i++) acc = binaryStep(run, kind, acc, xs[i]!(run), truncate);
          return [acc];
        },
      };
    },
  };
}

/**
 * Sum and Mean of one or more operands with numpy broadcasting: added left to right in float32 activations (float64
 * when every operand is constant), Mean then divided by the count.
 */
export function variadicOp(kind: "Sum" | "Mean"): Op {
  return {
    plan(ctx) {
      const count = ctx.node.input.length;
      if (count === 0) throw new Uncovered(`${kind} of no operands`);
      const cs = Array.from({ length: count }, (_, i) => ctx.constant(i));
      if (cs.every((c) => c)) {
        const total = foldBinary("Add", cs as Constant[]);
        if (kind === "Sum") return { kind: "constant", outputs: [total] };
        const data = Float32Array.from(numbersOf(total), (v) => v / count);
        return { kind: "constant", outputs: [{ dims: total.dims, dtype: DT.FLOAT, data }] };
      }
      const xs = Array.from({ length: count }, (_, i) => ctx.input(i));
      return {
        kind: "step",
        run(run) {
          const first = xs[0]!(run);
          let acc = run.alloc([...first.dims]);
          run.view(acc).set(run.view(first));
          for (let i = 1; i < count; i++) acc = binaryStep(run, "Add", acc, xs[i]!(run), false);
          if (kind === "Mean") {
            const v = run.view(acc);
            for (let i = 0; i < v.length; i++) v[i] = v[i]! / count;
          }
          return [acc];
        },
      };
    },
  };
}

function binaryStep(run: RunState, kind: BinaryKind, x: Activation, w: Activation, truncate: boolean): Activation {
  const dims = broadcastDims(x.dims, w.dims);
  const y = run.alloc(dims);
  broadcastKernel(kind, run.view(x), x.dims, run.view(w), w.dims, run.view(y), dims, truncate);
  return y;
}

/** out = cond ? x : y with broadcasting over all three (any element type: copies, no arithmetic). */
export function whereKernel(
  cond: ArrayLike<number>, cDims: readonly number[], x: Elements, xDims: readonly number[], y: Elements, yDims: readonly number[], out: Elements, outDims: readonly number[],
): void {
  const w = broadcastWalk(outDims, [cDims, xDims, yDims]);
  const [sc, sx, sy] = w.steps as [number, number, number];
  const X = x as Float32Array;
  const Y = y as Float32Array;
  const O = out as Float32Array;
  eachRow(w, (off, o) => {
    const [ic, ix, iy] = off as [number, number, number];
    for (let i = 0; i < w.n; i++) O[o + i] = cond[ic + i * sc]! !== 0 ? X[ix + i * sx]! : Y[iy + i * sy]!;
  });
}

// ---- copies by a layout (Slice, Expand, Tile, Pad, Squeeze-free gathers)

/** Where each output element of a copy comes from: the output dims and, per dim, source offsets for remap. */
export interface Layout {
  dims: number[];
  offsets: Int32Array[];
  /** The value of padding positions (offset -1). */
  fill?: number;
}

/**
 * An op copying elements of input 0 by a layout computed from its dims and the integer inputs `params` (starts, pads,
 * repeats, a shape): folded when input 0 is constant and every param is known at load (keeping the element type),
 * otherwise a step over the float32 activation.
 */
export function remapOp(ctx: PlanContext, params: readonly IntInput[], layoutOf: (dims: readonly number[], values: number[][]) => Layout): OpPlan {
  const c = ctx.constant(0);
  if (c && params.every((p) => p.known)) {
    const layout = layoutOf(c.dims, params.map((p) => p.known!));
    const out = elementsLike(c, layout.dims.reduce((p, d) => p * d, 1));
    const fill = layout.fill ?? 0;
    remap(elementsOf(c), out, layout.dims, layout.offsets, out instanceof BigInt64Array ? toInt64(fill) : fill);
    return { kind: "constant", outputs: [{ dims: layout.dims, dtype: c.quant ? DT.FLOAT : c.dtype, data: out }] };
  }
  const x = ctx.input(0);
  return {
    kind: "step",
    run(run) {
      const a = x(run);
      const layout = layoutOf(a.dims, params.map((p) => p.read(run)));
      const y = run.alloc(layout.dims);
      remap(run.view(a), run.view(y), layout.dims, layout.offsets, layout.fill ?? 0);
      return [y];
    },
  };
}
