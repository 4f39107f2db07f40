// A small opset-13 transformer block (ReduceMean layer norm, attention with a causal Where mask and Softmax,
// Erf GELU, Slice) is lifted and quantized to int4 and 2-bit; onnxruntime-node runs the variants close to fp32
// (measured: largest error 12% of the largest output for int4 blocks of 32, 38% for 2-bit).
import { describe, expect, it } from "vitest";
import { quantizeModel } from "@worker/compress/quantize";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { defaultOpset } from "@worker/onnx/validate";
import { randomWeights, rng } from "@test/support/models";
import { compareOutputs, floatTensor, runReference } from "@test/support/ort-node";

const T = 4;
const D = 32;
const H = 64;

function buildBlock() {
  const next = rng(7);
  const f = (name: string, dims: number[], data?: number[]) =>
    makeTensor(name, DT.FLOAT, dims, data ? Float32Array.from(data) : randomWeights(dims.reduce((a, b) => a * b, 1), dims[0]!, next));
  const i64 = (name: string, values: number[], dims = [values.length]) => makeTensor(name, DT.INT64, dims, new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer));
  const n = makeNode;
  const nodes = [
    n("ReduceMean", ["x"], ["mu"], "ln_mean", { axes: [-1] }),
    n("Sub", ["x", "mu"], ["xc"], "ln_center"),
    n("Mul", ["xc", "xc"], ["xc2"], "ln_square"),
    n("ReduceMean", ["xc2"], ["var"], "ln_var", { axes: [-1] }),
    n("Add", ["var", "eps"], ["var_eps"], "ln_eps"),
    n("Sqrt", ["var_eps"], ["std"], "ln_std"),
    n("Div", ["xc", "std"], ["xn"], "ln_norm"),
    n("Mul", ["xn", "gamma"], ["xg"], "ln_gamma"),
    n("Add", ["xg", "beta"], ["ln"], "ln_beta"),
    n("MatMul", ["ln", "wq"], ["q"], "q"),
    n("MatMul", ["ln", "wk"], ["k"], "k"),
    n("MatMul", ["ln", "wv"], ["v"], "v"),
    n("Transpose", ["k"], ["kt"], "kt", { perm: [0, 2, 1] }),
    n("MatMul", ["q", "kt"], ["qk"], "qk"),
    n("Mul", ["qk", "inv_sqrt_d"], ["scores"], "scale"),
    n("Equal", ["causal", "one"], ["mask"], "mask"),
    n("Where", ["mask", "scores", "neg_inf"], ["masked"], "where"),
    n("Softmax", ["masked"], ["probs"], "softmax", { axis: -1 }),
    n("MatMul", ["probs", "v"], ["attn"], "attn"),
    n("MatMul", ["attn", "wo"], ["proj"], "o"),
    n("Add", ["x", "proj"], ["x2"], "residual1"),
    n("MatMul", ["x2", "w1"], ["h"], "ffn_up"),
    n("Div", ["h", "sqrt2"], ["hs"], "gelu_scale"),
    n("Erf", ["hs"], ["erf"], "gelu_erf"),
    n("Add", ["erf", "onef"], ["erf1"], "gelu_add"),
    n("Mul", ["h", "erf1"], ["he"], "gelu_mul"),
    n("Mul", ["he", "half"], ["g"], "gelu_half"),
    n("MatMul", ["g", "w2"], ["ffn"], "ffn_down"),
    n("Add", ["x2", "ffn"], ["y_all"], "residual2"),
    n("Slice", ["y_all", "starts", "ends", "axes"], ["y"], "last_tokens"),
  ];
  const causal = Array.from({ length: T * T }, (_, i) => (Math.floor(i / T) >= i % T ? 1 : 0));
  const inits = [
    f("eps", [1], [1e-5]), f("gamma", [D], Array.from({ length: D }, () => 0.5 + next())), f("beta", [D], Array.from({ length: D }, () => next() - 0.5)),
    f("wq", [D, D]), f("wk", [D, D]), f("wv", [D, D]), f("wo", [D, D]), f("w1", [D, H]), f("w2", [H, D]),
    f("inv_sqrt_d", [1], [1 / Math.sqrt(D)]), i64("causal", causal, [T, T]), i64("one", [1]), f("neg_inf", [1], [-1e9]),
    f("sqrt2", [1], [Math.SQRT2]), f("onef", [1], [1]), f("half", [1], [0.5]),
    i64("starts", [1]), i64("ends", [T]), i64("axes", [1]),
  ];
  const g = makeGraph(nodes, "block", [makeValueInfo("x", DT.FLOAT, [1, T, D])], [makeValueInfo("y", DT.FLOAT, [1, T - 1, D])], inits);
  return makeModel(g, { "": 13 }, 8);
}

describe("a transformer block at opset 13", () => {
  const model = buildBlock();
  const next = rng(11);
  const x = floatTensor(Array.from({ length: T * D }, () => next() * 2 - 1), [1, T, D]);

  for (const [bits, opset, tolerance] of [[4, 21, 0.2], [2, 25, 0.6]] as const) {
    it(`quantizes all six weight matrices to ${bits} bits after lifting to opset ${opset}, and runs close to fp32`, async () => {
      const q = quantizeModel(model, { bits, block: 32 });
      expect(q.skipped).toEqual([]);
      expect(q.tensors.map((t) => t.name).sort()).toEqual(["w1", "w2", "wk", "wo", "wq", "wv"]);
      expect(defaultOpset(q.model)).toBe(opset);
      const ref = (await runReference(encodeModel(model), { x })).y!;
      const got = (await runReference(encodeModel(q.model), { x })).y!;
      expect(got.dims).toEqual([1, T - 1, D]);
      const { maxAbsDiff, maxAbsRef } = compareOutputs(got.data as Float32Array, ref.data as Float32Array);
      expect(maxAbsDiff / maxAbsRef).toBeLessThan(tolerance);
    });
  }
});
