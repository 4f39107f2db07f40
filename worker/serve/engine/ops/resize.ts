// Resize in nearest (round_prefer_floor/ceil, floor, ceil; opset 10's truncation) or linear mode, with the coordinate
// transforms half_pixel, asymmetric, align_corners, pytorch_half_pixel, half_pixel_symmetric and tf_half_pixel_for_nn.
// Sizes from `sizes` or floor(scale * dim); each resized axis is resampled in turn (both modes are separable).
// Coordinates are computed in float32 as onnxruntime does, so that rounding ties fall the same way.
import { intAttribute, intsAttribute, stringAttribute } from "../../../onnx/attributes";
import type { Op, OpPlan, PlanContext } from "../op";
import { intInput, normalizeAxis, spanOf, type IntInput } from "../shape";
import { floatData, Uncovered, type Activation } from "../values";

const f = Math.fround;

export interface ResizeSpec {
  mode: "nearest" | "linear";
  transform: string;
  /** round_prefer_floor, round_prefer_ceil, floor, ceil, or "simple" (Resize-10 and Upsample). */
  nearest: string;
}

/** One axis's resampling: the source index per output position (nearest), or two indices and weights (linear). */
type AxisPlan =
  | { axis: number; out: number; kind: "nearest"; idx: Int32Array }
  | { axis: number; out: number; kind: "linear"; i0: Int32Array; i1: Int32Array; w0: Float32Array; w1: Float32Array };

function originalOf(transform: string, scale: number, inLen: number, outLen: number): (x: number) => number {
  switch (transform) {
    case "asymmetric": return (x) => f(x / scale);
    case "pytorch_half_pixel": return (x) => (outLen > 1 ? f(f(f(x + 0.5) / scale) - 0.5) : 0);
    case "align_corners": return (x) => (outLen === 1 ? 0 : f(f(x * (inLen - 1)) / (outLen - 1)));
    case "tf_half_pixel_for_nn": return (x) => f(f(x + 0.5) / scale);
    case "half_pixel_symmetric": {
      const adjustment = f(outLen / f(scale * inLen));
      const offset = f(f(inLen / 2) * (1 - adjustment));
      return (x) => f(offset + (x + 0.5) / scale - 0.5);
    }
    case "half_pixel": return (x) => f(f(f(x + 0.5) / scale) - 0.5);
    default: throw new Uncovered(`coordinate_transformation_mode ${transform}`);
  }
}

const roundAway = (x: number) => Math.sign(x) * Math.round(Math.abs(x));

function nearestOf(rule: string, downsample: boolean): (x: number) => number {
  switch (rule) {
    case "simple": return downsample ? Math.ceil : Math.trunc;
    case "round_prefer_ceil": return roundAway;
    case "floor": return Math.floor;
    case "ceil": return Math.ceil;
    case "round_prefer_floor": return (x) => (x === f(Math.trunc(x) + 0.5) ? Math.floor(x) : roundAway(x));
    default: throw new Uncovered(`nearest_mode ${rule}`);
  }
}

function axisPlan(spec: ResizeSpec, axis: number, inLen: number, outLen: number, scale: number): AxisPlan {
  const original = originalOf(spec.transform, scale, inLen, outLen);
  if (spec.mode === "nearest") {
    const round = nearestOf(spec.nearest, scale < 1);
    const idx = Int32Array.from({ length: outLen }, (_, x) => Math.min(Math.max(round(original(x)), 0), inLen - 1));
    return { axis, out: outLen, kind: "nearest", idx };
  }
  const i0 = new Int32Array(outLen);
  const i1 = new Int32Array(outLen);
  const w0 = new Float32Array(outLen);
  const w1 = new Float32Array(outLen);
  for (let x = 0; x < outLen; x++) {
    const p = Math.min(Math.max(scale === 1 ? x : original(x), 0), inLen - 1);
    const a = Math.min(Math.trunc(p), inLen - 1);
    const b = Math.min(a + 1, inLen - 1);
    i0[x] = a;
    i1[x] = b;
    w0[x] = a === b ? 0.5 : Math.abs(f(p - b));
    w1[x] = a === b ? 0.5 : Math.abs(f(p - a));
  }
  return { axis, out: outLen, kind: "linear", i0, i1, w0, w1 };
}

/** Resamples src (dims) along one axis into dst. */
function resampleAxis(p: AxisPlan, src: Float32Array, dims: readonly number[], dst: Float32Array): void {
  const inLen = dims[p.axis]!;
  const outer = spanOf(dims, 0, p.axis);
  const inner = spanOf(dims, p.axis + 1);
  const n = p.out;
  if (p.kind === "nearest") {
    const idx = p.idx;
    for (let o = 0, k = 0; o < outer; o++) {
      const base = o * inLen;
      if (inner === 1) for (let j = 0; j < n; j++) dst[k++] = src[base + idx[j]!]!;
      else for (let j = 0; j < n; j++, k += inner) dst.set(src.subarray((base + idx[j]!) * inner, (base + idx[j]! + 1) * inner), k);
    }
    return;
  }
  const { i0, i1, w0, w1 } = p;
  for (let o = 0, k = 0; o < outer; o++) {
    const base = o * inLen;
    for (let j = 0; j < n; j++, k += inner) {
      const r0 = (base + i0[j]!) * inner;
      const r1 = (base + i1[j]!) * inner;
      const a = w0[j]!;
      const b = w1[j]!;
      for (let i = 0; i < inner; i++) dst[k + i] = src[r0 + i]! * a + src[r1 + i]! * b;
    }
  }
}

/** Where the sizes or scales come from: constant scales (per axis), or sizes (possibly at run time). */
export interface ResizeTarget {
  scales?: number[];
  sizes?: IntInput;
  axes?: number[];
  policy?: string;
}

/** Output dims and the per-axis scales the coordinate transforms use (onnxruntime's float32 arithmetic). */
function targetOf(t: ResizeTarget, dims: readonly number[], sizes: number[] | undefined): { out: number[]; scales: number[] } {
  const rank = dims.length;
  const axes = t.axes?.map((a) => normalizeAxis(a, rank)) ?? [...Array(rank).keys()];
  const spread = (v: number[], fill: (d: number) => number) => {
    const full = dims.map((d) => fill(d));
    axes.forEach((a, i) => (full[a] = v[i]!));
    return full;
  };
  if (sizes) {
    const out = spread(sizes, (d) => d);
    const scales = out.map((o, i) => (dims[i] === 0 ? 1 : f(o / dims[i]!)));
    if (t.policy === "not_larger" || t.policy === "not_smaller") {
      const pick = axes.map((a) => scales[a]!);
      const s = t.policy === "not_larger" ? Math.min(...pick) : Math.max(...pick);
      for (const a of axes) {
        scales[a] = s;
        out[a] = Math.round(f(s * dims[a]!));
      }
    }
    return { out, scales };
  }
  const scales = spread(t.scales!, () => 1);
  return { scales, out: dims.map((d, i) => Math.trunc(f(scales[i]! * d))) };
}

function plansOf(spec: ResizeSpec, dims: readonly number[], out: number[], scales: number[]): AxisPlan[] {
  const plans: AxisPlan[] = [];
  dims.forEach((d, a) => {
    if (out[a] !== d || scales[a] !== 1) plans.push(axisPlan(spec, a, d, out[a]!, scales[a]!));
  });
  return plans;
}

/** The plan of a Resize/Upsample node once its spec and target are read. */
export function planResize(ctx: PlanContext, spec: ResizeSpec, target: ResizeTarget): OpPlan {
  const x = ctx.input(0);
  const sizes = target.sizes;
  return {
    kind: "step",
    run(run) {
      const a = x(run);
      const { out, scales } = targetOf(target, a.dims, sizes?.read(run));
      const plans = plansOf(spec, a.dims, out, scales);
      // Every stage's buffer is allocated before any view is taken (an allocation may detach views).
      const stages: Activation[] = [];
      let dims = [...a.dims];
      for (const p of plans) {
        dims = [...dims];
        dims[p.axis] = p.out;
        stages.push(run.alloc(dims));
      }
      if (stages.length === 0) {
        const y = run.alloc([...a.dims]);
        run.view(y).set(run.view(a));
        return [y];
      }
      let src = a;
      plans.forEach((p, i) => {
        resampleAxis(p, run.view(src), src.dims, run.view(stages[i]!));
        src = stages[i]!;
      });
      return [src];
    },
  };
}

export const resize: Op = {
  plan(ctx) {
    const mode = stringAttribute(ctx.node, "mode", "nearest");
    if (mode !== "nearest" && mode !== "linear") throw new Uncovered(`mode ${mode}`);
    if (intAttribute(ctx.node, "antialias", 0) !== 0) throw new Uncovered("antialias");
    const legacy = ctx.opset < 11;
    const spec: ResizeSpec = {
      mode,
      transform: legacy ? "asymmetric" : stringAttribute(ctx.node, "coordinate_transformation_mode", "half_pixel"),
      nearest: legacy ? "simple" : stringAttribute(ctx.node, "nearest_mode", "round_prefer_floor"),
    };
    if (spec.transform === "tf_crop_and_resize") throw new Uncovered("tf_crop_and_resize");
    const target: ResizeTarget = {};
    if (ctx.opset >= 18) {
      const axes = intsAttribute(ctx.node, "axes", []);
      if (axes.length > 0) target.axes = axes;
      target.policy = stringAttribute(ctx.node, "keep_aspect_ratio_policy", "stretch");
    }
    const scalesAt = legacy ? 1 : 2;
    const scales = ctx.has(scalesAt) ? ctx.constant(scalesAt) : undefined;
    if (ctx.has(scalesAt) && !scales) throw new Uncovered("scales are computed at run time");
    if (scales && scales.data.length > 0) target.scales = Array.from(floatData(scales));
    else if (!legacy && ctx.has(3)) target.sizes = intInput(ctx, 3);
    else throw new Uncovered("neither scales nor sizes are given");
    return planResize(ctx, spec, target);
  },
};
