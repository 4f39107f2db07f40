// ConvTranspose (1-D as one row of 2-D, and 2-D; groups, strides, pads, output_padding, dilations, auto_pad, output_shape): per image and group,
// the input plane [C/g, pixels] transposed, the packed linear layer over [pixels, C/g] x [C/g, M/g * kh * kw] (so
// int8/int4 weights run on the quantized kernels), then col2im's gather of the overlapping taps into NCHW with the
// epilogue (bias, BatchNormalization, Relu/Clip) fused.
import { intAttribute, intsAttribute, stringAttribute } from "../../../onnx/attributes";
import { OPERATORS } from "../../../onnx/operators";
import { createLinear, type Linear, type WeightView } from "../linear";
import type { Op, OpPlan, PlanContext } from "../op";
import { floatData, Uncovered, type Constant } from "../values";
import { inputAsRow, rowOrPlane, windowInts, windowPads } from "./one-row";

/**
 * Begin/end padding and output size along one axis, as the ONNX definition (and onnxruntime) gives them: from
 * output_shape when given (SAME_UPPER puts an odd unit of padding at the end, anything else at the start), for
 * SAME_* from an output of input * stride, else from the pads.
 */
export function transposeGeometry(
  size: number, k: number, s: number, d: number, adj: number, autoPad: string, pads: [number, number], outSize: number | null,
): { head: number; tail: number; out: number } {
  const full = (size - 1) * s + adj + (k - 1) * d + 1;
  const same = autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER";
  if (outSize !== null || same) {
    const out = outSize ?? size * s;
    const total = Math.max(0, full - out);
    const small = Math.floor(total / 2);
    return autoPad === "SAME_UPPER" ? { head: small, tail: total - small, out } : { head: total - small, tail: small, out };
  }
  const [head, tail] = autoPad === "VALID" ? [0, 0] : pads;
  return { head, tail, out: full - head - tail };
}

export const convtranspose: Op = rowOrPlane("ConvTranspose", OPERATORS.ConvTranspose.weight, plan2d);

/** ConvTranspose on a 2-D weight; a 1-D one (`oneD`) as one row of it (one-row.ts). */
function plan2d(ctx: PlanContext, w: Constant, oneD: boolean): OpPlan {
  const xIn = oneD ? inputAsRow(ctx.input(0), "ConvTranspose") : ctx.input(0);
  const [C, Mg, kh, kw] = w.dims as [number, number, number, number];
  const group = intAttribute(ctx.node, "group", 1);
  const strides = windowInts(ctx.node, "strides", [1, 1], oneD, 1);
  const dilations = windowInts(ctx.node, "dilations", [1, 1], oneD, 1);
  const pads = windowPads(ctx.node, oneD);
  const adj = windowInts(ctx.node, "output_padding", [0, 0], oneD, 0);
  const shape = intsAttribute(ctx.node, "output_shape", []);
  const outputShape = oneD && shape.length ? [1, ...shape.slice(-1)] : shape;
  const autoPad = stringAttribute(ctx.node, "auto_pad", "NOTSET");
  if (!["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].includes(autoPad)) throw new Uncovered(`auto_pad ${autoPad}`);
  if (group < 1 || C % group !== 0) throw new Uncovered(`group ${group} does not divide ${C} input channels`);
  if (strides.length !== 2 || dilations.length !== 2 || pads.length !== 4 || adj.length !== 2) throw new Uncovered("only 2-D attributes are covered");
  if (outputShape.length !== 0 && outputShape.length < 2) throw new Uncovered(`output_shape [${outputShape}]`);
  const M = Mg * group;
  const Cg = C / group;
  let bias: Float32Array | null = null;
  if (ctx.has(2)) {
    const b = ctx.constant(2);
    if (!b) throw new Uncovered("bias is computed at run time");
    bias = floatData(b);
  }
  const { epilogue, output } = ctx.absorbEpilogue(M, 1, oneD ? 3 : 4, { scale: null, bias, lo: -Infinity, hi: Infinity });
  // Group g's product: K = C/g input channels (rows of the weight), N = M/g * kh * kw (each row's run).
  const N = Mg * kh * kw;
  const plain = { scale: null, bias: null, lo: -Infinity, hi: Infinity };
  const linears: Linear[] = [];
  for (let g = 0; g < group; g++) {
    const offset = g * Cg * N;
    const view: WeightView = { K: Cg, N, index: (k, n) => offset + k * N + n, strides: { offset, kStride: N, nStride: 1 } };
    linears.push(createLinear(ctx.kx, w, view, plain));
  }
  ctx.noteKernel(linears[0]!.kernel);
  const perChannel = (v: Float32Array | null) => (v ? ctx.kx.put(Float32Array.from({ length: M }, (_, m) => v[m]!)) : 0);
  const scalePtr = perChannel(epilogue.scale);
  const biasPtr = perChannel(epilogue.bias);
  const [sh, sw] = strides as [number, number];
  const [dh, dw] = dilations as [number, number];
  return {
    kind: "step",
    outputs: [output],
    run(run) {
      const x = xIn(run);
      if (x.dims.length !== 4 || x.dims[1] !== C) throw new RangeError(`ConvTranspose input dims [${x.dims}] do not match ${C} channels`);
      const [B, , H, W] = x.dims as [number, number, number, number];
      const given = (i: number) => (outputShape.length ? outputShape[outputShape.length - 2 + i]! : null);
      const rows = transposeGeometry(H, kh, sh, dh, adj[0]!, autoPad, [pads[0]!, pads[2]!], given(0));
      const cols = transposeGeometry(W, kw, sw, dw, adj[1]!, autoPad, [pads[1]!, pads[3]!], given(1));
      const [OH, OW] = [rows.out, cols.out];
      if (OH <= 0 || OW <= 0) throw new RangeError(`ConvTranspose output [${OH}, ${OW}] is empty`);
      const y = run.alloc([B, M, OH, OW]);
      const P = H * W;
      const mark = run.kx.mark();
      const a = run.kx.alloc(P * Cg * 4);
      const col = run.kx.alloc(P * N * 4);
      const inner = run.kx.mark();
      for (let b = 0; b < B; b++) {
        for (let g = 0; g < group; g++) {
          run.kx.k.f32_transpose(Cg, P, x.ptr + (b * C + g * Cg) * P * 4, a, Cg);
          linears[g]!.run(run.kx, P, a, Cg, col, N);
          run.kx.reset(inner); // the linear layer's scratch (quantized activations) is per call
          const at = (p: number) => (p ? p + g * Mg * 4 : 0);
          run.kx.k.f32_col2im(col, N, Mg, H, W, kh, kw, sh, sw, rows.head, cols.head, dh, dw, OH, OW, at(scalePtr), at(biasPtr), epilogue.lo, epilogue.hi, y.ptr + (b * M + g * Mg) * OH * OW * 4);
        }
      }
      run.kx.reset(mark);
      return [y];
    },
  };
}
