// GRU on the kernel engine against onnxruntime-node: every direction, linear_before_reset 0 and 1, batch 1 and 3,
// odd sizes, with and without B and initial states (constant or graph inputs), Y/Y_h each compared (float32 within
// 1e-5 relative); int8 and int4 weights behind DequantizeLinear on the integer GEMMs within 3e-2.
import { describe, expect, it } from "vitest";
import { decodeModel } from "@worker/onnx/codec";
import { kernelCoverage } from "@worker/serve/engine";
import { plainKernelModule } from "@test/support/kernels";
import { inputMaker } from "@test/support/op-graphs";
import { compareRecurrent, recurrentGraph, type RecurrentCase } from "@test/support/recurrent-graphs";

const { int } = inputMaker(20261203);
const odd = (lo: number, hi: number) => int(lo, hi) | 1;
const directions = ["forward", "reverse", "bidirectional"] as const;

describe("GRU on the kernel engine against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    for (const lbr of [0, 1]) {
      for (const direction of directions) {
        it(`${direction}, linear_before_reset ${lbr}, batch ${batch}: without B or initial state, then with B and a constant, then a run-time one`, async () => {
          const base = { op: "GRU", batch, direction, seq: int(2, 7), I: odd(3, 21), H: odd(3, 15), attrs: { linear_before_reset: lbr } } as const;
          await compareRecurrent({ ...base }, 1);
          await compareRecurrent({ ...base, bias: true, initial: "constant" }, 2);
          await compareRecurrent({ ...base, bias: true, initial: "live" }, 3);
        });
      }

      it(`clip and only some outputs named, linear_before_reset ${lbr}, batch ${batch}`, async () => {
        const base = { op: "GRU", batch, direction: "bidirectional", seq: 5, I: odd(3, 21), H: odd(3, 15), bias: true, initial: "live" } as const;
        await compareRecurrent({ ...base, attrs: { linear_before_reset: lbr, clip: { float: 0.6 } } }, 4);
        await compareRecurrent({ ...base, attrs: { linear_before_reset: lbr }, outputs: [false, true] }, 5);
        await compareRecurrent({ ...base, attrs: { linear_before_reset: lbr }, outputs: [true, false] }, 6);
      });

      it(`int8 weights (per channel) behind DequantizeLinear run on the int8 GEMM, linear_before_reset ${lbr}, batch ${batch}`, async () => {
        for (const direction of directions) {
          const c: RecurrentCase = {
            op: "GRU", batch, direction, seq: 5, I: odd(9, 41), H: odd(9, 33), bias: true, initial: "live", weights: "int8", attrs: { linear_before_reset: lbr },
          };
          expect(await compareRecurrent(c, 7, 3e-2)).toBe("qs8");
        }
      });

      it(`int4 weights (blocks of 32) behind DequantizeLinear run on the int4 GEMM, linear_before_reset ${lbr}, batch ${batch}`, async () => {
        const c: RecurrentCase = {
          op: "GRU", batch, direction: "bidirectional", seq: 4, I: odd(33, 71), H: odd(33, 45), bias: true, weights: "int4", attrs: { linear_before_reset: lbr },
        };
        expect(await compareRecurrent(c, 8, 3e-2)).toBe("qs4");
      });
    }
  }

  it("sequence_lens below the sequence length (constant or a graph input): Y zero past each row's end, Y_h at its last step", async () => {
    for (const lbr of [0, 1])
      for (const direction of directions) {
        const c: RecurrentCase = { op: "GRU", batch: 3, direction, seq: 6, I: 7, H: 5, bias: true, initial: "live", sequenceLens: [3, 6, 1], attrs: { linear_before_reset: lbr } };
        await compareRecurrent(c, 9);
        await compareRecurrent({ ...c, sequenceLens: [2, 1, 6], lensLive: true, initial: "none" }, 10);
      }
  });

  it("leaves batch-first layout and non-default activations to onnxruntime-web", () => {
    const base: RecurrentCase = { op: "GRU", batch: 1, direction: "bidirectional", seq: 2, I: 3, H: 3 };
    expect(kernelCoverage(decodeModel(recurrentGraph(base, 11).bytes), plainKernelModule)).toBeNull();
    expect(kernelCoverage(decodeModel(recurrentGraph({ ...base, attrs: { layout: 1 } }, 11).bytes), plainKernelModule)).toMatch(/layout 1/);
    const model = decodeModel(recurrentGraph(base, 11).bytes);
    const node = model.graph!.node.find((n) => n.opType === "GRU")!;
    const acts = structuredClone(node.attribute.find((a) => a.name === "direction")!);
    acts.name = "activations";
    // The defaults for the forward direction, then others for the reverse one.
    acts.strings = ["Sigmoid", "Tanh", "HardSigmoid", "Tanh"].map((s) => new TextEncoder().encode(s) as Uint8Array<ArrayBuffer>);
    node.attribute.push(acts);
    expect(kernelCoverage(model, plainKernelModule)).toMatch(/activations/);
  });
});
