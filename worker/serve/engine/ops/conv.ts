// Conv (2-D, and 1-D as one row of 2-D; any group count). Depthwise layers (one input and one output channel per
// group) run the direct depthwise kernel on fp32 weights with the per-channel scale folded in: their weights are tiny,
// so int8/int4 quantized ones are dequantized at load. The rest run on NCHW planes where they can: 1x1 filters at stride 1 without
// padding read the input planes, other filters their patches written as one plane per patch entry (im2planes), into
// the fp32 pointwise kernel (dense fp32 weights: any 1x1, and other filters over fewer than SMALL_QUANTIZED_K inputs)
// or the int8 one (integer weights with a scale per output channel, or +-scale floats; at stride 1 its quantizer reads
// each patch from the zero-padded input instead of from written planes; inputs on a static QDQ grid are put back on
// their levels, exactly, instead of quantized per pixel). Every other layer runs per
// image and group as the packed linear layer over [pixels, C/g * kh * kw], a tile of pixels at a time, each tile
// transposed into NCHW; its operand is im2col of the input, or for a 1x1 filter at stride 1 without padding (sparse or
// blocked weights) the input plane [C/g, pixels] transposed. Bias, BatchNormalization and Relu/Clip fuse into the
// epilogue.
import { intAttribute, intsAttribute, stringAttribute } from "../../../onnx/attributes";
import { OPERATORS, type GemmLayout } from "../../../onnx/operators";
import { BLOCK_SPARSE_MIN, channelScale, createLinear, CSR_MIN, gemmView, gridBias, gridShift, inputOptions, quantizedWeight, type Linear } from "../linear";
import type { Epilogue, Grid, Op, OpPlan, PlanContext } from "../op";
import type { Ptr } from "../../wasm/runtime";
import { binaryScales, packPq, packQs8Pointwise, packQu7Pointwise, sparsityOf, stridedMatrix, type Weight } from "../../wasm/packing";
import { floatData, Uncovered, type Activation, type Constant, type RunState } from "../values";
import { checkWindowOutput } from "../attributes";
import { samePads } from "../../../onnx/window";
import { inputAsRow, rowOrPlane, windowInts, windowPads } from "./one-row";

export const conv: Op = rowOrPlane("convolution", OPERATORS.Conv.weight, plan2d);

/** Conv on a 2-D weight; a 1-D one (`oneD`) as one row of it (one-row.ts). */
function plan2d(ctx: PlanContext, w: Constant, oneD: boolean): OpPlan {
  const xIn = oneD ? inputAsRow(ctx.input(0), "Conv") : ctx.input(0);
  const [M, Cg, kh, kw] = w.dims as [number, number, number, number];
  const group = intAttribute(ctx.node, "group", 1);
  const strides = windowInts(ctx.node, "strides", [1, 1], oneD, 1);
  const dilations = windowInts(ctx.node, "dilations", [1, 1], oneD, 1);
  const autoPad = stringAttribute(ctx.node, "auto_pad", "NOTSET");
  const pads = windowPads(ctx.node, oneD);
  if (autoPad !== "NOTSET" && autoPad !== "VALID" && autoPad !== "SAME_UPPER" && autoPad !== "SAME_LOWER") throw new Uncovered(`auto_pad ${autoPad}`);
  const layout = OPERATORS.Conv.gemm(ctx.node, w.dims);
  if (M % group !== 0 || !layout) throw new Uncovered(`group ${group} does not divide ${M} output channels`);
  let bias: Float32Array | null = null;
  if (ctx.has(2)) {
    const b = ctx.constant(2);
    if (!b) throw new Uncovered("bias is computed at run time");
    bias = floatData(b);
  }
  const { epilogue, output } = ctx.absorbEpilogue(M, 1, oneD ? 3 : 4, { scale: null, bias, lo: -Infinity, hi: Infinity });
  const geometry = (H: number, W: number) => {
    let [pt, pl, pb, pr] = autoPad === "VALID" ? [0, 0, 0, 0] : pads;
    if (autoPad.startsWith("SAME")) {
      [pt, pb] = samePads(H, kh, strides[0]!, dilations[0]!, autoPad === "SAME_UPPER");
      [pl, pr] = samePads(W, kw, strides[1]!, dilations[1]!, autoPad === "SAME_UPPER");
    }
    const OH = Math.floor((H + pt! + pb! - dilations[0]! * (kh - 1) - 1) / strides[0]!) + 1;
    const OW = Math.floor((W + pl! + pr! - dilations[1]! * (kw - 1) - 1) / strides[1]!) + 1;
    checkWindowOutput("Conv", [H, W], [OH, OW]);
    return { pt: pt!, pl: pl!, pb: pb!, pr: pr!, OH, OW };
  };
  const checkInput = (dims: number[]) => {
    if (dims.length !== 4 || dims[1] !== Cg * group) throw new RangeError(`Conv input dims [${dims}] do not match ${Cg * group} channels`);
    return dims as [number, number, number, number];
  };
  if (Cg === 1 && M === group) return depthwise(ctx, w, [kh, kw], strides, dilations, epilogue, output, xIn, geometry, checkInput);
  const unpadded = autoPad !== "NOTSET" || pads.every((p) => p === 0);
  if (kh === 1 && kw === 1 && strides[0] === 1 && strides[1] === 1 && unpadded && densePlainWeight(w, Cg, M)) {
    return pointwise(ctx, w, group, epilogue, output, xIn, checkInput, null);
  }
  // Inputs on a static grid are requantized onto it exactly; plain ones are quantized per pixel.
  const { grid } = inputOptions(ctx);
  if (kh === 1 && kw === 1 && strides[0] === 1 && strides[1] === 1 && unpadded && ctx.mark(0)?.kind !== "signs") {
    const planned = quantizedPointwise(ctx, w, layout, group, epilogue, output, xIn, checkInput, null, grid);
    if (planned) return planned;
  }
  const { N: Mg, K } = layout;
  const patches: Patches = { kh, kw, strides, dilations, geometry };
  // Other filters on plain inputs (not binarized) read their patches as planes, one per patch entry, for the same
  // kernels; a quantized filter over few inputs stays on fp32 below, unless its inputs are on a grid (exact levels
  // there, where fp32 would compute on the dequantized values).
  if ((!ctx.mark(0) && K >= SMALL_QUANTIZED_K) || grid) {
    const planned = quantizedPointwise(ctx, w, layout, group, epilogue, output, xIn, checkInput, patches, grid);
    if (planned) return planned;
  }
  // A quantized filter over few inputs (a stem's 3 x 3 x 3) runs faster in fp32 than through the int8 route's
  // activation quantization and padding to 16 inputs; its weights are tiny either way. Dense, it reads its patches as
  // planes into the fp32 pointwise kernel (im2col's scattered writes of rows this short cost more than the GEMM).
  const weight = w.quant && K < SMALL_QUANTIZED_K ? { dims: w.dims, dtype: w.dtype, data: floatData(w) } : w;
  if (K < SMALL_QUANTIZED_K && densePlainWeight(weight, K, M)) {
    return pointwise(ctx, weight, group, epilogue, output, xIn, checkInput, patches);
  }
  const linears: Linear[] = [];
  // Padding writes zeros into the patches, which XNOR-popcount cannot hold: binarized inputs count only unpadded.
  const { signsInput } = inputOptions(ctx);
  const zeroPadding = autoPad === "VALID" || (autoPad === "NOTSET" && pads.every((p) => p === 0));
  for (let g = 0; g < group; g++) {
    const slice = (v: Float32Array | null) => (v ? v.subarray(g * Mg, (g + 1) * Mg) : null);
    const ep = { ...epilogue, scale: slice(epilogue.scale), bias: slice(epilogue.bias) };
    linears.push(createLinear(ctx.kx, weight, gemmView(layout, g), ep, { narrowOnInt8: true, signsInput: signsInput && zeroPadding, grid }));
  }
  ctx.noteKernel(linears[0]!.kernel);
  return {
    kind: "step",
    outputs: [output],
    run(run) {
      const x = xIn(run);
      const [B, C, H, W] = checkInput(x.dims);
      const { pt, pl, pb, pr, OH, OW } = geometry(H, W);
      const y = run.alloc([B, M, OH, OW]);
      const P = OH * OW;
      // A 1x1 filter that neither strides nor pads reads the plane as it lies: im2col is its transpose.
      const pointwise = kh === 1 && kw === 1 && strides[0] === 1 && strides[1] === 1 && pt + pl + pb + pr === 0;
      const col = run.kx.alloc(P * K * 4);
      const rows = Math.min(P, tileRows(Mg));
      const tmp = run.kx.alloc(rows * Mg * 4);
      const mark = run.kx.mark();
      for (let b = 0; b < B; b++) {
        for (let g = 0; g < group; g++) {
          const src = x.ptr + (b * C + g * Cg) * H * W * 4;
          if (pointwise) run.kx.k.f32_transpose(Cg, P, src, col, Cg);
          else run.kx.k.f32_im2col(src, Cg, H, W, kh, kw, strides[0]!, strides[1]!, pt, pl, dilations[0]!, dilations[1]!, OH, OW, col);
          const out = y.ptr + (b * M + g * Mg) * P * 4;
          for (let p = 0; p < P; p += rows) {
            const n = Math.min(rows, P - p);
            linears[g]!.run(run.kx, n, col + p * K * 4, K, tmp, Mg);
            run.kx.k.f32_transpose(n, Mg, tmp, out + p * 4, P);
            run.kx.reset(mark); // the linear layer's scratch (quantized activations) is per call
          }
        }
      }
      return [y];
    },
  };
}

/**
 * Floats of the row-major GEMM result the linear-layer path holds before transposing it into the NCHW output: it
 * runs a tile of output pixels at a time rather than holding a second output's worth.
 */
export const TILE_FLOATS = 16384;

/** Inputs per output (C/g * kh * kw) below which quantized filters run on fp32 (measured on MobileNetV2's stem). */
export const SMALL_QUANTIZED_K = 32;
const tileRows = (channels: number) => Math.max(4, Math.floor(TILE_FLOATS / channels));

/**
 * One filter per channel: the direct depthwise kernel over each image's C planes, weights [C, kh * kw] in fp32 with
 * the epilogue's scales folded in, the bias and clamp applied by the kernel.
 */
function depthwise(
  ctx: PlanContext,
  w: Constant,
  [kh, kw]: [number, number],
  strides: number[],
  dilations: number[],
  ep: Epilogue,
  output: string,
  xIn: (run: RunState) => Activation,
  geometry: (H: number, W: number) => { pt: number; pl: number; OH: number; OW: number },
  checkInput: (dims: number[]) => [number, number, number, number],
): OpPlan {
  const M = w.dims[0]!;
  const taps = kh * kw;
  const data = floatData(w);
  const folded = new Float32Array(M * taps);
  for (let m = 0; m < M; m++) {
    const s = ep.scale ? ep.scale[m]! : 1;
    for (let i = 0; i < taps; i++) folded[m * taps + i] = data[m * taps + i]! * s;
  }
  const weights = ctx.kx.put(folded);
  const bias = ep.bias ? ctx.kx.put(Float32Array.from({ length: M }, (_, m) => ep.bias![m]!)) : 0;
  const [sh, sw] = strides as [number, number];
  const [dh, dw] = dilations as [number, number];
  ctx.noteKernel("dwconv");
  return {
    kind: "step",
    outputs: [output],
    run(run) {
      const x = xIn(run);
      const [B, C, H, W] = checkInput(x.dims);
      const { pt, pl, OH, OW } = geometry(H, W);
      const y = run.alloc([B, M, OH, OW]);
      if (OH <= 0 || OW <= 0) return [y];
      const PH = (OH - 1) * sh + (kh - 1) * dh + 1;
      const PW = (OW - 1) * sw + (kw - 1) * dw + 1;
      const mark = run.kx.mark();
      const scratch = run.kx.alloc((PH * PW + 8) * 4);
      for (let b = 0; b < B; b++) {
        run.kx.k.f32_dwconv2d(x.ptr + b * C * H * W * 4, C, H, W, weights, kh, kw, sh, sw, pt, pl, dh, dw, OH, OW, bias, ep.lo, ep.hi, scratch, y.ptr + b * M * OH * OW * 4);
      }
      run.kx.reset(mark);
      return [y];
    },
  };
}

/**
 * True when the linear layer would run a weight [M, Cg] on the fp32 GEMM: float levels, neither +-scale signs nor
 * sparse enough for the sparse kernels nor product-quantized (the choice createLinear makes), so the direct pointwise
 * kernel takes it.
 */
function densePlainWeight(w: Constant, Cg: number, M: number): boolean {
  if (w.quant) return false;
  const view: Weight = { K: Cg, N: M, data: floatData(w), offset: 0, kStride: 1, nStride: Cg, colScale: null };
  if (Cg >= 32 && binaryScales(view)) return false;
  const sparsity = sparsityOf(view);
  return sparsity.blocks < BLOCK_SPARSE_MIN && sparsity.elements < CSR_MIN && !packPq(stridedMatrix(view));
}

/**
 * fp32 weights on f32_pointwise_4x8 straight on NCHW planes per image and group, weights packed in panels of 4
 * channels with the epilogue's scales folded in: a 1x1 filter at stride 1 without padding reads the input planes
 * (measured 0.9-1.7x, mostly ~1.1x, the transpose + GEMM + transpose route on MobileNet and ResNet shapes); a filter
 * over few inputs (`patches`) reads its patches as planes (2.3x the im2col route on a 3 x 3 filter over one channel,
 * 1.1x over three at stride 2, bit for bit the same sums).
 */
function pointwise(
  ctx: PlanContext,
  w: Constant,
  group: number,
  ep: Epilogue,
  output: string,
  xIn: (run: RunState) => Activation,
  checkInput: (dims: number[]) => [number, number, number, number],
  patches: Patches | null,
): OpPlan {
  const M = w.dims[0]!;
  const K = w.dims.slice(1).reduce((p, d) => p * d, 1);
  const Mg = M / group;
  const data = floatData(w);
  const panels = Math.ceil(Mg / 4);
  const packed: Ptr[] = [];
  for (let g = 0; g < group; g++) {
    const out = new Float32Array(panels * K * 4);
    for (let m = 0; m < Mg; m++) {
      const s = ep.scale ? ep.scale[g * Mg + m]! : 1;
      for (let k = 0; k < K; k++) out[((m >> 2) * K + k) * 4 + (m & 3)] = data[(g * Mg + m) * K + k]! * s;
    }
    packed.push(ctx.kx.put(out));
  }
  const bias = ep.bias ? ctx.kx.put(Float32Array.from({ length: M }, (_, m) => ep.bias![m]!)) : 0;
  ctx.noteKernel("pointwise");
  return planeSteps({ M, Cg: w.dims[1]!, group, output, xIn, checkInput }, patches, (run) => (g, P, src, dst) =>
    run.kx.k.f32_pointwise_4x8(Mg, K, P, src, packed[g]!, bias ? bias + g * Mg * 4 : 0, ep.lo, ep.hi, dst));
}

/**
 * The step of a convolution computed on NCHW planes: per run, `perRun(run, P, shape)` (scratch for the run's output
 * plane size) returns what computes group g's output planes `dst` from its input planes `src`, called per image and
 * group. A 1x1 filter's input planes are the image's; with `patches`, they are the group's patches written as planes
 * (im2planes), one per patch entry, into scratch held for the run, or, `padded`, the group's planes zero-padded for a
 * kernel that reads each patch where it lies (stride 1): Hp x Wp, rows wide enough for 8 output pixels at a time.
 */
function planeSteps(
  c: { M: number; Cg: number; group: number; output: string; xIn: (run: RunState) => Activation; checkInput: (dims: number[]) => [number, number, number, number] },
  patches: Patches | null,
  perRun: (run: RunState, P: number, shape: { OH: number; OW: number; Hp: number; Wp: number }) => (g: number, P: number, src: Ptr, dst: Ptr) => void,
  padded = false,
): OpPlan {
  const { M, Cg, group } = c;
  const Mg = M / group;
  return {
    kind: "step",
    outputs: [c.output],
    run(run) {
      const x = c.xIn(run);
      const [B, C, H, W] = c.checkInput(x.dims);
      const { pt, pl, OH, OW } = patches ? patches.geometry(H, W) : { pt: 0, pl: 0, OH: H, OW: W };
      const P = OH * OW;
      const Hp = patches && padded ? OH + (patches.kh - 1) * patches.dilations[0]! : H;
      const Wp = patches && padded ? Math.ceil(OW / 8) * 8 + (patches.kw - 1) * patches.dilations[1]! : W;
      const y = run.alloc([B, M, OH, OW]);
      const planes = patches ? run.kx.alloc((padded ? Cg * Hp * Wp : Cg * patches.kh * patches.kw * P) * 4) : 0;
      const plane = perRun(run, P, { OH, OW, Hp, Wp });
      for (let b = 0; b < B; b++) {
        for (let g = 0; g < group; g++) {
          let src = x.ptr + (b * C + g * Cg) * H * W * 4;
          if (patches && padded) {
            run.kx.k.f32_pad_planes(src, Cg, H, W, pt, pl, Hp, Wp, planes);
            src = planes;
          } else if (patches) {
            const { kh, kw, strides, dilations } = patches;
            run.kx.k.f32_im2planes(src, Cg, H, W, kh, kw, strides[0]!, strides[1]!, pt, pl, dilations[0]!, dilations[1]!, OH, OW, planes);
            src = planes;
          }
          plane(g, P, src, y.ptr + (b * M + g * Mg) * P * 4);
        }
      }
      return [y];
    },
  };
}

/** Group g of a quantized weight as levels (channel m, input k) and a scale per channel: null unless the scale is
 * constant along the inputs and the levels fit int8. */
function integerLevels(w: Constant, layout: GemmLayout, g: number, Cg: number) {
  const qw = quantizedWeight(w, gemmView(layout, g));
  if (!qw || !qw.constantOver(Cg) || !qw.inRange(-127, 127)) return null;
  const lv = qw.levels;
  const level = "at" in lv ? (m: number, k: number) => lv.at(k, m) : (m: number, k: number) => lv.data[lv.offset + k * lv.kStride + m * lv.nStride]!;
  return { level, scaleOf: (m: number) => (Cg > 0 ? qw.scaleAt(0, m) : 0) };
}

/** Group g of a float [M, Cg] weight that is +-scale per channel (a 1-bit variant) as signs and scales, else null
 * (the same test the linear layer makes: at least 32 inputs). */
function signsOf(data: Float32Array, g: number, Mg: number, Cg: number) {
  const offset = g * Mg * Cg;
  const signs = Cg >= 32 ? binaryScales({ K: Cg, N: Mg, data, offset, kStride: 1, nStride: Cg, colScale: null }) : null;
  if (!signs) return null;
  return { level: (m: number, k: number) => Math.sign(data[offset + m * Cg + k]!), scaleOf: (m: number) => signs[m]! };
}

/** A filter that is not a plain 1x1 reads its patches as planes: im2planes writes one per patch entry, of its output pixels. */
interface Patches {
  kh: number;
  kw: number;
  strides: number[];
  dilations: number[];
  geometry: (H: number, W: number) => { pt: number; pl: number; OH: number; OW: number };
}

/**
 * Integer weights with one scale per output channel (int8, int4, 2-bit and 1-bit levels all lie in int8), or float
 * weights that are +-scale per channel: qs8/qu7_pointwise_4x8 straight on NCHW planes, each plane's pixels quantized
 * per pixel first, so the transposes of the linear-layer route are not paid. A 1x1 filter at stride 1 without padding
 * reads the input planes as they lie; any other (`patches`) reads its patches written as one plane per patch entry
 * (im2col transposed, which copies whole rows: on small planes im2col's scattered writes cost as much as the GEMM).
 * The per-pixel quantization is the linear-layer route's per-row one, over the same patch. Inputs on a static `grid`
 * go back to their levels instead (exact, as the linear layer's qs8StaticLinear requantizes a row), on the int8
 * kernel in either build: 8-bit levels do not fit the relaxed dot's 7-bit operand. Null when the weight's scales vary
 * along the inputs (blocked), its levels do not fit int8, or a float weight is not +-scale.
 */
function quantizedPointwise(
  ctx: PlanContext,
  w: Constant,
  layout: GemmLayout,
  group: number,
  ep: Epilogue,
  output: string,
  xIn: (run: RunState) => Activation,
  checkInput: (dims: number[]) => [number, number, number, number],
  patches: Patches | null,
  grid?: Grid,
): OpPlan | null {
  const { N: Mg, K } = layout;
  const M = Mg * group;
  // The relaxed build takes activations as unsigned 7-bit with a zero point (qu7, 16 multiply-adds per instruction);
  // the plain one, and grid levels in either, as int8 in pairs of channels (qs8).
  const relaxed = ctx.kx.relaxed && !grid;
  // uint8 levels go in less 128; the shift and the zero point come back through each channel's level sum.
  const shift = grid ? gridShift(grid) : 0;
  const biasOnGrid = grid ? new Float32Array(M) : null;
  const packed: { weights: Ptr; scales: Ptr; sums: Ptr }[] = [];
  const mark = ctx.kx.mark();
  const floats = w.quant ? null : floatData(w);
  for (let g = 0; g < group; g++) {
    const layer = floats ? signsOf(floats, g, Mg, K) : integerLevels(w, layout, g, K);
    if (!layer) {
      ctx.kx.reset(mark);
      return null;
    }
    const { level, scaleOf } = layer;
    const scales = new Float32Array(Math.ceil(Mg / 4) * 4);
    for (let m = 0; m < Mg; m++) scales[m] = scaleOf(m) * channelScale(ep, g * Mg + m);
    if (grid) {
      for (let m = 0; m < Mg; m++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += level(m, k);
        biasOnGrid![g * Mg + m] = gridBias(grid, ep.bias ? ep.bias[g * Mg + m]! : 0, scales[m]!, sum);
      }
    }
    if (relaxed) {
      const { weights, sums } = packQu7Pointwise(level, Mg, K);
      packed.push({ weights: ctx.kx.put(weights), scales: ctx.kx.put(scales), sums: ctx.kx.put(sums) });
    } else {
      packed.push({ weights: ctx.kx.put(packQs8Pointwise(level, Mg, K)), scales: ctx.kx.put(scales), sums: 0 });
    }
  }
  const bias = biasOnGrid ? ctx.kx.put(biasOnGrid) : ep.bias ? ctx.kx.put(Float32Array.from({ length: M }, (_, m) => ep.bias![m]!)) : 0;
  ctx.noteKernel(relaxed ? "qu7-pointwise" : grid ? "qs8-grid-pointwise" : "qs8-pointwise");
  // At stride 1 the quantizer reads each pixel's patch from the zero-padded input where it lies (the same bytes as
  // quantizing im2planes' planes, without writing K float planes and reading them twice).
  const inPlace = patches !== null && patches.strides.every((s) => s === 1);
  const { kh, kw, dilations } = patches ?? { kh: 1, kw: 1, dilations: [1, 1] };
  const Cg = w.dims[1]!;
  return planeSteps(
    { M, Cg, group, output, xIn, checkInput },
    patches,
    (run, P, { OH, OW, Hp, Wp }) => {
      const Pp = Math.ceil(P / 8) * 8;
      const q = run.kx.alloc(Math.ceil(K / 4) * Pp * 4); // either layout: pairs or quads of channels
      // The in-place quantizers read up to 7 scales (and zero points) past P.
      const as = run.kx.alloc((Pp + 8) * 4);
      const zps = relaxed ? run.kx.alloc((Pp + 8) * 4) : 0;
      const k = run.kx.k;
      if (grid) new Float32Array(k.memory.buffer, as, Pp + 8).fill(grid.scale);
      return (g, P, src, dst) => {
        const { weights, scales, sums } = packed[g]!;
        const gBias = bias ? bias + g * Mg * 4 : 0;
        if (grid) {
          const { scale, zeroPoint, lo, hi } = grid;
          if (inPlace) k.qs8_patch_quantize_static(src, Cg, Hp, Wp, kh, kw, dilations[0]!, dilations[1]!, OH, OW, q, scale, zeroPoint, lo, hi, shift);
          else k.qs8_pointwise_quantize_static(K, P, src, q, scale, zeroPoint, lo, hi, shift);
          k.qs8_pointwise_4x8(Mg, K, P, q, as, weights, scales, gBias, ep.lo, ep.hi, dst);
        } else if (relaxed) {
          if (inPlace) k.qu7_patch_quantize(src, Cg, Hp, Wp, kh, kw, dilations[0]!, dilations[1]!, OH, OW, q, as, zps);
          else k.qu7_pointwise_quantize(K, P, src, q, as, zps);
          k.qu7_pointwise_4x8(Mg, K, P, q, as, zps, weights, sums, scales, gBias, ep.lo, ep.hi, dst);
        } else {
          if (inPlace) k.qs8_patch_quantize(src, Cg, Hp, Wp, kh, kw, dilations[0]!, dilations[1]!, OH, OW, q, as);
          else k.qs8_pointwise_quantize(K, P, src, q, as);
          k.qs8_pointwise_4x8(Mg, K, P, q, as, weights, scales, gBias, ep.lo, ep.hi, dst);
        }
      };
    },
    inPlace,
  );
}
