// InstanceNormalization against onnxruntime-node within 1e-5 relative: 1-D and 2-D planes at odd sizes, batch 1 and
// 3, and GroupNorm as torch.onnx writes it (Reshape to [N, groups, -1], InstanceNormalization with unit scale and zero
// shift, Reshape back, then the per-channel Mul and Add).
import { describe, it } from "vitest";
import type { TensorProto } from "onnx-buf";
import { makeGraph, makeModel, makeNode, makeValueInfo } from "@worker/onnx/builders";
import { encodeModel } from "@worker/onnx/codec";
import { DT } from "@worker/onnx/dtype";
import { makeTensor } from "@worker/onnx/tensor";
import { compare, graphOf, inputMaker } from "@test/support/op-graphs";

const { int, live, constF, constI64 } = inputMaker(20261205);
const constantOf = (i: ReturnType<typeof constF>) => (i as { constant: TensorProto }).constant;

describe("InstanceNormalization on the kernel engine against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`normalizes each (image, channel) plane of [N, C, L] and [N, C, H, W] with its scale and shift, batch ${batch}`, async () => {
      for (const spatial of [[int(5, 40)], [int(3, 9), int(3, 11)], [1, 1]]) {
        const C = int(1, 7);
        const ins = [live("x", [batch, C, ...spatial]), constF("scale", [C]), constF("b", [C])];
        await compare(graphOf("InstanceNormalization", ins, { epsilon: 1e-3 }, 2 + spatial.length), ins);
      }
    });

    it(`runs GroupNorm as torch.onnx writes it, batch ${batch}`, async () => {
      const [G, Cg, H, W] = [int(2, 4), int(2, 5), int(3, 9), int(3, 9)];
      const C = G * Cg;
      const x = live("x", [batch, C, H, W]);
      const graph = makeGraph(
        [
          makeNode("Reshape", ["x", "grouped"], ["g"], "to-groups"),
          makeNode("InstanceNormalization", ["g", "ones", "zeros"], ["n"], "norm", { epsilon: 1e-5 }),
          makeNode("Reshape", ["n", "back"], ["r"], "back-to-channels"),
          makeNode("Mul", ["r", "gamma"], ["m"], "gamma"),
          makeNode("Add", ["m", "beta"], ["y"], "beta"),
        ],
        "groupnorm",
        [makeValueInfo("x", DT.FLOAT, [batch, C, H, W])],
        [makeValueInfo("y", DT.FLOAT, [null, null, null, null])],
        [
          constantOf(constI64("grouped", [batch, G, -1])),
          constantOf(constI64("back", [batch, C, H, W])),
          makeTensor("ones", DT.FLOAT, [G], new Float32Array(G).fill(1)),
          makeTensor("zeros", DT.FLOAT, [G], new Float32Array(G)),
          constantOf(constF("gamma", [C, 1, 1])),
          constantOf(constF("beta", [C, 1, 1])),
        ],
      );
      await compare(encodeModel(makeModel(graph)), [x]);
    });
  }
});
