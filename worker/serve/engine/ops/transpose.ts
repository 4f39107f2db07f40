// Transpose by `perm` (default: reversed axes); folds at load on constants.
import { intsAttribute } from "../../../onnx/attributes";
import { DT } from "../../../onnx/dtype";
import type { Op } from "../op";
import { stridesOf } from "../shape";
import { floatData } from "../values";
import { checkPerm } from "../attributes";

function permute(src: Float32Array, dims: readonly number[], perm: readonly number[], dst: Float32Array): number[] {
  const outDims = perm.map((p) => dims[p]!);
  const inStrides = stridesOf(dims);
  const strides = perm.map((p) => inStrides[p]!);
  const rank = outDims.length;
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < dst.length; i++) {
    let s = 0;
    for (let d = 0; d < rank; d++) s += idx[d]! * strides[d]!;
    dst[i] = src[s]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < outDims[d]!) break;
      idx[d] = 0;
    }
  }
  return outDims;
}

export const transpose: Op = {
  plan(ctx) {
    const permOf = (rank: number) => {
      const perm = intsAttribute(ctx.node, "perm", [...Array(rank).keys()].reverse());
      checkPerm(perm, rank);
      return perm;
    };
    const c = ctx.constant(0);
    if (c) {
      const data = new Float32Array(c.dims.reduce((p, d) => p * d, 1));
      const dims = permute(floatData(c), c.dims, permOf(c.dims.length), data);
      return { kind: "constant", outputs: [{ dims, dtype: DT.FLOAT, data }] };
    }
    const x = ctx.input(0);
    return {
      kind: "step",
      run(run) {
        const a = x(run);
        const perm = permOf(a.dims.length);
        const y = run.alloc(perm.map((p) => a.dims[p]!));
        permute(run.view(a), a.dims, perm, run.view(y));
        return [y];
      },
    };
  },
};
