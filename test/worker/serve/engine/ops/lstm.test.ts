// LSTM on the kernel engine against onnxruntime-node: every direction, batch 1 and 3, odd sizes, with and without
// B and initial states (constant or graph inputs), Y/Y_h/Y_c each compared (float32 within 1e-5 relative); int8 and
// int4 weights behind DequantizeLinear on the integer GEMMs within 3e-2; what the engine leaves to onnxruntime-web.
import { describe, expect, it } from "vitest";
import { decodeModel } from "@worker/onnx/codec";
import { kernelCoverage } from "@worker/serve/engine";
import { plainKernelModule } from "@test/support/kernels";
import { inputMaker } from "@test/support/op-graphs";
import { compareRecurrent, recurrentGraph, type RecurrentCase } from "@test/support/recurrent-graphs";

const { int } = inputMaker(20261202);
const odd = (lo: number, hi: number) => int(lo, hi) | 1;
const directions = ["forward", "reverse", "bidirectional"] as const;

describe("LSTM on the kernel engine against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    for (const direction of directions) {
      it(`${direction}, batch ${batch}: without B or initial states, then with B and constant, then run-time initial states`, async () => {
        const base = { op: "LSTM", batch, direction, seq: int(2, 7), I: odd(3, 21), H: odd(3, 15) } as const;
        await compareRecurrent({ ...base }, 1);
        await compareRecurrent({ ...base, bias: true, initial: "constant" }, 2);
        await compareRecurrent({ ...base, bias: true, initial: "live" }, 3);
      });
    }

    it(`clip, input_forget and peepholes, batch ${batch}`, async () => {
      const base = { op: "LSTM", batch, direction: "bidirectional", seq: 5, I: odd(3, 21), H: odd(3, 15), bias: true, initial: "live" } as const;
      await compareRecurrent({ ...base, attrs: { clip: { float: 0.7 } } }, 4);
      await compareRecurrent({ ...base, attrs: { input_forget: 1 } }, 5);
      await compareRecurrent({ ...base, peepholes: true }, 6);
    });

    it(`only some outputs named (Y_h alone, Y_c alone, Y and Y_c), batch ${batch}`, async () => {
      const base = { op: "LSTM", batch, direction: "reverse", seq: 4, I: odd(3, 21), H: odd(3, 15), bias: true } as const;
      await compareRecurrent({ ...base, outputs: [false, true, false] }, 7);
      await compareRecurrent({ ...base, outputs: [false, false, true] }, 8);
      await compareRecurrent({ ...base, outputs: [true, false, true] }, 9);
    });

    it(`int8 weights (per channel) behind DequantizeLinear run on the int8 GEMM, batch ${batch}`, async () => {
      for (const direction of directions) {
        const c: RecurrentCase = { op: "LSTM", batch, direction, seq: 5, I: odd(9, 41), H: odd(9, 33), bias: true, initial: "live", weights: "int8" };
        expect(await compareRecurrent(c, 10, 3e-2)).toBe("qs8");
      }
    });

    it(`int4 weights (blocks of 32) behind DequantizeLinear run on the int4 GEMM, batch ${batch}`, async () => {
      const c: RecurrentCase = { op: "LSTM", batch, direction: "bidirectional", seq: 4, I: odd(33, 71), H: odd(33, 45), bias: true, weights: "int4" };
      expect(await compareRecurrent(c, 11, 3e-2)).toBe("qs4");
    });
  }

  it("sequence_lens below the sequence length (constant or a graph input): Y zero past each row's end, Y_h/Y_c at its last step", async () => {
    for (const direction of directions) {
      await compareRecurrent({ op: "LSTM", batch: 3, direction, seq: 6, I: 7, H: 5, bias: true, initial: "live", sequenceLens: [6, 2, 4] }, 12);
      await compareRecurrent({ op: "LSTM", batch: 3, direction, seq: 5, I: 9, H: 7, sequenceLens: [1, 5, 3], lensLive: true }, 14);
    }
  });

  it("leaves batch-first layout, other activations and run-time weights to onnxruntime-web", () => {
    const graph = (c: Partial<RecurrentCase>) =>
      decodeModel(recurrentGraph({ op: "LSTM", batch: 1, direction: "forward", seq: 2, I: 3, H: 3, ...c }, 13).bytes);
    expect(kernelCoverage(graph({}), plainKernelModule)).toBeNull();
    expect(kernelCoverage(graph({ attrs: { layout: 1 } }), plainKernelModule)).toMatch(/layout 1/);
    const relu = graph({});
    const node = relu.graph!.node.find((n) => n.opType === "LSTM")!;
    const acts = structuredClone(node.attribute.find((a) => a.name === "direction")!);
    acts.name = "activations";
    acts.strings = ["Relu", "Tanh", "Tanh"].map((s) => new TextEncoder().encode(s) as Uint8Array<ArrayBuffer>);
    node.attribute.push(acts);
    expect(kernelCoverage(relu, plainKernelModule)).toMatch(/activations/);
  });
});
