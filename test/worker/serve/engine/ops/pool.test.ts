// MaxPool and AveragePool over 1-D windows ([N, C, L], as audio models pool), run as one row of the 2-D kernels,
// against onnxruntime-node within 1e-5 relative: strides, pads, dilations, ceil_mode and count_include_pad, batch 1
// and 3. (2-D pooling is in ops.test.ts.)
import { describe, it } from "vitest";
import { compare, graphOf, inputMaker, type Attr } from "@test/support/op-graphs";

const { int, live } = inputMaker(20261204);

describe("1-D pooling on the kernel engine against onnxruntime-node", () => {
  for (const batch of [1, 3]) {
    it(`MaxPool and AveragePool over [N, C, L] with strides, pads, ceil_mode and dilations, batch ${batch}`, async () => {
      const windows: Attr[] = [
        { kernel_shape: [2], strides: [2] },
        { kernel_shape: [3], strides: [2], pads: [1, 1] },
        { kernel_shape: [3], strides: [2], pads: [0, 1], ceil_mode: 1 },
        { kernel_shape: [5], strides: [1], auto_pad: "SAME_UPPER" },
        { kernel_shape: [4], strides: [3] },
      ];
      for (const attrs of windows) {
        const x = live("x", [batch, int(1, 6), int(9, 47)]);
        await compare(graphOf("MaxPool", [x], attrs, 3), [x]);
        await compare(graphOf("AveragePool", [x], attrs, 3), [x]);
        await compare(graphOf("AveragePool", [x], { ...attrs, count_include_pad: 1 }, 3), [x]);
      }
      const x = live("x", [batch, 3, int(12, 30)]);
      await compare(graphOf("MaxPool", [x], { kernel_shape: [3], dilations: [2] }, 3), [x]);
    });
  }
});
