// Conv (2-D, any group count): per image and group, im2col into scratch, the packed linear layer over
// [pixels, C/g * kh * kw], then a transpose into NCHW. Bias, BatchNormalization and Relu/Clip fuse into the epilogue.
import { intAttribute, intsAttribute, stringAttribute } from "../../../onnx/attributes";
import { OPERATORS } from "../../../onnx/operators";
import { createLinear, gemmView, type Linear } from "../linear";
import type { Op } from "../op";
import { floatData, Uncovered } from "../values";
import { checkWindowOutput } from "../attributes";

/** Begin/end padding of one spatial axis for auto_pad SAME_*. */
export function samePads(size: number, k: number, s: number, d: number, upper: boolean): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
  const small = Math.floor(total / 2);
  return upper ? [small, total - small] : [total - small, small];
}

export const conv: Op = {
  plan(ctx) {
    const xIn = ctx.input(0);
    const w = ctx.constant(OPERATORS.Conv.weight);
    if (!w) throw new Uncovered("weight is computed at run time");
    if (w.dims.length !== 4) throw new Uncovered(`only 2-D convolution is covered (weight dims [${w.dims}])`);
    const [M, Cg, kh, kw] = w.dims as [number, number, number, number];
    const group = intAttribute(ctx.node, "group", 1);
    const strides = intsAttribute(ctx.node, "strides", [1, 1]);
    const dilations = intsAttribute(ctx.node, "dilations", [1, 1]);
    const autoPad = stringAttribute(ctx.node, "auto_pad", "NOTSET");
    const pads = intsAttribute(ctx.node, "pads", [0, 0, 0, 0]);
    if (autoPad !== "NOTSET" && autoPad !== "VALID" && autoPad !== "SAME_UPPER" && autoPad !== "SAME_LOWER") throw new Uncovered(`auto_pad ${autoPad}`);
    const layout = OPERATORS.Conv.gemm(ctx.node, w.dims);
    if (M % group !== 0 || !layout) throw new Uncovered(`group ${group} does not divide ${M} output channels`);
    let bias: Float32Array | null = null;
    if (ctx.has(2)) {
      const b = ctx.constant(2);
      if (!b) throw new Uncovered("bias is computed at run time");
      bias = floatData(b);
    }
    const { epilogue, output } = ctx.absorbEpilogue(M, 1, 4, { scale: null, bias, lo: -Infinity, hi: Infinity });
    const { N: Mg, K } = layout;
    const linears: Linear[] = [];
    for (let g = 0; g < group; g++) {
      const slice = (v: Float32Array | null) => (v ? v.subarray(g * Mg, (g + 1) * Mg) : null);
      linears.push(createLinear(ctx.kx, w, gemmView(layout, g), { ...epilogue, scale: slice(epilogue.scale), bias: slice(epilogue.bias) }));
    }
    ctx.noteKernel(linears[0]!.kernel);
    return {
      kind: "step",
      outputs: [output],
      run(run) {
        const x = xIn(run);
        if (x.dims.length !== 4 || x.dims[1] !== Cg * group) throw new RangeError(`Conv input dims [${x.dims}] do not match ${Cg * group} channels`);
        const [B, C, H, W] = x.dims as [number, number, number, number];
        let [pt, pl, pb, pr] = autoPad === "VALID" ? [0, 0, 0, 0] : pads;
        if (autoPad.startsWith("SAME")) {
          [pt, pb] = samePads(H, kh, strides[0]!, dilations[0]!, autoPad === "SAME_UPPER");
          [pl, pr] = samePads(W, kw, strides[1]!, dilations[1]!, autoPad === "SAME_UPPER");
        }
        const OH = Math.floor((H + pt! + pb! - dilations[0]! * (kh - 1) - 1) / strides[0]!) + 1;
        const OW = Math.floor((W + pl! + pr! - dilations[1]! * (kw - 1) - 1) / strides[1]!) + 1;
        checkWindowOutput("Conv", x.dims, [OH, OW]);
        const y = run.alloc([B, M, OH, OW]);
        const P = OH * OW;
        const col = run.kx.alloc(P * K * 4);
        const tmp = run.kx.alloc(P * Mg * 4);
        const mark = run.kx.mark();
        for (let b = 0; b < B; b++) {
          for (let g = 0; g < group; g++) {
            const src = x.ptr + (b * C + g * Cg) * H * W * 4;
            run.kx.k.f32_im2col(src, Cg, H, W, kh, kw, strides[0]!, strides[1]!, pt!, pl!, dilations[0]!, dilations[1]!, OH, OW, col);
            linears[g]!.run(run.kx, P, col, K, tmp, Mg);
            run.kx.k.f32_transpose(P, Mg, tmp, y.ptr + (b * M + g * Mg) * P * 4, P);
            run.kx.reset(mark); // the linear layer's scratch (quantized activations) is per call
          }
        }
        return [y];
      },
    };
  },
};
